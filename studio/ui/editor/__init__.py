"""The Text workspace for writers: the editor, its find/rewrite bars and highlighter.

``workspace`` puts it together (font, theme, what a generation reads, the generated spans);
``generations`` streams generated text in as one undo step; ``text_files`` opens and saves.
"""

from studio.ui.editor.workspace import TextWorkspace

__all__ = ["TextWorkspace"]
