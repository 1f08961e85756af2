"""Settings > Model folders lists the user's own folders only: downloaded models are loaded beside
them (host.reload_model_folders), but they are removed from the Models window, which deletes them;
"Remove" here only forgets a folder, which would do nothing to a download."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from studio.core.base.paths import builtin_models
from studio.host import Host
from studio.ui.window.dialogs import SettingsDialog

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_library import downloaded_cppn  # noqa: E402


def test_settings_lists_your_folders_not_the_downloaded_models(qtbot, tmp_path):
    downloaded_cppn()
    mine = tmp_path / "mine"
    shutil.copytree(builtin_models() / "cppn", mine)
    host = Host()
    try:
        host.add_model_folder(str(mine))
        assert {"cppn:abstract", "cppn:mine"} <= set(host.generators)  # both load

        dialog = SettingsDialog(host, None)
        qtbot.addWidget(dialog)

        items = [dialog.folders.item(i).text() for i in range(dialog.folders.count())]
        assert len(items) == 1 and "cppn:mine" in items[0]
    finally:
        host.shutdown()
