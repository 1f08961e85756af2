"""The canvas document as plain numpy data: layers, paint, selection, geometry, canvas size, canvas inputs."""
