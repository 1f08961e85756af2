"""``import studio`` is the whole plugin API: complete, and nothing else."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import numpy as np

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.loaders import load_folder
from studio.core.engine.runtime import Runtime
from studio.core.media.sound import Audio
from studio.plugins import PluginHost, PluginInfo

README = Path(__file__).resolve().parents[2] / "README.md"


def test_audio_is_exported_and_is_what_an_audio_parameter_gives():
    from studio import Audio as Exported

    assert Exported is Audio
    clip = studio.Audio(np.zeros((8, 1), np.float32), 8000)
    assert studio.Param("sound", "audio").coerce(clip) is clip


def test_all_lists_every_public_name_and_only_those():
    public = {name for name, value in vars(studio).items() if not name.startswith("_") and not isinstance(value, ModuleType)}
    assert public == set(studio.__all__)
    assert studio.__all__ == sorted(studio.__all__)


def test_every_name_the_plugin_guide_uses_is_exported():
    guide = README.read_text(encoding="utf-8").partition("## Writing a plugin")[2].partition("\n## ")[0]
    used = set(re.findall(r"\bstudio\.([A-Za-z_]\w*)", guide))
    assert {"Generator", "Param", "Result", "Preview", "Progress", "ModelLoader", "Audio", "hookimpl"} <= used
    assert used <= set(studio.__all__), f"the guide uses names the API lacks: {sorted(used - set(studio.__all__))}"


# -- the guide's model loader, run for real -------------------------------------------------


def guide_example(tmp_path: Path) -> ModuleType:
    """The README's ``studio_tone.py``, imported from a file as its package would be."""
    text = README.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL) if b.startswith("# studio-tone/studio_tone.py"))
    path = tmp_path / "studio_tone_guide.py"
    path.write_text(block, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("studio_tone_guide", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def preset(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "tone.json").write_text(text, encoding="utf-8")
    return folder


def test_the_guides_loader_turns_a_preset_folder_into_a_generator(tmp_path):
    host = PluginHost(allow=[])
    host.add_plugin(guide_example(tmp_path), PluginInfo("tone", "studio_tone"))
    assert [loader.id for loader in host.loaders] == ["tone-preset"]

    entry = load_folder(preset(tmp_path, "low-saw", '{"frequency": 110, "waveform": "saw"}'), host.loaders)
    assert entry.ok, entry.error
    generator = entry.generator
    assert (generator.id, generator.kind) == ("tone:low-saw", "audio")
    runner = JobRunner(Runtime(cpu_threads=1))
    try:
        job = runner.submit(generator, generator.request({"seconds": 0.2, "seed": 3}))
        assert job.wait(30) and job.state is JobState.FINISHED, job.message
    finally:
        runner.shutdown()
    assert job.result.params == {"seed": 3, "frequency": 110.0, "seconds": 0.2, "waveform": "saw"}
    assert job.result.value.shape == (8820, 1)

    # A folder with the layout that cannot be used says why, in words.
    for name, text, words in (
        ("broken", "{not json", "is not a tone preset"),
        ("triangle", '{"waveform": "triangle"}', "is not a tone preset"),
        ("subsonic", '{"frequency": 5}', "frequency: 5"),
    ):
        entry = load_folder(preset(tmp_path, name, text), host.loaders)
        assert not entry.ok and words in entry.error, entry.error
        assert "failed to load" not in entry.error  # a plain message, not a loader's bug
