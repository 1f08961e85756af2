"""The Canvas workspace: a layered picture to paint on, select in and generate into.

``workspace`` puts it together; ``view`` draws and zooms; ``tools`` turn gestures into
edits; ``commands`` are the undo steps; ``layers_panel``, ``tool_options`` and ``dialogs``
are the controls around it. The picture itself is ``studio.core.image.ImageDocument``.
"""

from studio.ui.canvas.view import CanvasView
from studio.ui.canvas.workspace import CanvasWorkspace

__all__ = ["CanvasView", "CanvasWorkspace"]
