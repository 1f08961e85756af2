"""The Models window, driven as a person does: Ctrl+Shift+M or Models ▸ Models…, clicks on its
list and buttons, its confirm box answered, a folder dropped on it. Real host, real plugins,
real model folders on disk (the built-in CPPN copied, the Llama fixture with its variants)."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from studio.core.base.paths import builtin_models
from studio.core.models import variant_defaults
from studio.core.models.variants import human_size

LM_VARIANTS = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama-variants"


def open_models(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    models = window.menus.models.library_window
    assert models is not None and models.isVisible(), "Ctrl+Shift+M opens the Models window"
    return models


def choose_in_combo(combo, qtbot, index: int) -> None:
    """Open the combo box's list and click its entry ``index``, as a person does."""
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=2000)
    rect = view.visualRect(view.model().index(index, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=2000)
    assert combo.currentIndex() == index


def listed(models) -> dict[str, object]:
    return {models.list.item(i).data(Qt.ItemDataRole.UserRole).name: models.list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(models.list.count()) if not models.list.item(i).isHidden()}


def click_row(models, qtbot, name: str) -> None:
    for i in range(models.list.count()):
        item = models.list.item(i)
        if item.data(Qt.ItemDataRole.UserRole).name == name:
            rect = models.list.visualItemRect(item)
            qtbot.mouseClick(models.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            assert models.current_record().name == name
            return
    raise AssertionError(f"{name} is not listed: {list(listed(models))}")


def add_folder_by_button(models, qtbot, monkeypatch, folder: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    qtbot.mouseClick(models.add_button, Qt.MouseButton.LeftButton)


def confirm_box(models) -> QMessageBox:
    boxes = [b for b in models.findChildren(QMessageBox, "confirm_remove") if b.isVisible()]
    assert len(boxes) == 1, "Remove… asks first"
    return boxes[0]


def test_ctrl_shift_m_lists_every_model_with_its_kind_and_size(window, qtbot, choose):
    models = open_models(window, qtbot)
    names = listed(models)
    assert names, "the built-in models are listed"
    first = models.current_record()
    assert first is not None and models.details.name.text() == first.name
    assert models.details.facts["generator"].text() == first.generator_id
    assert models.details.facts["size"].text() == human_size(first.size)
    assert not models.details.remove_button.isEnabled(), "a built-in model cannot be removed"
    # Down the list with the arrow key: each model's details in turn.
    models.list.setFocus()
    for row in range(1, models.list.count()):
        qtbot.keyClick(models.list, Qt.Key.Key_Down)
        assert models.details.name.text() == models.records[row].name
    # The filter: typing a few letters leaves the models whose name or generator has them.
    qtbot.keyClicks(models.filter, "shakes")
    shown = list(listed(models).values())
    assert shown and len(shown) < len(models.records)
    assert all("shakes" in f"{r.name} {r.generator_id}".lower() for r in shown)
    models.filter.clear()
    assert len(listed(models)) == len(models.records)
    # The menu entry raises the same window rather than opening a second one.
    choose(window, "Models", "Models…")
    assert window.menus.models.library_window is models


def test_a_folder_added_with_variants_shows_them_and_keeps_the_default_chosen(window, qtbot, monkeypatch, tmp_path):
    folder = tmp_path / "llama-variants"
    shutil.copytree(LM_VARIANTS, folder)
    models = open_models(window, qtbot)
    add_folder_by_button(models, qtbot, monkeypatch, folder)
    record = next(r for r in models.records if Path(r.folder).resolve() == folder.resolve())
    click_row(models, qtbot, record.name)
    shown = [models.details.variants.topLevelItem(i).text(0) for i in range(models.details.variants.topLevelItemCount())]
    assert shown == list(record.variants) and {"fp32", "q4", "int8"} <= set(shown)
    q4 = next(models.details.variants.topLevelItem(i) for i in range(len(shown)) if shown[i] == "q4")
    assert q4.text(1) == human_size(record.variants["q4"].size) and "CPU" in q4.text(2)
    # The default per device: chosen in its combo box, kept in the profile.
    combo = models.details.defaults["gpu"]
    assert combo.currentText().startswith("Automatic")
    choose_in_combo(combo, qtbot, combo.findData("fp16"))
    assert variant_defaults.default_variant(folder, "gpu") == "fp16"
    assert variant_defaults.default_variant(folder, "cpu") is None
    models.close()
    models = open_models(window, qtbot)  # opened again, the window reads the stored choice
    click_row(models, qtbot, record.name)
    assert models.details.defaults["gpu"].currentData() == "fp16"


def test_removing_an_added_folder_says_its_files_stay_and_keeps_them(window, qtbot, monkeypatch, tmp_path):
    folder = tmp_path / "sunset"
    shutil.copytree(builtin_models() / "cppn", folder)
    models = open_models(window, qtbot)
    add_folder_by_button(models, qtbot, monkeypatch, folder)
    assert "cppn:sunset" in window.host.generators
    record = next(r for r in models.records if r.generator_id == "cppn:sunset")
    click_row(models, qtbot, record.name)
    assert models.details.remove_button.isEnabled()
    qtbot.keyClick(models.list, Qt.Key.Key_Delete)  # the key asks as the button does
    box = confirm_box(models)
    assert "stay" in box.informativeText() and str(folder) in box.informativeText()
    box.button(QMessageBox.StandardButton.Cancel).click()  # changed their mind: nothing happens
    assert "cppn:sunset" in window.host.generators
    qtbot.mouseClick(models.details.remove_button, Qt.MouseButton.LeftButton)
    confirm_box(models).findChild(QObject, "confirm_remove_button").click()
    qtbot.waitUntil(lambda: "cppn:sunset" not in window.host.generators, timeout=5000)
    assert (folder / "model.onnx").is_file(), "an added folder's files stay"
    assert "cppn:sunset" not in [r.generator_id for r in models.records]
    assert "cppn:sunset" not in window.generate_panel.generators
    assert "files stay" in window.statusBar().currentMessage()


def test_a_broken_folder_is_listed_with_its_error_in_plain_words(window, qtbot, monkeypatch, tmp_path):
    folder = tmp_path / "gone-wrong"
    shutil.copytree(builtin_models() / "cppn", folder)
    models = open_models(window, qtbot)
    add_folder_by_button(models, qtbot, monkeypatch, folder)
    (folder / "model.onnx").unlink()  # damaged after it was added
    window.host.reload_model_folders()
    models.close()
    models = open_models(window, qtbot)  # opened again, the window lists the folder as it is now
    record = next(r for r in models.records if Path(r.folder).resolve() == folder.resolve())
    assert record.error
    click_row(models, qtbot, record.name)
    assert models.details.error.isVisible() and models.details.error.text() == record.error
    assert "Traceback" not in record.error


def test_show_in_file_manager_opens_the_folder(window, qtbot, monkeypatch, tmp_path):
    opened: list[QUrl] = []

    class FileManager(QObject):  # stands where the desktop's file manager answers file:// URLs
        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            opened.append(url)

    manager = FileManager()
    QDesktopServices.setUrlHandler("file", manager, "open")
    try:
        folder = tmp_path / "sunset"
        shutil.copytree(builtin_models() / "cppn", folder)
        models = open_models(window, qtbot)
        add_folder_by_button(models, qtbot, monkeypatch, folder)
        click_row(models, qtbot, next(r.name for r in models.records if r.generator_id == "cppn:sunset"))
        qtbot.mouseClick(models.details.reveal_button, Qt.MouseButton.LeftButton)
        assert [Path(u.toLocalFile()).resolve() for u in opened] == [folder.resolve()]
    finally:
        QDesktopServices.unsetUrlHandler("file")


def test_a_folder_dropped_on_the_window_is_added(window, qtbot, tmp_path):
    folder = tmp_path / "dropped"
    shutil.copytree(builtin_models() / "cppn", folder)
    models = open_models(window, qtbot)
    assert drag_and_drop(models, folder)
    assert "cppn:dropped" in window.host.generators
    assert "cppn:dropped" in [r.generator_id for r in models.records]
    assert window.generate_panel.current_id() == "cppn:dropped"
    # A file goes to the Import dialog, which says why an ONNX graph is not imported but added.
    drag_and_drop(models, folder / "model.onnx")
    dialog = window.menus.models.import_dialog
    assert dialog.isVisible() and "add the folder" in dialog.why_not.text() and not dialog.import_button.isEnabled()
    assert [r.generator_id for r in models.records].count("cppn:dropped") == 1


def drag_and_drop(target, path: Path) -> bool:
    """What dragging ``path`` from a file manager and letting go over ``target`` sends it: the
    drag entering (accepted or not), then the drop. Returns whether the drag was accepted."""
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    where = target.rect().center()
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    drop = QDropEvent(where.toPointF(), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    return enter.isAccepted()
