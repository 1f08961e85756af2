"""The question a save asks when the project file changed on disk since the window read it.

Another Studio (`studio generate --project`, a second window) may have added to the file
while this window held its own copy: saving over it would silently lose that work. The
person chooses, in a window-modal-free box (jobs keep reporting while it waits):

- **Reload**: open the file as it is now; the changes made here since the last save go.
- **Keep mine**: save over it; the version on disk is kept as the backup (``P.studio.bak``).
- **Save as…**: write this copy to another file; the changed one stays as it is.
- **Cancel**: nothing is written; the work stays open, unsaved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from studio.core.project.format import backup_path
from studio.ui.plain import plain_box

OBJECT_NAME = "project_changed_on_disk"


def ask_about_changed_file(
    parent: QWidget, path: Path, reload: Callable[[], None], keep_mine: Callable[[], None], save_as: Callable[[], None]
) -> QMessageBox:
    """Show the question (not modal) and run the chosen action once it is answered."""
    box = plain_box(
        QMessageBox.Icon.Warning, "The project changed on disk",
        f"“{path.name}” was changed by another program since Studio opened or last saved it.",
        QMessageBox.StandardButton.NoButton, parent,
        informative=(f"Reload opens it as it is now: the changes made here since the last save are lost.\n"
                     f"Keep mine saves over it: the version on disk is kept as {backup_path(path).name}.\n"
                     "Save as… writes this copy to another file and leaves that one as it is."),
    )
    box.setObjectName(OBJECT_NAME)
    choices = {}
    for name, label, role, action in (
        ("reload", "Reload", QMessageBox.ButtonRole.DestructiveRole, reload),
        ("keep_mine", "Keep mine", QMessageBox.ButtonRole.AcceptRole, keep_mine),
        ("save_as", "Save as…", QMessageBox.ButtonRole.ActionRole, save_as),
    ):
        button = box.addButton(label, role)
        button.setObjectName(name)
        choices[button] = action
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    cancel.setObjectName("cancel")
    box.setDefaultButton(cancel)  # Enter must not throw away anyone's work
    box.setEscapeButton(cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(lambda button: choices.get(button, lambda: None)())
    box.open()
    return box
