"""Render nodes: Studio's generators on a Ray cluster (the ``cluster`` extra).

``address`` says where the cluster is; ``connection`` joins it and starts one worker per GPU
(per node where a node has none); ``worker`` is that Ray actor, which runs the same plugins
with the same runtime as this process; ``executor`` runs one job on it and streams the events
back; ``folders`` sends a model folder the nodes cannot see; ``report`` is what ``studio doctor``
says. Nothing here is imported until the cluster device is used: Studio without Ray works as before.
"""
