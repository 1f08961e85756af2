"""The Download dialog's left side: the curated catalogue, grouped for painters, writers and
musicians, each entry with its kind, its sizes and the device it suits."""

from __future__ import annotations

from typing import Mapping

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from studio.core.models.catalogue import GROUPS, CatalogueEntry
from studio.core.models.variants import human_size
from studio.ui.models.look import GOOD, MUTED, WARNING, kind_name
from studio.ui.plain import plain_label



def size_range(sizes: Mapping[str, int], estimated: bool = False) -> str:
    """``{"q4": 4e8, "fp32": 2e9}`` -> ``"400.0 MB – 2.0 GB"``; one size alone as itself;
    ``about`` before sizes worked out rather than read from the hub."""
    if not sizes:
        return "size unknown"
    low, high = min(sizes.values()), max(sizes.values())
    text = human_size(low) if low == high else f"{human_size(low)} – {human_size(high)}"
    return f"about {text}" if estimated else text


class EntryRow(QWidget):
    def __init__(self, entry: CatalogueEntry) -> None:
        super().__init__()
        self.entry = entry
        title = plain_label(entry.title)
        title.setStyleSheet("font-weight: 600; font-size: 13px;")
        parts = [kind_name(entry.kind).split()[-1], size_range(entry.variants, entry.size_estimated), entry.device]
        second = plain_label("  ·  ".join(p for p in parts if p))
        second.setStyleSheet(MUTED)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 5, 10, 5)
        layout.setSpacing(1)
        layout.addWidget(second)
        if entry.gated:
            gated = plain_label("Gated: needs the license accepted on the hub")
            gated.setStyleSheet(WARNING + " font-size: 11px;")
            layout.addWidget(gated)
        self.installed = plain_label()
        self.installed.setObjectName("installed_mark")
        self.installed.setStyleSheet(GOOD + " font-size: 11px;")
        self.installed.hide()
        title_row = QHBoxLayout()
        title_row.setContentsMargins(0, 0, 0, 0)
        title_row.addWidget(title, 1)
        title_row.addWidget(self.installed)
        layout.insertLayout(0, title_row)

    def show_installed(self, variants: list[str] | None) -> None:
        """``None``: not installed; else the variants in Studio's models folder."""
        self.installed.setText(f"✓ Installed ({', '.join(variants)})" if variants else "✓ Installed")
        self.installed.setVisible(variants is not None)


class CatalogueList(QListWidget):
    """Group headings, then their entries; choosing an entry emits it."""

    chosen = Signal(object)  # CatalogueEntry

    def __init__(self, entries: list[CatalogueEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("catalogue")
        self.setStyleSheet("QListWidget { border: none; } QListWidget::item:selected { background: #2f4f7a; border-radius: 6px; }")
        self.entries = entries
        for group, heading, _kind in GROUPS:
            members = [e for e in entries if e.group == group]
            if not members:
                continue
            header = QListWidgetItem(heading)
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            font = header.font()
            font.setBold(True)
            font.setPointSizeF(font.pointSizeF() * 1.1)
            header.setFont(font)
            header.setForeground(Qt.GlobalColor.lightGray)
            header.setSizeHint(QSize(0, 34))
            self.addItem(header)
            for entry in members:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, entry)
                item.setData(Qt.ItemDataRole.AccessibleTextRole, entry.title)
                item.setSizeHint(QSize(0, 62 if entry.gated else 48))
                self.addItem(item)
                self.setItemWidget(item, EntryRow(entry))
        self.currentItemChanged.connect(self._changed)

    def show_installed(self, installed: Mapping[str, list[str]]) -> None:
        """Mark the entries already in Studio's models folder (repo id -> variants there)."""
        for row in range(self.count()):
            item = self.item(row)
            entry = item.data(Qt.ItemDataRole.UserRole)
            if entry is not None:
                self.itemWidget(item).show_installed(installed.get(entry.repo_id.lower()))

    def select(self, repo_id: str) -> bool:
        for row in range(self.count()):
            entry = self.item(row).data(Qt.ItemDataRole.UserRole)
            if entry is not None and entry.repo_id == repo_id:
                self.setCurrentRow(row)
                return True
        return False

    def _changed(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        entry = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if entry is not None:
            self.chosen.emit(entry)
