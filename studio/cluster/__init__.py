"""Render nodes: Studio's generators on a Ray cluster (the ``cluster`` extra).

Studio's process (no Ray): ``address`` says where the cluster is; ``client`` starts the gateway
and is the cluster device's runner. The gateway, a child process and the only Ray driver
(``gateway``): ``connection`` joins the cluster and starts one worker per GPU (per node where a
node has none); ``executor`` runs one job on a worker and passes its events back; ``folders``
sends a model folder a node cannot see; ``report`` is what ``studio doctor`` says. On the nodes:
``worker``, the Ray actor that runs the same plugins with the same runtime as Studio.
"""
