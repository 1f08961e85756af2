"""The Explorer's Morph section: frames through the kept pictures, and their animation written.

Morph renders N frames at thumbnail size through the chosen generator's kept latents, in their
order (``studio.core.image.latent_walk.morph``: slerp for Gaussian latents, straight lines for
StyleGAN's w), with the first kept picture's style, so the first and last frames are the first
and last kept pictures. Export animation… writes those frames, or the same latents made again at
the form's full size, as GIF or WebP (``studio.core.image.animation``) on a worker thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QSpinBox

from studio.core.engine.jobs import JobState
from studio.core.image.animation import FORMATS, write_animation
from studio.core.image.latent_walk import MAX_FRAMES, morph
from studio.errors import StudioError
from studio.ui.canvas.explorer_grid import PictureStrip
from studio.ui.canvas.explorer_sections import action_button

if TYPE_CHECKING:
    from studio.ui.canvas.explorer import ExplorerPanel

FRAMES = 8
FRAME_MS = 120
STRIP_SIDE = 64
FILTERS = "WebP animation (*.webp);;GIF animation (*.gif)"
SIZES = ("Strip size", "Full size")


class Morphing(QObject):
    """Morph and Export animation…, built into the panel's Morph section."""

    written = Signal(str, str)  # the path written ("" when it failed), the failure in words

    def __init__(self, panel: "ExplorerPanel") -> None:
        super().__init__(panel)
        self.panel = panel
        self.latents: list[np.ndarray] = []
        self.pictures: list[np.ndarray | None] = []
        self.full: list[np.ndarray | None] = []
        self._style: dict = {}
        self._seed = 0
        self._export: tuple[Path, float, bool, str] | None = None  # path, seconds, loop, size: waiting for frames
        self.morph_action = panel._action("Morph", "explorer_morph_action", "Render frames through the kept pictures, in order", self.morph)
        self.export_action = panel._action("Export animation…", "explorer_export_action", "Write the morph as an animated WebP or GIF", self.export_animation)

        self.frames = QSpinBox()
        self.frames.setObjectName("explorer_frames")
        self.frames.setRange(2, MAX_FRAMES)
        self.frames.setValue(FRAMES)
        self.frames.setSuffix(" frames")
        self.frames.setToolTip("How many pictures the morph has, the kept ones among them")
        self.strip = PictureStrip(STRIP_SIDE)
        self.strip.setObjectName("explorer_morph_strip")
        self.strip.setToolTip("The morph's frames. Double-click one: make it current")
        self.strip.activated_at.connect(self._frame_to_current)
        self.size = QComboBox()
        self.size.setObjectName("explorer_export_size")
        self.size.addItems(list(SIZES))
        self.size.setToolTip("Strip size: the frames shown here. Full size: each frame made again at the Generate panel's size")
        self.frame_ms = QSpinBox()
        self.frame_ms.setObjectName("explorer_frame_ms")
        self.frame_ms.setRange(20, 10000)
        self.frame_ms.setSingleStep(10)
        self.frame_ms.setValue(FRAME_MS)
        self.frame_ms.setSuffix(" ms")
        self.frame_ms.setToolTip("How long each frame shows")
        self.loop = QCheckBox("Loop")
        self.loop.setObjectName("explorer_loop")
        self.loop.setChecked(True)
        self.note = QLabel("Keep two pictures or more, then Morph")
        self.note.setObjectName("explorer_morph_note")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #9a9aa2;")

        column = panel.morph_column
        row = QHBoxLayout()
        row.addWidget(self.frames)
        row.addWidget(action_button(self.morph_action, "explorer_morph"), 1)
        column.addLayout(row)
        column.addWidget(self.strip)
        row = QHBoxLayout()
        row.addWidget(self.size, 1)
        row.addWidget(self.frame_ms)
        row.addWidget(self.loop)
        column.addLayout(row)
        column.addWidget(action_button(self.export_action, "explorer_export"))
        column.addWidget(self.note)
        self.written.connect(self._written)
        self.update_actions()

    def clear(self) -> None:
        self.panel.jobs.cancel_all("frame:")
        self.panel.jobs.cancel_all("full:")
        self.latents, self.pictures, self.full, self._export = [], [], [], None
        self.strip.set_count(0)
        self.update_actions()

    def update_actions(self) -> None:
        self.morph_action.setEnabled(len(self.panel.keeping.kept_here()) >= 2)
        self.export_action.setEnabled(bool(self.latents) and self._export is None)

    # -- morph ------------------------------------------------------------------------------

    def morph(self) -> None:
        panel, space = self.panel, self.panel.space()
        keys = panel.keeping.kept_here()
        if space is None or len(keys) < 2:
            panel.say("Keep at least two pictures to morph between them")
            return
        try:
            latents = morph([np.float32(key.latent) for key in keys], self.frames.value(), space.interpolation)
        except StudioError as exc:
            panel.say(str(exc))
            return
        self.clear()
        self.latents = latents
        self.pictures = [None] * len(latents)
        self._style, self._seed = panel.style_of(dict(keys[0].params)), keys[0].seed or 0
        self.strip.set_count(len(latents), [str(n + 1) for n in range(len(latents))])
        for index, latent in enumerate(latents):
            panel.submit(f"frame:{index}", panel.thumbnail_values(latent, self._seed, self._style))
        self.note.setText(f"{len(latents)} frames through {len(keys)} kept pictures")
        self.update_actions()

    def _frame_to_current(self, index: int) -> None:
        if index < len(self.latents):
            self.panel.show_latent(self.latents[index], self._seed, self._style, picture=self.pictures[index])

    # -- export -----------------------------------------------------------------------------

    def export_animation(self) -> None:
        if not self.latents:
            self.panel.say("Morph first: the animation is the morph's frames")
            return
        path, chosen = QFileDialog.getSaveFileName(self.panel, "Export animation", "morph.webp", FILTERS)
        if not path:
            return
        target = Path(path)
        if not target.suffix:  # the filter chosen says which
            target = target.with_suffix(".gif" if "gif" in chosen.lower() else ".webp")
        if target.suffix.lower() not in FORMATS:
            self.panel.say(f"Cannot write {target.name}: an animation is a .gif or a .webp file")
            return
        size = "full" if self.size.currentIndex() == 1 else "strip"
        self._export = (target, self.frame_ms.value() / 1000, self.loop.isChecked(), size)
        if size == "full":
            panel = self.panel
            self.full = [None] * len(self.latents)
            for index, latent in enumerate(self.latents):
                if panel.submit(f"full:{index}", panel.full_values(latent, self._seed, self._style)) is None:
                    self._export = None
                    return
            self.note.setText(f"Making {len(self.latents)} frames at full size…")
        self.update_actions()
        self._write_when_ready()

    def _write_when_ready(self) -> None:
        if self._export is None:
            return
        target, seconds, loop, size = self._export
        frames = self.full if size == "full" else self.pictures
        if any(frame is None for frame in frames):
            return  # the rest are on their way
        self._export = None
        self.note.setText(f"Writing {target.name}…")
        # Encoding dozens of large frames takes a while: never on the GUI thread.
        threading.Thread(target=self._write, args=(list(frames), target, seconds, loop), name="explorer-export", daemon=True).start()
        self.update_actions()

    def _write(self, frames: list[np.ndarray], target: Path, seconds: float, loop: bool) -> None:
        try:
            written = write_animation(frames, target, seconds, loop)
        except StudioError as exc:
            self.written.emit("", str(exc))
        except Exception as exc:  # noqa: BLE001 - Pillow fails in many ways; said, never a traceback dialog
            self.written.emit("", f"Cannot write {target.name}: {type(exc).__name__}: {exc}")
        else:
            self.written.emit(str(written), "")

    def _written(self, path: str, error: str) -> None:
        if error:
            self.panel.say(error)
            self.note.setText("The animation was not written")
        else:
            self.note.setText(f"Wrote {Path(path).name} ({len(self.latents)} frames)")
        self.update_actions()

    # -- the jobs' pictures -----------------------------------------------------------------

    def on_result(self, kind: str, index: int, picture: np.ndarray) -> None:
        if kind == "frame" and index < len(self.pictures):
            self.pictures[index] = picture
            self.strip.show_picture(index, picture)
            self._write_when_ready()
        elif kind == "full" and index < len(self.full):
            self.full[index] = picture
            self._write_when_ready()

    def on_ended(self, kind: str, state: JobState) -> None:
        if kind in ("frame", "full") and state is not JobState.FINISHED and self._export is not None:
            self._export = None  # a frame is missing: the animation cannot be written
            self.note.setText("The animation was not written: a frame could not be made")
            self.update_actions()
