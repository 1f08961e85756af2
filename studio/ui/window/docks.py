"""The window's docks, their default layout, Reset layout, and the layout remembered.

Default (Krita's): one column on the right, so the picture, text or timeline gets the rest
of the window. Generate on top; under it Tool options, Jobs and History as tabs; Layers at
the bottom, or among the tabs (first) in a window too short for three rows of panels. Every dock closes, floats, moves and tabs; View ▸ Panels brings each back and
View ▸ Reset layout puts them all back where they started. The layout (Qt's
``saveState``/``saveGeometry``) is kept in Studio's settings when the window closes and
taken back at the next start, unless it was written by another dock set (another version)
or for a screen it no longer fits.

The Tool options, Layers and Explorer docks belong to the canvas (the Explorer a tab beside
Generate): they show on the Canvas tab only, and
hiding one there (its close button, or View ▸ Panels) is remembered apart from the tab
switches that hide it. The Story dock (tabbed with Generate) and the Context dock (among the
tabs under it) belong to the text the same way: they show on the Text tab only, in front the
first time it is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from studio.errors import StudioError
from studio.ui.window.screen_fit import fits_screen, prefer_width

if TYPE_CHECKING:
    from studio.settings import Settings

#: Bumped whenever the set of docks or their names change: an older saved layout is then ignored.
LAYOUT_VERSION = 5
#: The right column's width where the screen has room, and its most of a smaller screen's width
#: (321 px of 1366: the canvas keeps 60 % of a laptop's window, results strip and all).
COLUMN_WIDTH = 340
COLUMN_SHARE = 0.235
#: From this window height Layers gets a place of its own under the tabs; below it, a tab.
ROOMY_HEIGHT = 900
#: The shares of the column's height: Generate, the tabs under it, Layers (a place of its own),
#: and Generate, the tabs (Layers among them).
HEIGHT_SHARES = (0.44, 0.27, 0.29)
HEIGHT_SHARES_TABBED = (0.55, 0.45)
STATE_KEY, GEOMETRY_KEY, HIDDEN_KEY = "window/state", "window/geometry", "window/canvas_docks_hidden"
RIGHT = Qt.DockWidgetArea.RightDockWidgetArea


class Docks(QObject):
    """The window's docks, laid out, reset, shown per tab and remembered."""

    def __init__(self, window: QMainWindow, generate: QWidget, tool_options: QWidget, layers: QWidget, jobs: QWidget, history: QWidget,
                 story: QWidget, context: QWidget, explorer: QWidget) -> None:
        super().__init__(window)
        self.window = window
        window.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks | QMainWindow.DockOption.AllowNestedDocks)
        window.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)  # tabs on top, as Krita's
        self.generate = make_dock(window, "Generate", generate)
        self.tool_options = make_dock(window, "Tool options", scrolled(tool_options))
        self.jobs = make_dock(window, "Jobs", jobs)
        self.history = make_dock(window, "History", history)
        self.layers = make_dock(window, "Layers", layers)
        self.story = make_dock(window, "Story", story)
        self.context = make_dock(window, "Context", context)
        self.explorer = make_dock(window, "Explorer", scrolled(explorer))
        self.all = (self.generate, self.tool_options, self.jobs, self.history, self.layers, self.story, self.context, self.explorer)
        self.canvas_docks = (self.tool_options, self.layers, self.explorer)
        self.text_docks = (self.story, self.context)
        self.on_canvas = True  # the Canvas tab is shown: the canvas's docks may be
        self.on_text = False  # the Text tab is shown: the text's docks may be
        self._text_docks_fronted = False  # brought in front of their tabs the first time the Text tab shows
        self._even_text_column = False  # the default layout: Story and Context then share the column evenly
        self.hidden: set[str] = set()  # the canvas and text docks the user closed (object names)
        for dock in self.canvas_docks + self.text_docks:
            dock.installEventFilter(self)  # its close button: the user's choice
            dock.toggleViewAction().triggered.connect(lambda shown, d=dock: self._chosen(d, shown))

    def arrange(self) -> None:
        """The default layout: the right column, Generate above Tool options | Jobs | History,
        above Layers."""
        window = self.window
        for dock in self.all:  # out of wherever the user put them (re-adding one in place leaves a stale tab bar)
            dock.setFloating(False)
            window.removeDockWidget(dock)
        for dock in self.all:
            window.addDockWidget(RIGHT, dock)
        height = max(400, window.height())
        roomy = height >= ROOMY_HEIGHT
        if roomy:  # Layers in a place of its own at the bottom
            window.splitDockWidget(self.generate, self.tool_options, Qt.Orientation.Vertical)
            window.splitDockWidget(self.tool_options, self.layers, Qt.Orientation.Vertical)
        else:  # a laptop's height: Layers is the first of the tabs
            window.splitDockWidget(self.generate, self.layers, Qt.Orientation.Vertical)
            window.tabifyDockWidget(self.layers, self.tool_options)
        window.tabifyDockWidget(self.tool_options, self.jobs)
        window.tabifyDockWidget(self.jobs, self.history)
        window.tabifyDockWidget(self.history, self.context)
        window.tabifyDockWidget(self.generate, self.story)
        window.tabifyDockWidget(self.story, self.explorer)  # as tall as Generate: its grid and strips need the room
        for dock in self.all:
            dock.show()
        front = self.tool_options if roomy else self.layers
        for dock in (front, self.generate):
            dock.raise_()
            QTimer.singleShot(0, dock.raise_)  # once the tab bar exists
        self._text_docks_fronted = False
        self._even_text_column = True
        screen = window.screen()
        room = screen.availableGeometry().width() if screen is not None else 0
        prefer_width(window, self.generate, min(COLUMN_WIDTH, max(int(room * COLUMN_SHARE), 0) or COLUMN_WIDTH))
        column, shares = ([self.generate, self.tool_options, self.layers], HEIGHT_SHARES) if roomy else ([self.generate, self.layers], HEIGHT_SHARES_TABBED)
        window.resizeDocks(column, [int(height * share) for share in shares], Qt.Orientation.Vertical)
        self._show_workspace_docks()

    def reset(self) -> None:
        """View ▸ Reset layout: every dock back in the default layout, shown."""
        self.hidden.clear()
        self.arrange()

    def show_jobs(self) -> None:
        """The Jobs panel brought forward (shown again if it was closed)."""
        self.jobs.show()
        self.jobs.raise_()

    def panel_actions(self) -> list[QAction]:
        """One checkable entry per dock (Qt's own toggle), named as the dock is."""
        return [dock.toggleViewAction() for dock in self.all]

    # -- the canvas's docks follow the Canvas tab ---------------------------------------------------

    def show_for_workspace(self, on_canvas: bool, on_text: bool = False) -> None:
        self.on_canvas, self.on_text = on_canvas, on_text
        self._show_workspace_docks()

    def show_context(self) -> None:
        """Text ▸ Show context: the Context dock shown (again, if it was closed) and in front."""
        self.hidden.discard(self.context.objectName())
        self.context.show()
        self.context.raise_()

    def _show_workspace_docks(self) -> None:
        for docks, shown in ((self.canvas_docks, self.on_canvas), (self.text_docks, self.on_text)):
            for dock in docks:
                dock.setVisible(shown and dock.objectName() not in self.hidden)
        if self.on_text and not self._text_docks_fronted:
            self._text_docks_fronted = True
            for dock in self.text_docks:
                if dock.isVisible():
                    QTimer.singleShot(0, dock.raise_)  # once its tab is back in the bar
            if self._even_text_column:  # the Context view's parts need the room more than Generate's form
                half = max(400, self.window.height()) // 2
                QTimer.singleShot(0, lambda: self.window.resizeDocks(list(self.text_docks), [half, half], Qt.Orientation.Vertical))

    def _chosen(self, dock: QDockWidget, shown: bool) -> None:
        (self.hidden.discard if shown else self.hidden.add)(dock.objectName())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched in self.canvas_docks + self.text_docks and event.type() == QEvent.Type.Close:
            self.hidden.add(watched.objectName())
        return False

    # -- remembered across launches -------------------------------------------------------------

    def restore(self, settings: "Settings") -> bool:
        """Take back the layout saved at the last close; False when there is none, it was saved
        by another dock set, or its window does not fit this screen (then ``arrange``)."""
        state, geometry = settings.value(STATE_KEY), settings.value(GEOMETRY_KEY)
        if not isinstance(state, QByteArray) or not isinstance(geometry, QByteArray):
            return False
        window = self.window
        before = window.saveGeometry()
        if not window.restoreGeometry(geometry) or not fits_screen(window):
            window.restoreGeometry(before)
            return False
        # Every dock in the window, for the state to move, but none tabbed yet: tabs made here
        # and remade by restoreState left a stale tab bar over the menus at the next start.
        for dock in self.all:
            window.addDockWidget(RIGHT, dock)
        if not window.restoreState(state, LAYOUT_VERSION):  # another version's, or not a state at all
            window.restoreGeometry(before)
            return False
        hidden = settings.value(HIDDEN_KEY, "")
        self.hidden = {name for name in str(hidden or "").split(",") if name in {d.objectName() for d in self.canvas_docks + self.text_docks}}
        self._show_workspace_docks()
        return True

    def save(self, settings: "Settings") -> None:
        """Keep the layout for the next start; a settings file that cannot be written is not a
        reason to keep the window from closing."""
        try:
            settings.set_value(STATE_KEY, self.window.saveState(LAYOUT_VERSION))
            settings.set_value(GEOMETRY_KEY, self.window.saveGeometry())
            settings.set_value(HIDDEN_KEY, ",".join(sorted(self.hidden)))
        except (OSError, StudioError):
            pass


def scrolled(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area: a dock as short as a small screen leaves it
    scrolls, instead of making the window taller than the screen."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    holder = QWidget()  # the widget at its own height, the spare room under it
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(widget)
    column.addStretch(1)
    area.setWidget(holder)
    return area


def make_dock(window: QMainWindow, title: str, widget: QWidget) -> QDockWidget:
    """A dock that closes, moves, floats and tabs, found by its object name ``dock_<title>``
    (the name ``saveState`` keys it by)."""
    dock = QDockWidget(title, window)
    dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
    dock.setWidget(widget)
    dock.setFeatures(
        QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
    )
    dock.toggleViewAction().setText(title)
    return dock
