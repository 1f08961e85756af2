"""The Download dialog against the stand-in hub (tests/fixtures/hub): a person opens it from the
Models menu, types a repository id, presses Inspect, chooses a variant, presses Download, watches
the Jobs panel, and then generates with the model; and the ways it goes wrong (Cancel, no hub)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox

from studio.core.base import paths
from studio.core.engine.jobs import JobState
from studio.core.models.manifest import read_manifest
from studio.core.models.variants import human_size


def open_dialog(window, choose):
    choose(window, "Models", "Download model…")
    dialog = window.menus.models.download_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def inspect(dialog, qtbot, repo_id: str) -> None:
    dialog.repo_box.clear()
    qtbot.keyClicks(dialog.repo_box, repo_id)
    qtbot.mouseClick(dialog.inspect_button, Qt.MouseButton.LeftButton)


def download_jobs(window) -> list:
    return [row.job for row in window.jobs_panel.rows.values() if row.job.generator.kind == "model"]


def installed_folders() -> list[Path]:
    root = paths.models()
    return [p for p in root.iterdir() if p.is_dir() and read_manifest(p) is not None] if root.is_dir() else []


def test_download_through_the_dialog_then_generate_with_it_see_it_and_remove_it(window, qtbot, choose, stand_in_hub):
    from hub import LLAMA_REPO

    dialog = open_dialog(window, choose)
    inspect(dialog, qtbot, LLAMA_REPO)
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 1 and dialog.offer.repo.text() == LLAMA_REPO, timeout=15000)
    offer = dialog.offer
    files = [offer.files.topLevelItem(i).text(0) for i in range(offer.files.topLevelItemCount())]
    assert {"onnx/model.onnx", "onnx/model_q4.onnx", "onnx/model_q4.onnx_data", "config.json"} <= set(files)
    assert offer.verdict.isVisible() and "language model" in offer.verdict.text()
    assert {"fp32", "q4"} <= set(offer.variant_buttons)
    assert offer.variant_buttons["q4"].isChecked(), "on this computer (a CPU) q4 is preselected"
    qtbot.mouseClick(offer.variant_buttons["fp32"], Qt.MouseButton.LeftButton)
    assert offer.chosen_variant() == "fp32"
    qtbot.mouseClick(offer.variant_buttons["q4"], Qt.MouseButton.LeftButton)
    assert offer.chosen_variant() == "q4"

    choose(window, "Models", "Models…")  # open beside the download: it will show the new model
    progress = []
    window.bridge.progress.connect(lambda job, event: progress.append(event) if job.generator.kind == "model" else None)
    before = set(window.generate_panel.generators)
    qtbot.mouseClick(offer.download_button, Qt.MouseButton.LeftButton)
    [job] = download_jobs(window)
    row = window.jobs_panel.row(job)
    assert row.title.text() == f"Download {LLAMA_REPO.split('/')[1]}" and "q4" in row.detail.text()
    dialog.close()  # the download goes on without the dialog
    qtbot.waitUntil(lambda: job.state.done, timeout=60000)
    assert job.state is JobState.FINISHED, job.message
    qtbot.waitUntil(lambda: "Installed" in window.statusBar().currentMessage(), timeout=5000)
    assert "choose it in the Generate panel" in window.statusBar().currentMessage()
    assert progress and progress[-1].total > 0 and progress[-1].step == progress[-1].total
    assert any(" of " in event.message for event in progress), [event.message for event in progress]
    # The row and the status bar hear of the end through separate queued signals: wait for both.
    qtbot.waitUntil(lambda: row.status.text().startswith("Installed"), timeout=5000)

    # Opened again, the dialog says the model is there already, and which variant.
    choose(window, "Models", "Download model…")
    assert offer.installed.isVisible() and "Installed (q4)" in offer.installed.text()
    assert not offer.download_button.isEnabled() and "installed already" in offer.total.text()
    qtbot.mouseClick(offer.variant_buttons["fp32"], Qt.MouseButton.LeftButton)
    assert offer.download_button.isEnabled(), "another variant can still be added"
    dialog.close()

    # The new generator is in the Generate panel's list, and it writes.
    [new_id] = set(window.generate_panel.generators) - before
    panel = window.generate_panel
    panel.combo.setCurrentIndex(panel.combo.findData(new_id))
    panel.form.widgets["max_new_tokens"].spin.setValue(8)  # a few words are enough to see it write
    with qtbot.waitSignal(window.bridge.result, timeout=60000, check_params_cb=lambda j, r: j.generator.id == new_id):
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    text_job = next(r.job for r in window.jobs_panel.rows.values() if r.job.generator.id == new_id)
    qtbot.waitUntil(lambda: text_job.state.done, timeout=30000)
    assert text_job.state is JobState.FINISHED, text_job.message
    assert text_job.result.info.get("variant") == "q4"
    assert window.text.editor.toPlainText().strip()

    # The Models window lists it: downloaded, its variant and its size.
    models = window.menus.models.library_window
    record = next(r for r in models.records if r.generator_id == new_id)
    assert record.origin == "downloaded" and list(record.variants) == ["q4"]
    assert models.current_record().generator_id == new_id, "the open Models window shows the new model"
    assert models.details.variants.topLevelItem(0).text(0) == "q4"
    assert models.details.variants.topLevelItem(0).text(1) == human_size(record.variants["q4"].size)
    assert LLAMA_REPO in models.details.facts["source"].text()

    # Its other variants: the Download dialog asks the hub about its repository again.
    qtbot.mouseClick(models.details.variants_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.repo_box.text() == LLAMA_REPO
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 1 and dialog.offer.repo.text() == LLAMA_REPO, timeout=15000)
    assert dialog.offer.installed.isVisible() and dialog.offer.chosen_variant() == "q4"
    dialog.close()

    # Remove it through the window: the box says what it frees; the folder is gone from disk.
    folder = Path(record.folder)
    assert folder.is_dir() and folder in [p.resolve() for p in installed_folders()] or folder.resolve() in [p.resolve() for p in installed_folders()]
    qtbot.mouseClick(models.details.remove_button, Qt.MouseButton.LeftButton)
    [box] = [b for b in models.findChildren(QMessageBox, "confirm_remove") if b.isVisible()]
    assert human_size(record.size) in box.informativeText()
    box.findChild(QObject, "confirm_remove_button").click()
    qtbot.waitUntil(lambda: not folder.exists(), timeout=5000)
    assert new_id not in window.host.generators and new_id not in window.generate_panel.generators
    assert new_id not in [r.generator_id for r in models.records]
    assert "freed" in window.statusBar().currentMessage()


def test_cancel_a_download_from_the_jobs_panel(window, qtbot, choose, stand_in_hub):
    from hub import LLAMA_REPO

    stand_in_hub.throttle(40_000)  # bytes a second: long enough to press Cancel mid-file
    dialog = open_dialog(window, choose)
    inspect(dialog, qtbot, LLAMA_REPO)
    qtbot.waitUntil(lambda: dialog.offer.repo.text() == LLAMA_REPO and dialog.pages.currentIndex() == 1, timeout=15000)
    qtbot.mouseClick(dialog.offer.variant_buttons["fp32"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.offer.download_button, Qt.MouseButton.LeftButton)
    [job] = download_jobs(window)
    row = window.jobs_panel.row(job)
    qtbot.waitUntil(lambda: job.progress is not None and 0 < job.progress.step, timeout=20000)
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    started = time.monotonic()
    qtbot.waitUntil(lambda: job.state.done, timeout=20000)
    assert job.state is JobState.CANCELLED and time.monotonic() - started < 15
    qtbot.waitUntil(lambda: row.status.text() == "Cancelled", timeout=5000)
    assert installed_folders() == [], "a cancelled download is never installed"
    assert "Installed" not in window.statusBar().currentMessage()


def test_hub_unreachable_is_one_plain_sentence(window, qtbot, choose, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    dialog = open_dialog(window, choose)
    inspect(dialog, qtbot, "onnx-community/anything-ONNX")
    assert "Asking the hub" in dialog.note.text(), "the window goes on while the hub is asked"
    qtbot.waitUntil(lambda: "Asking the hub" not in dialog.note.text(), timeout=15000)
    sentence = dialog.note.text()
    assert dialog.pages.currentIndex() == 0 and sentence and "Traceback" not in sentence and "\n" not in sentence.strip()
    assert "hub" in sentence.lower() or "reach" in sentence.lower() or "connect" in sentence.lower(), sentence
    assert dialog.inspect_button.isEnabled()


def test_a_download_that_fails_says_why_in_the_jobs_panel(window, qtbot, choose, stand_in_hub):
    dialog = open_dialog(window, choose)
    inspect(dialog, qtbot, "onnx-community/no-such-model-ONNX")
    qtbot.waitUntil(lambda: "Asking the hub" not in dialog.note.text(), timeout=15000)
    assert "no-such-model" in dialog.note.text() and "Traceback" not in dialog.note.text()
    assert not [j for j in download_jobs(window)], "nothing to download was offered"


def test_the_catalogue_is_grouped_and_its_default_variant_is_chosen(window, qtbot, choose):
    from studio.core.models.catalogue import load_catalogue
    from studio.core.models.variants import preferred

    dialog = open_dialog(window, choose)
    catalogue = dialog.catalogue
    headings = [catalogue.item(i).text() for i in range(catalogue.count()) if catalogue.item(i).data(Qt.ItemDataRole.UserRole) is None]
    assert headings == ["For painters", "For writers", "For musicians"]
    entry = next(e for e in load_catalogue() if e.group == "writers" and len(e.variants) > 1)
    row = next(i for i in range(catalogue.count()) if getattr(catalogue.item(i).data(Qt.ItemDataRole.UserRole), "repo_id", "") == entry.repo_id)
    catalogue.scrollToItem(catalogue.item(row))
    qtbot.mouseClick(catalogue.viewport(), Qt.MouseButton.LeftButton, pos=catalogue.visualItemRect(catalogue.item(row)).center())
    offer = dialog.offer
    assert offer.title.text() == entry.title and offer.repo.text() == entry.repo_id
    assert entry.license in offer.license.text() and entry.device in offer.device.text()
    assert set(offer.variant_buttons) == set(entry.variants)
    assert offer.chosen_variant() == entry.default_variant
    here = preferred(list(entry.variants), "cpu")  # this machine has no GPU
    [mark] = offer.findChildren(type(offer.title), "suits_here")
    row_of = offer.variant_grid.getItemPosition(offer.variant_grid.indexOf(mark))[0]
    assert offer.variant_grid.itemAtPosition(row_of, 0).widget() is offer.variant_buttons[here]
    assert human_size(entry.variants[entry.default_variant]) in offer.total.text()
    assert offer.download_button.isEnabled() and not offer.files.isVisible()


def test_a_gated_repository_says_how_to_get_access(window, qtbot, choose, stand_in_hub):
    from hub import GATED_REPO

    dialog = open_dialog(window, choose)
    inspect(dialog, qtbot, GATED_REPO)
    qtbot.waitUntil(lambda: dialog.offer.repo.text() == GATED_REPO and dialog.pages.currentIndex() == 1, timeout=15000)
    note = dialog.offer.gated
    assert note.isVisible() and "accept the license" in note.text() and "HF_TOKEN" in note.text()
    # Downloading it anyway without a token: the job fails with the hub's sentence, plainly.
    qtbot.mouseClick(dialog.offer.download_button, Qt.MouseButton.LeftButton)
    [job] = download_jobs(window)
    qtbot.waitUntil(lambda: job.state.done, timeout=20000)
    assert job.state is JobState.FAILED and not job.internal_error
    row = window.jobs_panel.row(job)
    qtbot.waitUntil(lambda: row.status.text().startswith("Failed: "), timeout=5000)
    assert "license" in row.status.text() and "HF_TOKEN" in row.status.text() and "Traceback" not in row.status.text()
    assert "HF_TOKEN" in window.statusBar().currentMessage()
    assert installed_folders() == []


def test_catalogue_entries_already_installed_are_marked(window, qtbot, choose):
    import shutil

    from studio.core.base.paths import builtin_models
    from studio.core.models.catalogue import load_catalogue
    from studio.core.models.manifest import Manifest, write_manifest

    entry = next(e for e in load_catalogue() if e.group == "musicians")
    folder = paths.models() / "installed-before"  # as an earlier download of it left it
    shutil.copytree(builtin_models() / "chorale", folder)
    write_manifest(folder, Manifest(name="MusicGen small", source={"hub": entry.repo_id, "revision": "0" * 40}, variants=["q4"]))
    dialog = open_dialog(window, choose)
    marks = {catalogue_row.entry.repo_id: catalogue_row.installed for catalogue_row in rows(dialog.catalogue)}
    assert marks[entry.repo_id].isVisible() and "Installed (q4)" in marks[entry.repo_id].text()
    assert not any(mark.isVisible() for repo, mark in marks.items() if repo != entry.repo_id)
    click_entry(dialog, qtbot, entry.repo_id)
    assert dialog.offer.installed.isVisible()


def click_entry(dialog, qtbot, repo_id: str) -> None:
    """Click the catalogue's row of ``repo_id`` (scrolled into view first), as a person does."""
    catalogue = dialog.catalogue
    item = next(catalogue.item(i) for i in range(catalogue.count())
                if getattr(catalogue.item(i).data(Qt.ItemDataRole.UserRole), "repo_id", None) == repo_id)
    catalogue.scrollToItem(item)
    qtbot.mouseClick(catalogue.viewport(), Qt.MouseButton.LeftButton, pos=catalogue.visualItemRect(item).center())
    assert catalogue.currentItem() is item


def rows(catalogue) -> list:
    return [catalogue.itemWidget(catalogue.item(i)) for i in range(catalogue.count())
            if catalogue.item(i).data(Qt.ItemDataRole.UserRole) is not None]


def test_a_malformed_repo_id_is_refused_in_one_sentence(window, qtbot, choose, stand_in_hub):
    dialog = open_dialog(window, choose)
    inspect(dialog, qtbot, "../../etc/passwd")
    qtbot.waitUntil(lambda: "Asking the hub" not in dialog.note.text(), timeout=15000)
    assert dialog.pages.currentIndex() == 0 and "Traceback" not in dialog.note.text() and dialog.note.text()
    assert not stand_in_hub.requests, "a name that is no repository id never reaches the hub"


def test_only_the_latest_inspection_is_shown(window, qtbot, choose, stand_in_hub):
    from hub import LLAMA_REPO

    # The first question is held back at the hub, so its answer comes after the second one's.
    stand_in_hub.set_delay(1.5)
    dialog = open_dialog(window, choose)
    inspect(dialog, qtbot, LLAMA_REPO)
    qtbot.waitUntil(lambda: any("tiny-llama" in r.path for r in stand_in_hub.requests), timeout=10000)
    stand_in_hub.set_delay(0)
    inspect(dialog, qtbot, "onnx-community/no-such-model-ONNX")
    qtbot.waitUntil(lambda: "no-such-model" in dialog.note.text() and "Asking" not in dialog.note.text(), timeout=15000)
    qtbot.wait(2500)  # the first question's answer is in by now, and dropped
    assert dialog.pages.currentIndex() == 0 and "no-such-model" in dialog.note.text()
    assert not dialog.inspector.busy


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # an exception in the thread fails it
def test_an_answer_after_the_dialog_is_gone_is_dropped_quietly(window, qtbot, choose, stand_in_hub, capfd):
    from hub import LLAMA_REPO

    stand_in_hub.set_delay(1.0)
    dialog = open_dialog(window, choose)
    inspect(dialog, qtbot, LLAMA_REPO)
    qtbot.waitUntil(lambda: bool(stand_in_hub.requests), timeout=10000)
    window.menus.models.download_dialog = None
    dialog.deleteLater()  # as closing the window deletes it, with the hub still answering
    qtbot.wait(2000)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Exception in thread" not in out + err, err


def test_enter_in_the_repo_box_inspects_and_downloads_nothing(window, qtbot, choose, stand_in_hub):
    from hub import LLAMA_REPO

    dialog = open_dialog(window, choose)
    assert dialog.offer.download_button.isEnabled()  # a catalogue entry is shown, ready to download
    qtbot.keyClicks(dialog.repo_box, LLAMA_REPO)
    qtbot.keyClick(dialog.repo_box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.pages.currentIndex() == 1 and dialog.offer.repo.text() == LLAMA_REPO, timeout=15000)
    qtbot.keyClick(dialog.repo_box, Qt.Key.Key_Return)  # again, now that the listing is shown
    qtbot.wait(300)
    assert download_jobs(window) == [] and dialog.isVisible()


def test_a_gpu_only_model_is_not_marked_as_suiting_a_computer_without_one(window, qtbot, choose):
    from studio.core.models.catalogue import load_catalogue

    entry = next(e for e in load_catalogue() if "gpu only" in e.device.lower())
    dialog = open_dialog(window, choose)
    click_entry(dialog, qtbot, entry.repo_id)
    offer = dialog.offer
    assert offer.title.text() == entry.title
    assert not offer.findChildren(type(offer.title), "suits_here"), "this machine has no GPU"
    assert offer.device_warning.isVisible() and "GPU" in offer.device_warning.text()


def test_every_catalogue_entry_and_variant_can_be_chosen(window, qtbot, choose):
    from studio.core.models.catalogue import load_catalogue

    dialog = open_dialog(window, choose)
    offer = dialog.offer
    for entry in load_catalogue():  # in the file's order, so each follows a different one
        click_entry(dialog, qtbot, entry.repo_id)
        assert offer.title.text() == entry.title and offer.chosen_variant() == entry.default_variant
        for name, size in entry.variants.items():
            offer.variant_buttons[name].click()  # (mouse clicks this quick in a row read as double clicks)
            assert offer.chosen_variant() == name and human_size(size) in offer.total.text(), (entry.repo_id, name)


def test_a_catalogue_entry_downloads_the_build_the_catalogue_names(window, qtbot, choose, monkeypatch):
    """Phi-3 mini's repository holds two CPU int4 builds; the catalogue names the faster one."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
    from hub import LLAMA_GENAI, fixture_repos, running_hub
    from hub.stand_in_hub import folder_files

    from studio.core.models.catalogue import entry_for

    entry = entry_for("microsoft/Phi-3-mini-4k-instruct-onnx")
    other = "cpu_and_mobile/cpu-int4-rtn-block-32"
    assert entry is not None and entry.subfolder and entry.subfolder != other
    repo = {f"{build}/{name}": path for build in (other, entry.subfolder)
            for name, path in folder_files(LLAMA_GENAI["cpu-int4"]).items()}
    with running_hub(monkeypatch, repos={**fixture_repos(), entry.repo_id: repo}) as hub:
        dialog = open_dialog(window, choose)
        click_entry(dialog, qtbot, entry.repo_id)
        qtbot.waitUntil(lambda: dialog.offer.title.text() == entry.title, timeout=5000)
        qtbot.mouseClick(dialog.offer.download_button, Qt.MouseButton.LeftButton)
        [job] = download_jobs(window)
        qtbot.waitUntil(lambda: job.state.done, timeout=60000)
        assert job.state is JobState.FINISHED, job.message
        assert Path(job.result.value).name.endswith(entry.subfolder.replace("/", "-"))
        assert not any(r.file.startswith(other + "/") for r in hub.fetched("GET"))
