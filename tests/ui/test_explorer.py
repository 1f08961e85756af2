"""The Explorer dock, driven as a painter drives it: New, Vary, a click on a variation, Keep,
Morph, Export animation…, Place on canvas and Ctrl+Z, the project saved and opened again with its
kept pictures, Explore this layer, Find directions and a slider, Find this picture on a VAE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QPushButton, QTabBar

from studio.core.engine.jobs import JobState
from studio.core.engine.latent_values import recorded
from studio.core.image.canvas_size import resample
from studio.core.project.load import load_project
from studio_plugins.latent.generator import LatentGenerator
from conftest import menu_action

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "latent"


def click(qtbot, panel, name: str) -> None:
    """Click the Explorer's button ``name`` (it must be enabled and shown, as for a person)."""
    button = panel.findChild(QPushButton, name)
    assert button is not None, name
    assert button.isEnabled() and button.isVisible(), f"{name} cannot be clicked now"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def explorer(window, qtbot, generator_id: str = "cppn"):
    """The Explorer brought in front by a click on its tab (a Canvas dock tabbed beside
    Generate), and ``generator_id`` chosen by typing its title into the list."""
    bar = next(bar for bar in window.findChildren(QTabBar) if "Explorer" in [bar.tabText(i) for i in range(bar.count())])
    index = [bar.tabText(i) for i in range(bar.count())].index("Explorer")
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    panel = window.explorer
    assert panel.isVisible()
    index = panel.combo.findData(generator_id)
    assert index >= 0, [panel.combo.itemData(i) for i in range(panel.combo.count())]
    pick(qtbot, panel.combo, panel.combo.itemText(index))
    assert panel.combo.currentData() == generator_id
    return panel


def type_into(qtbot, widget, text: str) -> None:
    """Focus ``widget`` and type ``text`` over what it shows (Ctrl+A first), as a person does."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)


def pick(qtbot, combo, text: str) -> None:
    """Choose ``text`` in a closed list by typing its first word, as a person does with the
    keyboard (a space would open the list's popup instead)."""
    combo.setFocus()
    qtbot.keyClicks(combo, text.split(" ")[0])
    assert combo.currentText() == text, (combo.currentText(), text)


def click_layer(window, qtbot, layer) -> None:
    """Click ``layer``'s row in the Layers panel: it becomes the active layer."""
    rows = window.canvas.panel.list
    rect = rows.visualItemRect(window.canvas.panel.item(layer))
    qtbot.mouseClick(rows.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.canvas.active_layer is layer


def settled(panel) -> bool:
    """The current picture and every cell of the grid are in, nothing on its way."""
    tiles = [panel.current, *panel.grid.tiles]
    return panel.shown is not None and all(t.picture is not None and not t.waiting for t in tiles) and not panel.jobs.busy()


def new_picture(qtbot, panel) -> None:
    click(qtbot, panel, "explorer_new")
    qtbot.waitUntil(lambda: settled(panel), timeout=30000)


def keep_two(qtbot, panel) -> list[np.ndarray]:
    """Keep the current picture and a variation; their pictures, in order."""
    new_picture(qtbot, panel)
    kept = [panel.current.picture]
    click(qtbot, panel, "explorer_keep")
    qtbot.mouseClick(panel.grid.tiles[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: settled(panel), timeout=30000)
    kept.append(panel.current.picture)
    click(qtbot, panel, "explorer_keep")
    assert panel.kept.count() == 2
    return kept


def export(qtbot, panel, monkeypatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    with qtbot.waitSignal(panel.morphing.written, timeout=60000) as written:
        click(qtbot, panel, "explorer_export")
    assert written.args == [str(path), ""]


def frames_of(path: Path) -> tuple[list[np.ndarray], set[int], int | None]:
    """The file's frames as RGBA, the times they show (ms) and its loop count (None: plays once)."""
    with Image.open(path) as image:
        frames, times = [], set()
        for frame in ImageSequence.Iterator(image):
            frames.append(np.array(frame.convert("RGBA")))
            times.add(frame.info.get("duration"))
        return frames, times, image.info.get("loop")


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a[..., :3].astype(int) - b[..., :3]).mean())


def test_vary_a_cell_keep_morph_and_export(window, qtbot, tmp_path, monkeypatch):
    panel = explorer(window, qtbot)
    new_picture(qtbot, panel)  # New draws a seed; the grid varies around its picture
    first = panel.shown
    assert first.own and panel.caption.text().startswith(f"Seed {first.seed}")
    click(qtbot, panel, "explorer_vary")
    qtbot.waitUntil(lambda: settled(panel), timeout=30000)
    latents = [latent.copy() for latent in panel.cell_latents]
    assert len(latents) == 9 and all(not np.array_equal(latent, first.latent) for latent in latents)
    pictures = panel.grid.pictures()
    assert all(picture.shape == (160, 160, 4) for picture in pictures)  # thumbnail size (CPPN's thumbnail_params)

    qtbot.mouseClick(panel.grid.tiles[4], Qt.MouseButton.LeftButton)
    assert np.array_equal(panel.shown.latent, latents[4]) and np.array_equal(panel.current.picture, pictures[4])
    qtbot.waitUntil(lambda: settled(panel), timeout=30000)
    assert not any(np.array_equal(a, b) for a, b in zip(panel.cell_latents, latents))  # varied around the cell now

    assert not panel.findChild(QPushButton, "explorer_morph").isEnabled()  # one kept picture is no morph
    kept = keep_two(qtbot, panel)
    assert window.isWindowModified()  # kept pictures are saved with the project
    type_into(qtbot, panel.morphing.frames, "6")
    assert panel.morphing.frames.value() == 6
    click(qtbot, panel, "explorer_morph")
    qtbot.waitUntil(lambda: panel.morphing.strip.filled() == 6, timeout=30000)
    assert np.array_equal(panel.morphing.pictures[0], kept[0]) and np.array_equal(panel.morphing.pictures[-1], kept[1])

    webp = tmp_path / "morph.webp"
    export(qtbot, panel, monkeypatch, webp)
    frames, times, loop = frames_of(webp)
    assert len(frames) == 6 and frames[0].shape == (160, 160, 4) and times == {120} and loop == 0
    assert np.array_equal(frames[0], kept[0]) and np.array_equal(frames[-1], kept[1])  # lossless
    assert not np.array_equal(frames[2], frames[0])

    type_into(qtbot, panel.morphing.frame_ms, "200")
    assert panel.morphing.frame_ms.value() == 200
    qtbot.mouseClick(panel.morphing.loop, Qt.MouseButton.LeftButton)
    assert not panel.morphing.loop.isChecked()
    gif = tmp_path / "morph.gif"
    export(qtbot, panel, monkeypatch, gif)
    frames, times, loop = frames_of(gif)
    assert len(frames) == 6 and frames[0].shape == (160, 160, 4) and times == {200} and loop is None
    # 256 colours a frame: near its kept picture (gradients lose a little), far nearer than to the other
    assert distance(frames[0], kept[0]) < 10 and distance(frames[-1], kept[1]) < 10
    assert distance(frames[0], kept[0]) * 2 < distance(frames[0], kept[1])

    pick(qtbot, panel.morphing.size, panel.morphing.size.itemText(1))  # full size: each frame made again at the form's size
    assert panel.morphing.size.currentIndex() == 1
    full = tmp_path / "full.webp"
    export(qtbot, panel, monkeypatch, full)
    frames, _, _ = frames_of(full)
    assert len(frames) == 6 and frames[0].shape == (512, 512, 4)  # the canvas's size, which the form follows
    assert np.array_equal(resample(frames[0], 160, 160)[..., 3], kept[0][..., 3])

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "morph.png"), ""))
    click(qtbot, panel, "explorer_export")
    assert panel.status.isVisible() and "a .gif or a .webp file" in panel.status.text()  # said in the panel, no dialog


def test_place_undo_save_reopen_and_explore_the_layer(window, qtbot, tmp_path, monkeypatch, choose):
    panel = explorer(window, qtbot)
    kept = keep_two(qtbot, panel)
    kept_latents = [entry.latent for entry in window.canvas.document.kept_latents]
    current = panel.shown.latent.copy()

    click(qtbot, panel, "explorer_place")
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 1, timeout=30000)
    layer = window.canvas.document.layers[0]
    assert layer.generator == "cppn" and layer.params["latent"] == recorded(current)
    assert layer.pixels.shape == (512, 512, 4)
    assert len(window.jobs_panel.rows) == 1  # the placing job; the Explorer's own stay out of the Jobs panel
    # Ctrl+Z where the keyboard is: on the Place button just clicked, in the Explorer's dock.
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas.document.layers == []  # one step
    redo = next(a for a in menu_action(window, "Edit").menu().actions() if a.text().startswith("&Redo") or a.text().startswith("Redo"))
    redo.trigger()  # Edit ▸ Redo Generate “…”
    assert window.canvas.document.layers == [layer]

    path = tmp_path / "explored.studio"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Save project")
    qtbot.waitUntil(lambda: not window.project.saving and not window.isWindowModified(), timeout=20000)  # saved, and said so
    assert [k.latent for k in load_project(path).project.image.kept_latents] == kept_latents
    choose(window, "File", "New project")
    assert panel.kept.count() == 0 and window.canvas.document.kept_latents == []

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Open project…")
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 1, timeout=20000)
    assert [k.latent for k in window.canvas.document.kept_latents] == kept_latents
    qtbot.waitUntil(lambda: panel.kept.filled() == 2, timeout=30000)  # drawn again from their latents
    assert [np.array_equal(a, b) for a, b in zip(panel.keeping.pictures.values(), kept)] == [True, True]

    rect = panel.kept.visualItemRect(panel.kept.item(1))
    qtbot.mouseDClick(panel.kept.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert np.array_equal(panel.shown.latent, np.float32(kept_latents[1]))
    qtbot.waitUntil(lambda: settled(panel), timeout=30000)

    placed = window.canvas.document.layers[0]
    click_layer(window, qtbot, placed)
    click(qtbot, panel, "explorer_from_layer")
    qtbot.waitUntil(lambda: settled(panel) and np.array_equal(panel.shown.latent, current), timeout=30000)
    assert panel.shown.latent.tobytes() == np.float32(placed.params["latent"]).tobytes()  # exactly its numbers

    click(qtbot, panel, "explorer_remove_kept")  # the selected one
    assert panel.kept.count() == 1 and [k.latent for k in window.canvas.document.kept_latents] == kept_latents[:1]


def test_reusing_a_placed_layer_fills_the_latent_field_and_makes_the_same_picture(window, qtbot, choose):
    panel = explorer(window, qtbot)
    new_picture(qtbot, panel)
    click(qtbot, panel, "explorer_place")
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 1, timeout=30000)
    layer = window.canvas.document.layers[0]
    click_layer(window, qtbot, layer)
    choose(window, "Layer", "Reuse parameters")
    form = window.generate_panel.form
    field = form.widgets["latent"]
    assert field.label.text() == f"Kept: {len(layer.params['latent'])} numbers"
    assert form.values()["latent"] == tuple(layer.params["latent"])
    qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 2, timeout=30000)
    again = window.canvas.document.layers[1]
    assert np.array_equal(again.pixels, layer.pixels) and again.params["latent"] == layer.params["latent"]
    qtbot.mouseClick(field.clear_button, Qt.MouseButton.LeftButton)
    assert form.values()["latent"] is None and field.label.text() == "From the seed"


def test_find_directions_then_a_slider_moves_the_current_picture(window, qtbot):
    panel = explorer(window, qtbot)
    new_picture(qtbot, panel)
    before, base = panel.current.picture.copy(), panel.shown.latent.copy()
    click(qtbot, panel, "explorer_find_directions")
    qtbot.waitUntil(lambda: panel.directions is not None, timeout=30000)
    labels = [label.text() for label in panel.sliders.labels]
    assert len(labels) == 5 and all(label.startswith(f"Direction {n + 1} (") and label.endswith(" %)") for n, label in enumerate(labels))
    assert panel.sliders.sliders[0].isVisible()
    slider = panel.sliders.sliders[0]
    slider.setFocus()
    for _ in range(3):  # a few steps in a row: only where it rests is drawn
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    assert slider.value() == 30  # PageUp moves 1 standard deviation: 3 in all
    qtbot.waitUntil(lambda: panel.current.picture is not None and not panel.current.waiting and not panel.jobs.busy("current")
                    and not np.array_equal(panel.current.picture, before), timeout=30000)
    expected = (base + panel.directions.offset([3.0, 0, 0, 0, 0])).astype(np.float32)
    assert np.allclose(panel.shown.latent, expected, atol=1e-6)
    assert np.array_equal(panel.base, base)  # the sliders still move from where they started
    for _ in range(3):  # back where it started
        qtbot.keyClick(slider, Qt.Key.Key_PageDown)
    assert slider.value() == 0
    qtbot.waitUntil(lambda: not panel.jobs.busy("current") and np.array_equal(panel.current.picture, before), timeout=30000)


def test_find_this_picture_on_a_vae(open_window, qtbot):
    # The fixture's tiny VAE, installed as a plugin installs a model it ships.
    window = open_window(LatentGenerator(FIXTURES / "vae", "latent:vae"))
    panel = explorer(window, qtbot, "latent:vae")
    assert panel.findChild(QPushButton, "explorer_find").isVisible()
    new_picture(qtbot, panel)
    assert panel.current.picture.shape == (128, 128, 4)  # a 16 x 16 model, enlarged for the grid
    click(qtbot, panel, "explorer_place")
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 1, timeout=30000)
    layer = window.canvas.document.layers[0]
    click_layer(window, qtbot, layer)
    placed = panel.shown.latent.copy()
    # What the encoder makes of the layer, asked directly of the host: the panel must show that.
    job = window.host.submit("latent:vae", {"image": layer.pixels.copy(), "seed": 0})
    qtbot.waitUntil(lambda: job.state.done, timeout=30000)
    assert job.state is JobState.FINISHED
    found = np.float32(job.result.params["latent"])
    click(qtbot, panel, "explorer_find")
    qtbot.waitUntil(lambda: settled(panel) and np.array_equal(panel.shown.latent, found), timeout=30000)
    assert not np.array_equal(found, placed)  # an encoder finds its own numbers, not the decoder's input


def test_a_stylegan_is_studied_before_it_varies(open_window, qtbot):
    window = open_window(LatentGenerator(FIXTURES / "stylegan", "latent:stylegan"))
    panel = explorer(window, qtbot, "latent:stylegan")
    assert not panel.findChild(QPushButton, "explorer_find").isVisible()  # no encoder
    new_picture(qtbot, panel)
    assert panel.directions is not None  # its w's spread was studied, then the grid drawn
    assert len({latent.tobytes() for latent in panel.cell_latents}) == 9


@pytest.mark.parametrize("title", ["Explorer"])
def test_the_explorer_is_a_canvas_panel(window, qtbot, choose, title):
    entry = next(a for a in window.docks.panel_actions() if a.text() == title)
    assert window.docks.explorer in window.docks.canvas_docks
    bar = window.tabs.tabBar()

    def click_tab(widget) -> None:  # the workspace tabs, Canvas / Text / Audio
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(window.tabs.indexOf(widget)).center())
        assert window.tabs.currentWidget() is widget

    click_tab(window.text)
    assert not window.docks.explorer.isVisible()
    click_tab(window.canvas)
    assert window.docks.explorer.isVisibleTo(window)
    entry.trigger()  # View ▸ Panels ▸ Explorer hides it, and it stays hidden on the Canvas tab
    assert not window.docks.explorer.isVisibleTo(window)


def test_a_new_canvas_leaves_the_explorers_pictures_alone(window, qtbot, choose):
    """The Explorer's pictures land in its panel, not in the canvas: replacing the canvas's
    document neither stops them nor says they were stopped."""
    panel = explorer(window, qtbot)
    new_picture(qtbot, panel)
    click(qtbot, panel, "explorer_vary")
    assert panel.jobs.busy("cell")
    choose(window, "File", "New project")
    qtbot.waitUntil(lambda: settled(panel), timeout=30000)  # the grid still comes in
    assert "Stopped" not in window.statusBar().currentMessage(), window.statusBar().currentMessage()
