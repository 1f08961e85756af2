"""Which workspace shows, and which generator the Generate panel offers there.

The tabs follow the generator: choosing an audio generator shows the Audio tab. The panel
follows the tabs: on the Audio tab it offers an audio generator (the one last chosen there,
else the built-in one, else any of that kind).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTabWidget, QWidget

from studio.core.engine.generators import Generator

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

#: The workspaces in tab order, by the kind of generator that writes into each.
WORKSPACES = ("image", "text", "audio")
#: What the Generate panel offers on a workspace the first time: its built-in generator.
BUILT_IN_GENERATORS = {"image": "cppn", "text": "shakespeare", "audio": "chorale"}


def workspace_tabs(canvas: QWidget, text: QWidget, audio: QWidget) -> QTabWidget:
    """The window's centre: one tab per workspace, in the order of ``WORKSPACES``."""
    tabs = QTabWidget()
    tabs.setObjectName("workspaces")
    tabs.setDocumentMode(True)
    tabs.addTab(canvas, "Canvas")
    tabs.addTab(text, "Text")
    tabs.addTab(audio, "Audio")
    return tabs


class WorkspaceTabs(QObject):
    """Keeps the shown tab and the Generate panel's generator of the same kind."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self._chosen: dict[str, str] = {}  # workspace kind -> the generator last chosen there
        panel = window.generate_panel
        panel.generator_changed.connect(self.show_workspace_for)
        panel.generator_changed.connect(lambda g: self._chosen.__setitem__(g.kind, g.id))
        window.tabs.currentChanged.connect(self._offer_generator_for_workspace)

    def show_workspace_for(self, generator: Generator) -> None:
        self.window.tabs.setCurrentIndex(WORKSPACES.index(generator.kind))

    def _offer_generator_for_workspace(self) -> None:
        """On the Audio tab the Generate panel offers an audio generator, and so on: the one
        last chosen there, else the built-in one, else any of that kind."""
        window = self.window
        kind = WORKSPACES[window.tabs.currentIndex()]
        current = window.generate_panel.current()
        if current is None or current.kind == kind:
            return
        of_kind = sorted(g.id for g in window.host.generators.values() if g.kind == kind)
        for generator_id in [self._chosen.get(kind, ""), BUILT_IN_GENERATORS[kind], *of_kind]:
            if generator_id in of_kind:
                window.generate_panel.select(generator_id)
                return
