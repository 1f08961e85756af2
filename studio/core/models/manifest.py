"""``studio-model.json``: what Studio knows of a model folder it made itself (a download, an import).

Written last, when every file of the model is in place, so its presence is what marks a
downloaded model as installed (a half-finished download has none and is never listed as a
model). A folder the user added keeps no such file: Studio never writes into the user's folders.

    {"format": 1, "name": "Qwen2.5-0.5B-Instruct",
     "source": {"hub": "onnx-community/Qwen2.5-0.5B-Instruct", "revision": "<commit>",
                "endpoint": "https://huggingface.co"},            (or {"import": "/path/of/file"})
     "license": "apache-2.0", "added": "2026-12-03T16:00:00+00:00",
     "variants": ["q4"],                                            the variants downloaded
     "files": {"onnx/model_q4.onnx": {"size": 1234, "sha256": "…"}}}
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.base.atomic_write import write_atomically
from studio.core.models.loaders import read_json
from studio.errors import ModelError

FILE_NAME = "studio-model.json"
FORMAT = 1


@dataclass
class Manifest:
    name: str
    source: dict[str, str] = field(default_factory=dict)
    license: str = ""
    added: str = ""  # ISO 8601, UTC
    variants: list[str] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def hub_repo(self) -> str:
        return self.source.get("hub", "")

    @property
    def source_text(self) -> str:
        """The source in a few words: ``hub: owner/name @ abc1234`` or ``imported from PATH``."""
        if self.hub_repo:
            revision = self.source.get("revision", "")
            return f"hub: {self.hub_repo}" + (f" @ {revision[:7]}" if revision else "")
        if self.source.get("import"):
            return f"imported from {self.source['import']}"
        return "made by Studio"

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "source": self.source, "license": self.license,
                "added": self.added, "variants": self.variants, "files": self.files}


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, ``None`` when it has none; a ``ModelError`` when it is damaged."""
    path = Path(folder) / FILE_NAME
    if not path.is_file():
        return None
    data = read_json(path, FILE_NAME)

    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    source = data.get("source") if isinstance(data.get("source"), dict) else {}
    files = data.get("files") if isinstance(data.get("files"), dict) else {}
    variants = data.get("variants") if isinstance(data.get("variants"), list) else []
    if not text(data.get("name")):
        raise ModelError(f"{path} names no model: the folder was not made by this version of Studio")
    return Manifest(
        name=data["name"],
        source={str(k): text(v) for k, v in source.items()},
        license=text(data.get("license")),
        added=text(data.get("added")),
        variants=[v for v in variants if isinstance(v, str)],
        files={str(k): v for k, v in files.items() if isinstance(v, dict)},
    )


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Write (or replace) the folder's manifest in one step."""
    if not manifest.added:
        manifest.added = now()
    data = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n"
    write_atomically(Path(folder) / FILE_NAME, data.encode("utf-8"))
