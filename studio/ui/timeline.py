"""The Audio workspace: the clips on the timeline, with a waveform each, play and stop."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from studio.core.audio import Player
from studio.core.timeline import Clip, Timeline
from studio.errors import StudioError

WAVE = QSize(220, 40)


def waveform(clip: Clip, size: QSize = WAVE) -> QPixmap:
    pixmap = QPixmap(size)
    pixmap.fill(QColor("#1b1b1f"))
    painter = QPainter(pixmap)
    painter.setPen(QPen(QColor("#5fb3ff"), 1))
    mid = size.height() / 2
    for x, peak in enumerate(clip.envelope(size.width())):
        half = max(0.5, float(min(peak, 1.0)) * (mid - 2))
        painter.drawLine(QPointF(x, mid - half), QPointF(x, mid + half))
    painter.end()
    return pixmap


class AddClip(QUndoCommand):
    def __init__(self, workspace: "AudioWorkspace", clip: Clip) -> None:
        super().__init__(f"Add clip “{clip.name}”")
        self.workspace, self.clip = workspace, clip

    def redo(self) -> None:
        self.workspace.timeline.insert(self.clip)
        self.workspace.changed()

    def undo(self) -> None:
        self.workspace.timeline.remove(self.clip)
        self.workspace.changed()


class AudioWorkspace(QWidget):
    message = Signal(str)  # for the status bar: playback problems

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.timeline = Timeline()
        self.player = Player()
        self.clips = QListWidget()
        self.clips.setObjectName("clips_list")
        self.clips.setIconSize(WAVE)
        self.clips.itemDoubleClicked.connect(lambda _item: self.play_selected())
        self.play_button = QPushButton("▶ Play")
        self.play_button.clicked.connect(self.play_selected)
        stop = QPushButton("■ Stop")
        stop.clicked.connect(self.player.stop)
        self.summary = QLabel()
        self.summary.setStyleSheet("color: #999;")
        self.empty = QLabel("No clips yet. Audio generators add their clips here.")
        self.empty.setStyleSheet("color: #8b8b93;")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(stop)
        controls.addStretch(1)
        controls.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.empty)
        layout.addWidget(self.clips, 1)
        self.changed()

    def add_clip(self, clip: Clip) -> None:
        self.undo_stack.push(AddClip(self, clip))

    def play_selected(self) -> None:
        item = self.clips.currentItem()
        if item is None:
            return
        clip: Clip = item.data(Qt.ItemDataRole.UserRole)
        try:
            self.player.play(clip.samples, clip.sample_rate)
        except StudioError as exc:
            self.message.emit(str(exc))

    def changed(self) -> None:
        self.clips.clear()
        for clip in self.timeline.clips:
            text = f"{clip.name}\n{clip.seconds:.2f} s · {clip.sample_rate} Hz · {'stereo' if clip.channels == 2 else 'mono' if clip.channels == 1 else f'{clip.channels} ch'}"
            item = QListWidgetItem(QIcon(waveform(clip)), text)
            item.setData(Qt.ItemDataRole.UserRole, clip)
            if clip.params:
                item.setToolTip("\n".join(f"{k}: {v}" for k, v in clip.params.items()))
            self.clips.addItem(item)
        if self.clips.count():
            self.clips.setCurrentRow(self.clips.count() - 1)
        self.empty.setVisible(not self.timeline.clips)
        self.clips.setVisible(bool(self.timeline.clips))
        self.summary.setText(f"{len(self.timeline.clips)} clip(s) · {self.timeline.seconds:.1f} s")
