"""Studio's resources: icons, themes and the embedded default models (``models/<id>/``).

A package only so that the files travel inside the wheel; ``studio.core.paths`` finds them.
"""
