"""The Text workspace for writers: the editor, its find/rewrite bars and highlighter."""

from studio.ui.editor.workspace import TextWorkspace

__all__ = ["TextWorkspace"]
