"""The Canvas workspace: a layered picture to paint on, select in and generate into.

``workspace`` puts it together and holds its state, with its edits in ``layer_edits``,
``selection_edits``, ``canvas_size_edits`` and ``picture_files`` (open, import, drop);
``view`` draws and zooms; ``tools`` turn gestures into edits; ``commands`` are the undo
steps; ``layers_panel``, ``tool_options``, ``reuse_bar``, ``elided_label`` and ``dialogs``
are the controls around it. The picture itself is ``studio.core.image.document.ImageDocument``.
"""

from studio.ui.canvas.view import CanvasView
from studio.ui.canvas.workspace import CanvasWorkspace

__all__ = ["CanvasView", "CanvasWorkspace"]
