"""The generator engine: the generator contract, jobs and their runner, device queues, onnxruntime sessions.

Also the one door to onnxruntime (``onnx_import``) and the safety check of every ONNX file a session opens.
"""
