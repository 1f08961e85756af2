"""The menu bar: every menu and its entries, and which entries work on which tab.

An entry that works on one workspace (Delete on the canvas, Find in the text, Play on the
timeline) is enabled only while that workspace's tab is shown, so the keys it shares with
another workspace's entry never reach into the wrong one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

from studio.ui.editor.workspace import THEMES
from studio.ui.models.model_actions import ModelActions
from studio.ui.slots import connect_command
from studio.ui.window.text_generation import EXPAND, SUMMARISE
from studio.ui.window.upscale_refine import UpscaleRefine

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

#: The Audio menu: the timeline's own actions by name, "" for a separator.
AUDIO_ENTRIES = ("play", "stop", "loop", "", "add_track", "import", "import_midi", "export_mix", "export_midi", "export_arrangement_midi", "edit_notes", "", "split", "duplicate", "delete", "", "add_marker", "previous_marker", "next_marker", "", "snap", "zoom_in", "zoom_out", "zoom_fit")


class WindowMenus:
    """Builds the window's menu bar and enables each workspace's entries on its tab only."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        self.canvas_actions: list[QAction] = []
        self.text_actions: list[QAction] = []
        self.audio_actions: list[QAction] = []
        self.models = ModelActions(window)  # the Models window, the Download dialog, downloads
        bar = window.menuBar()
        self._file_menu(bar)
        self._edit_menu(bar)
        self._text_menu(bar)
        self._story_entries(bar)
        self._image_menu(bar)
        self._layer_menu(bar)
        self._view_menu(bar)
        self._audio_menu(bar)
        self._models_menu(bar)
        self._tools_and_help_menus(bar)

    def enable_for_current_tab(self) -> None:
        current = self.window.tabs.currentWidget()
        for workspace, actions in ((self.window.canvas, self.canvas_actions), (self.window.text, self.text_actions), (self.window.audio, self.audio_actions)):
            for action in actions:  # an entry that says why it cannot work now stays greyed
                action.setEnabled(current is workspace and not action.property("unavailable"))

    # -- the menus ---------------------------------------------------------------------------

    def _file_menu(self, bar: QMenuBar) -> None:
        window, project, files = self.window, self.window.project, self.window.files
        menu = bar.addMenu("&File")
        self._action(menu, "&New project", project.new, QKeySequence.StandardKey.New)
        self._action(menu, "&Open project…", lambda: project.open(), QKeySequence.StandardKey.Open)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(lambda: project.fill_recent_menu(self.recent_menu))
        self._action(menu, "&Save project", project.save, QKeySequence.StandardKey.Save)
        self._action(menu, "Save project &as…", project.save_as, QKeySequence("Ctrl+Shift+S"))
        menu.addSeparator()
        self._canvas_action(menu, "Open &image…", files.open_image)
        self._canvas_action(menu, "&Import image as layer…", files.import_image, QKeySequence("Ctrl+Shift+O"))
        self._canvas_action(menu, "&Export image…", files.export_image, QKeySequence("Ctrl+E"))
        self._text_action(menu, "Open &text file…", files.open_text)
        self._text_action(menu, "Export &text…", files.save_text_as)
        menu.addSeparator()
        self.import_model_action = self._action(menu, "Im&port model…", lambda: self.models.open_import_dialog())
        self.add_model_folder_action = self._action(menu, "Add &model folder…", self.models.add_model_folder)
        menu.addSeparator()
        self._action(menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)

    def _edit_menu(self, bar: QMenuBar) -> None:
        window, canvas, text = self.window, self.window.canvas, self.window.text
        menu = bar.addMenu("&Edit")
        undo = window.undo_stack.createUndoAction(window, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = window.undo_stack.createRedoAction(window, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        menu.addAction(undo)
        menu.addAction(redo)
        menu.addSeparator()
        # The canvas's clipboard entries: the text editor's Ctrl+X/C/V work on the Text tab,
        # where these are disabled.
        self._canvas_action(menu, "Cu&t", canvas.cut, QKeySequence.StandardKey.Cut)
        self._canvas_action(menu, "C&opy", canvas.copy, QKeySequence.StandardKey.Copy)
        self._canvas_action(menu, "Copy mer&ged", canvas.copy_merged, QKeySequence("Ctrl+Shift+C"))
        self._canvas_action(menu, "&Paste", canvas.paste, QKeySequence.StandardKey.Paste)
        menu.addSeparator()
        self._canvas_action(menu, "Select &all", canvas.select_all, QKeySequence.StandardKey.SelectAll)
        self._canvas_action(menu, "&Deselect", canvas.deselect, QKeySequence("Ctrl+Shift+A"))
        self._canvas_action(menu, "&Invert selection", canvas.invert_selection, QKeySequence("Ctrl+Shift+I"))
        menu.addSeparator()
        self._canvas_action(menu, "&Fill selection with the brush colour", canvas.fill_selection, QKeySequence("Shift+Backspace"))
        self._canvas_action(menu, "&Clear selection", canvas.clear_selection, QKeySequence.StandardKey.Delete)
        menu.addSeparator()
        self._canvas_action(menu, "&Mask from selection", canvas.mask_from_selection)
        self._canvas_action(menu, "Clear &mask", canvas.clear_mask, QKeySequence("Ctrl+Shift+K"))
        self._text_action(menu, "&Find…", lambda: text.find_bar.open_bar(), QKeySequence.StandardKey.Find)
        self._text_action(menu, "Find and &replace…", lambda: text.find_bar.open_bar(replace=True), QKeySequence("Ctrl+H"))
        self._text_action(menu, "Find &next", lambda: text.find_bar.find_next(), QKeySequence.StandardKey.FindNext)

    def _text_menu(self, bar: QMenuBar) -> None:
        window, text, writing = self.window, self.window.text, self.window.writing
        # The editor claims Ctrl+Enter and Esc itself (the Generate panel owns Ctrl+Enter
        # window-wide); the menu only names them.
        menu = bar.addMenu("&Text")
        self._text_action(menu, "&Continue at the cursor\tCtrl+Enter", writing.continue_text)
        self._text_action(menu, "&Stop\tEsc", writing.stop_text)
        self._text_action(menu, "&Retry (new seed)", writing.retry_text, QKeySequence("Ctrl+R"))
        self._text_action(menu, "&Previous take", lambda: text.step_take(-1), QKeySequence("Alt+Left"))
        self._text_action(menu, "&Next take", lambda: text.step_take(+1), QKeySequence("Alt+Right"))
        menu.addSeparator()
        menu.setToolTipsVisible(True)  # a greyed entry says why
        writing.watch_instruction_actions(menu, [  # need a chat model: greyed with the reason otherwise
            self._action(menu, "Re&write selection…", writing.open_rewrite, QKeySequence("Ctrl+Shift+R"), "Rewrite the selection following your instruction"),
            self._action(menu, "&Expand selection", lambda: writing.rewrite_text(EXPAND), None, "Rewrite the selection longer, with more detail"),
            self._action(menu, "Su&mmarise selection", lambda: writing.rewrite_text(SUMMARISE), None, "Rewrite the selection as a short summary"),
        ])
        window.media.add_entries(menu, self._text_action)  # Illustrate selection, Score this scene
        menu.addSeparator()
        self._text_action(menu, "&Font…", window.dialogs.choose_text_font)
        themes = menu.addMenu("&Theme")
        group = QActionGroup(window)
        for name in THEMES:
            action = self._text_action(themes, name.capitalize(), lambda checked=False, n=name: text.set_theme(n))
            action.setCheckable(True)
            action.setChecked(name == text.theme)
            group.addAction(action)

    def _story_entries(self, bar: QMenuBar) -> None:
        """Text ▸ Show context, at the end of the Text menu; the Story and Context docks' View
        entries work on the Text tab only, as the canvas docks' on the Canvas tab."""
        docks = self.window.docks
        menu = next(a.menu() for a in bar.actions() if a.text() == "&Text")
        menu.addSeparator()
        self._text_action(menu, "Show &context", docks.show_context)
        self.text_actions.extend(dock.toggleViewAction() for dock in docks.text_docks)

    def _image_menu(self, bar: QMenuBar) -> None:
        dialogs = self.window.dialogs
        menu = bar.addMenu("&Image")
        self._canvas_action(menu, "&Canvas size…", dialogs.change_canvas_size, QKeySequence("Ctrl+Alt+C"))
        self._canvas_action(menu, "&Resize image…", dialogs.resize_image, QKeySequence("Ctrl+Alt+I"))
        self._canvas_action(menu, "&Extend canvas for outpainting…", dialogs.extend_canvas)
        self._canvas_action(menu, "&Upscale and refine…", UpscaleRefine(self.window).open_dialog)
        self._canvas_action(menu, "Cro&p to selection", self.window.canvas.crop_to_selection)

    def _layer_menu(self, bar: QMenuBar) -> None:
        canvas = self.window.canvas
        menu = bar.addMenu("&Layer")
        self._canvas_action(menu, "&New layer", canvas.new_layer, QKeySequence("Ctrl+Shift+N"))
        self._canvas_action(menu, "&Duplicate layer", canvas.duplicate_layer, QKeySequence("Ctrl+J"))
        self._canvas_action(menu, "Delete layer", canvas.delete_layer)
        menu.addSeparator()
        self._canvas_action(menu, "Move layer &up", lambda: canvas.shift_layer(+1), QKeySequence("Ctrl+]"))
        self._canvas_action(menu, "Move layer do&wn", lambda: canvas.shift_layer(-1), QKeySequence("Ctrl+["))
        menu.addSeparator()
        self._canvas_action(menu, "&Merge down", canvas.merge_down, QKeySequence("Ctrl+Shift+E"))
        self._canvas_action(menu, "&Flatten image", canvas.flatten_image)
        menu.addSeparator()
        self._canvas_action(menu, "Free &transform\tT", lambda: canvas.set_tool("transform"))  # T: the tool's own key
        self._canvas_action(menu, "Flip &horizontal", lambda: canvas.flip_layer(horizontal=True))
        self._canvas_action(menu, "Flip &vertical", lambda: canvas.flip_layer(horizontal=False))
        self._canvas_action(menu, "Rotate 90° &clockwise", lambda: canvas.rotate_layer(clockwise=True))
        self._canvas_action(menu, "Rotate 90° &anticlockwise", lambda: canvas.rotate_layer(clockwise=False))
        menu.addSeparator()
        self._canvas_action(menu, "&Reuse parameters", lambda: canvas.reuse_layer(canvas.active_layer))

    def _view_menu(self, bar: QMenuBar) -> None:
        canvas = self.window.canvas
        menu = bar.addMenu("&View")
        self._canvas_action(menu, "Zoom &in", lambda: canvas.view.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self._canvas_action(menu, "Zoom &out", lambda: canvas.view.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self._canvas_action(menu, "&Fit in window", canvas.view.fit, QKeySequence("Ctrl+0"))
        self._canvas_action(menu, "&Actual pixels (100 %)", canvas.view.actual_size, QKeySequence("Ctrl+1"))
        # The panels: Qt's own show/hide entry of each dock (checked while it is open).
        menu.addSection("Panels")
        docks = self.window.docks
        for action in docks.panel_actions():
            menu.addAction(action)
        self.canvas_actions.extend(dock.toggleViewAction() for dock in docks.canvas_docks)  # the canvas's own
        self._action(menu, "&Reset layout", docks.reset)

    def _audio_menu(self, bar: QMenuBar) -> None:
        menu = bar.addMenu("&Audio")
        for name in AUDIO_ENTRIES:
            if not name:
                menu.addSeparator()
                continue
            action = self.window.audio.actions_by_name[name]  # its keys work inside the Audio workspace
            menu.addAction(action)
            self.audio_actions.append(action)
        menu.addSeparator()
        self.continue_clip_action = menu.addAction("Generators &continue the selected clip")
        self.continue_clip_action.setCheckable(True)
        self.continue_clip_action.setChecked(True)
        self.continue_clip_action.setToolTip(
            "A generator that takes an audio prompt continues the selected clip; with this off, or no clip "
            "selected, it starts from silence"
        )
        self.audio_actions.append(self.continue_clip_action)

    def _models_menu(self, bar: QMenuBar) -> None:
        """Every model Studio knows, and getting more: the catalogue, any hub repository, an import, a folder."""
        models = self.models
        menu = bar.addMenu("&Models")
        self._action(menu, "&Models…", models.open_models_window, QKeySequence("Ctrl+Shift+M"))
        self._action(menu, "&Download model…", models.open_download_dialog)
        menu.addAction(self.import_model_action)  # the File menu's entries, in both places
        menu.addAction(self.add_model_folder_action)

    def _tools_and_help_menus(self, bar: QMenuBar) -> None:
        window, dialogs = self.window, self.window.dialogs
        tools = bar.addMenu("&Tools")
        self._action(tools, "&Plugins…", dialogs.show_plugins)
        self._action(tools, "&Settings…", dialogs.show_settings, QKeySequence.StandardKey.Preferences)
        self._action(tools, "Cancel all jobs", window.host.runner.cancel_all, QKeySequence("Ctrl+."))
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Runtime report", dialogs.show_runtime_report)
        self._action(help_menu, "&About Studio", dialogs.show_about)

    # -- entries -----------------------------------------------------------------------------

    def _canvas_action(self, menu: QMenu, text: str, slot: Callable[[], Any], shortcut=None) -> QAction:
        """A menu entry that works on the canvas: enabled only while the Canvas tab is shown,
        so its shortcut (Delete, Ctrl+A) never reaches into the text or audio workspace."""
        action = self._action(menu, text, slot, shortcut)
        self.canvas_actions.append(action)
        return action

    def _text_action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut=None) -> QAction:
        """A menu entry for the text: enabled only on the Text tab, so Ctrl+O/Ctrl+S/Ctrl+F
        there never collide with the canvas's entries on the same keys."""
        action = self._action(menu, text, slot, shortcut)
        action.setEnabled(self.window.tabs.currentWidget() is self.window.text)
        self.text_actions.append(action)
        return action

    def _action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if tip:
            action.setData(tip)  # the tooltip when the entry works (a greyed one says why instead)
        connect_command(action.triggered, slot)
        menu.addAction(action)
        return action
