"""The Import dialog: a model in the files people already have, converted to ONNX on this computer.

File ▸ Import model… (and Models ▸ Import model…, the Models window's Import… button, or a file
dropped on that window) opens it. The person chooses a ``.safetensors`` checkpoint or a folder
(a diffusers folder, a Hugging Face language model, MusicGen), or types its path; Studio says
what it recognised (the kind, the architecture, the size of the weights, the disk and memory
the conversion needs) or, in plain words, why it cannot import it. A name, the optional smaller
variant made at import (an fp16 copy of an SD model for NVIDIA GPUs; int4 or int8 for a language
model), and Import starts the conversion as a job: the Jobs panel shows its progress and its
Cancel, and the dialog may be closed while it runs. When the job installs the model the Models
window lists it and its generator is in the Generate panel (``JobRouting.installed``).

Recognition reads only the files' headers and configuration (``import_source.recognise``):
quick, and no torch in the app's process. The file dialogs are Qt's own, not the desktop's, so
one can take a file or a folder alike and a path can be typed into them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup, QDialog, QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QLineEdit, QPushButton, QRadioButton,
    QSizePolicy, QVBoxLayout, QWidget,
)

from studio.core.engine.jobs import Job, JobState
from studio.core.models.variants import human_size
from studio.errors import StudioError
from studio.ui.models.look import ERROR, GOOD, MUTED, WARNING, badge, heading, line, muted, title_label
from studio.ui.plain import plain_label
from studio.ui.slots import connect_command

if TYPE_CHECKING:
    from studio.core.models.import_source import ImportSource
    from studio.ui.models.model_actions import ModelActions
    from studio.ui.window.main_window import MainWindow

#: What each converter makes, as the person reads it.
FORMAT_NAMES = {
    "sd-checkpoint": "Stable Diffusion checkpoint",
    "diffusers": "diffusers folder",
    "causal-lm": "Language model (transformers)",
    "musicgen": "MusicGen (transformers)",
}
#: The smaller copy an import can make beside the fp32 model, in words.
VARIANT_NAMES = {
    "fp16": "fp16 copy for NVIDIA GPUs (half the size; not faster on the CPU)",
    "int4": "int4 (the smallest; quick on the CPU)",
    "int8": "int8 (a quarter of the size)",
}
CHECKPOINT_FILTER = "Models (*.safetensors);;All files (*)"


class ImportDialog(QDialog):
    """Choose a checkpoint file or a model folder, see what it is, name it, import it."""

    def __init__(self, window: "MainWindow", actions: "ModelActions") -> None:
        super().__init__(window)
        self.window_ = window
        self.actions = actions
        self.source: "ImportSource | None" = None
        self.job: Job | None = None
        self.file_dialog: QFileDialog | None = None
        self.setObjectName("import_dialog")
        self.setWindowTitle("Import a model")
        self.resize(760, 520)

        self.path_box = QLineEdit()
        self.path_box.setObjectName("import_path")
        self.path_box.setPlaceholderText("A .safetensors checkpoint or a model folder; type its path and press Enter")
        self.path_box.setClearButtonEnabled(True)
        self.path_box.returnPressed.connect(self.look)
        self.path_box.textEdited.connect(lambda *_: self._forget())  # what was recognised was another path
        self.file_button = QPushButton("Choose file…")
        self.file_button.setObjectName("choose_file_button")
        connect_command(self.file_button.clicked, lambda: self.choose(folder=False))
        self.folder_button = QPushButton("Choose folder…")
        self.folder_button.setObjectName("choose_folder_button")
        connect_command(self.folder_button.clicked, lambda: self.choose(folder=True))
        for button in (self.file_button, self.folder_button):
            button.setAutoDefault(False)
        choose = QHBoxLayout()
        choose.addWidget(self.path_box, 1)
        choose.addWidget(self.file_button)
        choose.addWidget(self.folder_button)

        # What Studio recognised: a headline, tags, and the figures that decide whether it fits.
        self.headline = title_label(size=18)
        self.headline.setObjectName("import_headline")
        self.kind = badge()
        self.kind.setObjectName("import_kind")
        self.architecture = badge(colour="#2d4a6e")
        tags = QHBoxLayout()
        tags.setSpacing(6)
        for tag in (self.kind, self.architecture):
            tag.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            tags.addWidget(tag)
        tags.addStretch(1)
        self.facts: dict[str, Any] = {}
        facts = QFormLayout()
        facts.setHorizontalSpacing(18)
        facts.setVerticalSpacing(4)
        for key, title in (("weights", "Weights"), ("parameters", "Parameters"), ("disk", "Disk needed"),
                           ("memory", "Memory needed")):
            value = plain_label()
            value.setObjectName(f"import_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.facts[key] = value
            name = plain_label(title)
            name.setStyleSheet(MUTED)
            facts.addRow(name, value)
        self.room_note = plain_label("This computer lacks the room: the import would stop before it starts. "
                                     "Free some disk or memory first.")
        self.room_note.setObjectName("import_room_note")
        self.room_note.setWordWrap(True)
        self.room_note.setStyleSheet(WARNING)
        self.extra_note = plain_label()  # the convert extra missing: the exact command, selectable
        self.extra_note.setObjectName("import_extra_note")
        self.extra_note.setWordWrap(True)
        self.extra_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.extra_note.setStyleSheet(f"{WARNING} background: #3a3222; border-radius: 6px; padding: 10px;")
        self.extra_note.hide()
        self.why_not = plain_label()  # the refusal, in the converter's words: what it is and what to do
        self.why_not.setObjectName("import_refusal")
        self.why_not.setWordWrap(True)
        self.why_not.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.why_not.setStyleSheet(f"{ERROR} background: #3a2426; border-radius: 6px; padding: 10px;")

        self.name_box = QLineEdit()
        self.name_box.setObjectName("import_name")
        self.name_box.setPlaceholderText("The name the Models window and the Generate panel show")
        self.name_box.textChanged.connect(lambda *_: self._name_changed())
        self.name_note = muted()  # a name another model has: where this one will go instead
        self.name_note.setObjectName("import_name_note")
        self.name_note.hide()
        named = QFormLayout()
        named.addRow(plain_label("Name"), self.name_box)
        named.addRow("", self.name_note)

        self.variants_heading = heading("Also make a smaller copy")
        self.variant_box = QWidget()
        self.variant_grid = QGridLayout(self.variant_box)
        self.variant_grid.setContentsMargins(0, 0, 0, 0)
        palette = self.variant_box.palette()  # the dark theme's base makes an empty radio circle vanish
        palette.setColor(QPalette.ColorRole.Base, QColor("#45454e"))
        self.variant_box.setPalette(palette)
        self.variant_group = QButtonGroup(self)
        self.variant_buttons: dict[str, QRadioButton] = {}
        self.variant_group.buttonToggled.connect(lambda _button, on: on and self._show_needs())

        self.details = QWidget()
        details = QVBoxLayout(self.details)
        details.setContentsMargins(0, 6, 0, 0)
        details.setSpacing(6)
        details.addWidget(self.headline)
        details.addLayout(tags)
        details.addLayout(facts)
        details.addWidget(self.room_note)
        details.addWidget(line())
        details.addLayout(named)
        details.addWidget(self.variants_heading)
        details.addWidget(self.variant_box)

        self.status = plain_label()
        self.status.setObjectName("import_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # a command to copy
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("import_button")
        self.import_button.setMinimumWidth(140)
        self.import_button.setMinimumHeight(30)
        self.import_button.setAutoDefault(False)  # Enter in the path box looks at the path; it never imports
        self.import_button.setStyleSheet("QPushButton:enabled { background: #3d7bd9; color: white; font-weight: 600; padding: 6px 14px; }")
        connect_command(self.import_button.clicked, self.start)
        close = QPushButton("Close")
        close.setObjectName("import_close")
        close.setAutoDefault(False)
        connect_command(close.clicked, self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(close)
        bottom.addWidget(self.import_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addWidget(title_label("Import a model", size=22))
        layout.addWidget(muted("A Stable Diffusion checkpoint (.safetensors), a diffusers folder, or a Hugging Face "
                               "language model or MusicGen folder with safetensors weights. Studio converts it to "
                               "ONNX on this computer; the original stays where it is."))
        layout.addWidget(self.extra_note)
        layout.addLayout(choose)
        layout.addWidget(self.why_not)
        layout.addWidget(self.details)
        layout.addStretch(1)
        layout.addLayout(bottom)
        self._forget()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        self.check_converter()
        self._name_changed()  # a model of that name may have been installed since
        super().showEvent(event)

    def check_converter(self) -> bool:
        """Say, with the command to run, when the convert extra is not installed (asked of
        Python's finder: the converter's libraries are never imported here)."""
        from studio.core.models.importing import check_convert_extra

        try:
            check_convert_extra()
        except StudioError as exc:
            self.extra_note.setText(str(exc))
            self.extra_note.show()
            self._update_button()
            return False
        self.extra_note.hide()
        self._update_button()
        return True

    # -- choosing ----------------------------------------------------------------------------

    def choose(self, folder: bool) -> QFileDialog:
        """Qt's file dialog for a checkpoint file (or a model folder); its answer is looked at at once."""
        start = self.path_box.text().strip()
        start = str(Path(start).parent) if start and not Path(start).is_dir() else start
        dialog = QFileDialog(self, "Choose a model folder" if folder else "Choose a checkpoint", start, CHECKPOINT_FILTER)
        dialog.setObjectName("import_file_dialog")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        if folder:
            dialog.setFileMode(QFileDialog.FileMode.Directory)
            dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        else:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.look_at)
        self.file_dialog = dialog
        dialog.destroyed.connect(lambda *_: setattr(self, "file_dialog", None))
        dialog.open()
        return dialog

    def look_at(self, path: str) -> None:
        """Put ``path`` in the box and say what it is (a file chosen, a file dropped)."""
        if path:
            self.path_box.setText(path)
            self.look()

    def look(self) -> None:
        """Recognise what the path in the box holds, or say why Studio cannot import it."""
        from studio.core.models.import_source import recognise  # the importer loads when first used

        text = self.path_box.text().strip()
        self._forget()
        if not text:
            return
        try:
            source = recognise(Path(text).expanduser())
        except StudioError as exc:
            self.why_not.setText(str(exc))
            self.why_not.show()
            return
        except OSError as exc:  # unreadable (permissions, a vanished disk): said, never raised into Qt
            self.why_not.setText(f"Cannot read {text}: {exc.strerror or exc}")
            self.why_not.show()
            return
        self.show_source(source)

    def show_source(self, source: "ImportSource") -> None:
        self.source = source
        headline = source.description or FORMAT_NAMES.get(source.format, source.format)
        self.headline.setText(headline[:1].upper() + headline[1:])  # "a Qwen2 language model" heads the pane
        self.kind.setText(FORMAT_NAMES.get(source.format, source.format))
        family = _architecture(source)
        self.architecture.setText(family)
        self.architecture.setVisible(bool(family))
        self.facts["weights"].setText(human_size(int(source.weights_bytes or 0)))
        self.facts["parameters"].setText(_count(source.parameters))
        self.name_box.setText(source.name)
        self._fill_variants(tuple(source.variants_offered or ()))
        self._show_needs()
        self.details.show()
        self.status.setStyleSheet(MUTED)
        self.status.setText("The conversion runs in a process of its own; the Jobs panel shows how far it is.")
        self._update_button()

    def _forget(self) -> None:
        """Nothing recognised (yet): no details, no Import."""
        self.source = None
        self.why_not.hide()
        self.details.hide()
        if self.job is None or self.job.state.done:
            self.status.setStyleSheet(MUTED)
            self.status.setText("Choose a file or a folder, or type its path and press Enter.")
        self._update_button()

    def _fill_variants(self, offered: tuple[str, ...]) -> None:
        for button in self.variant_group.buttons():
            self.variant_group.removeButton(button)
        while self.variant_grid.count():
            widget = self.variant_grid.takeAt(0).widget()
            if widget is not None:
                widget.hide()
                widget.setParent(None)
                widget.deleteLater()
        self.variant_buttons = {}
        for row, name in enumerate(("", *offered)):
            button = QRadioButton(VARIANT_NAMES.get(name, name) if name else "No: the fp32 model only")
            button.setObjectName(f"import_variant_{name or 'none'}")
            button.setProperty("variant", name)
            self.variant_group.addButton(button)
            self.variant_buttons[name] = button
            self.variant_grid.addWidget(button, row, 0)
        self.variant_grid.setColumnStretch(1, 1)  # each button as wide as its words: a click on its row's blank end is no choice
        self.variant_buttons[""].setChecked(True)
        self.variants_heading.setVisible(bool(offered))
        self.variant_box.setVisible(bool(offered))

    def _show_needs(self) -> None:
        if self.source is None:
            return
        disk, memory, fits = _needs(self.source, self.chosen_variant())
        self.facts["disk"].setText(disk)
        self.facts["memory"].setText(memory)
        for key in ("disk", "memory"):
            self.facts[key].setStyleSheet("" if fits else WARNING)
        self.room_note.setVisible(not fits)

    def chosen_variant(self) -> str:
        button = self.variant_group.checkedButton()
        return str(button.property("variant")) if button is not None else ""

    # -- importing ---------------------------------------------------------------------------

    def start(self) -> None:
        """Import: the conversion starts as a job (the Jobs panel shows it); this window may close."""
        source, name = self.source, self.name_box.text().strip()
        if source is None or not name:
            return
        try:
            job = self.actions.import_model(str(source.path), name, self.chosen_variant())
        except StudioError as exc:  # no room, the name taken, the convert extra missing: said here
            self.status.setStyleSheet(ERROR)
            self.status.setText(str(exc))
            return
        self.job = job
        self.window_.bridge.state_changed.connect(self._job_state)
        self.status.setStyleSheet(GOOD)
        self.status.setText(f"Importing {name}: the Jobs panel shows its progress. You can close this window.")
        self._update_button()

    def _job_state(self, job: Job, state: JobState) -> None:
        if job is not self.job or not state.done:
            return
        self.window_.bridge.state_changed.disconnect(self._job_state)
        name = str(job.request.params.get("name") or self.name_box.text())
        if state is JobState.FINISHED:
            self.status.setStyleSheet(GOOD)
            self.status.setText(f"Imported {name}: choose it in the Generate panel.")
        elif state is JobState.FAILED:
            self.status.setStyleSheet(ERROR)
            self.status.setText(f"{name} was not imported: {job.message}")
        else:
            self.status.setStyleSheet(WARNING)
            self.status.setText(f"The import of {name} was cancelled; nothing was installed.")
        self._update_button()

    def _name_changed(self) -> None:
        """Say where the model goes when a model of that name is installed already (it is never
        overwritten: the import takes the next free name)."""
        from studio.core.models.importing import free_name

        name = self.name_box.text().strip()
        free = free_name(name) if name and "/" not in name and "\\" not in name and not name.startswith(".") else name
        self.name_note.setText(f"A model called {name} is installed already: this one will be {free}.")
        self.name_note.setVisible(free != name)
        self._update_button()

    def _update_button(self) -> None:
        running = self.job is not None and not self.job.state.done
        ready = self.source is not None and bool(self.name_box.text().strip()) and not running
        self.import_button.setEnabled(ready and self.extra_note.isHidden())


#: A checkpoint's family as people name it.
FAMILY_NAMES = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL"}


def _architecture(source: "ImportSource") -> str:
    """A short name for the family (``SD 1.x``, ``SDXL``) when the recognition names one."""
    arch = source.architecture if isinstance(source.architecture, dict) else {}
    family = str(arch.get("family") or "")
    return FAMILY_NAMES.get(family, family)


def _count(parameters: Any) -> str:
    """``859 520 964`` -> ``860 M`` (the size people quote a model by)."""
    try:
        count = int(parameters)
    except (TypeError, ValueError):
        return "–"
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return str(count)


def _needs(source: "ImportSource", variant: str) -> tuple[str, str, bool]:
    """The disk and the memory the conversion needs beside what this computer has free, in
    words, and whether both fit (the job refuses before it starts when they do not)."""
    from studio.core.base import paths
    from studio.core.base.memory import available_memory
    from studio.core.models.download import disk_free
    from studio.core.models.import_estimate import estimate

    need = estimate(source.parameters, source.weights_bytes, variant)
    disk, memory = disk_free(paths.models()), available_memory()
    disk_text = (f"{human_size(need.disk)} ({human_size(need.final)} stays; "
                 f"{human_size(disk)} free on the disk of Studio's models folder)")
    memory_text = f"{human_size(need.memory)} while it converts" + (f" ({human_size(memory)} free)" if memory is not None else "")
    return disk_text, memory_text, need.disk <= disk and (memory is None or need.memory <= memory)
