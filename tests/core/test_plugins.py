"""Plugins installed for real: discovery, the allow-list, safe mode and failure isolation.

Nothing here is mocked. A session fixture builds the plugin distributions under
``tests/fixtures/plugins/`` and the README's ``studio-tone`` example (extracted from README.md,
so the documented example is exactly what is tested) and installs each with real pip into a
folder of its own. A test puts the folders it wants on ``sys.path`` (``importlib.metadata``
finds the ``.dist-info`` there) for the in-process ``PluginHost``, or on ``PYTHONPATH`` for the
``python -m studio`` subprocesses, and the host discovers them as it discovers any plugin a
user installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile

from studio.core.engine.generators import Preview, Progress
from studio.core.engine.jobs import Job, JobRunner, JobState, StateChanged
from studio.core.project.outputs import read_parameters
from studio.core.engine.runtime import Runtime
from studio.errors import UnknownGeneratorError
from studio.plugins import PluginHost, PluginInfo

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FIXTURES = ROOT / "tests" / "fixtures" / "plugins"
FIXTURE_PACKAGES = (
    "import-errors", "half-registers", "invalid", "unknown-hook", "crashy", "twin-a", "twin-b", "shadow", "exits", "specname",
)  # fmt: skip
BROKEN = ("import-errors", "half-registers", "invalid", "unknown-hook", "exits")
TONE_RATE = 44100  # the README example's sample rate
JOB_TIMEOUT = 60


# -- building and installing the plugin distributions --------------------------------------


def readme_example() -> dict[str, str]:
    """The README's ``studio-tone`` files: each fenced block whose first line is ``# studio-tone/<path>``."""
    text = README.read_text(encoding="utf-8")
    files = {}
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        match = re.fullmatch(r"# (studio-tone/[\w./-]+)", block.partition("\n")[0].strip())
        if match:
            files[match.group(1)] = block
    return files


def pip_install(source: Path, target: Path) -> Path:
    """``pip install`` the project at ``source`` into ``target`` (a folder for ``sys.path``)."""
    build = target.with_name(target.name + "-src")  # pip builds in the tree: keep the repo clean
    shutil.copytree(source, build)
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "--no-warn-script-location", "--quiet", "--target", str(target), str(build),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        hint = "\n(setuptools older than 70.1 builds wheels only with the `wheel` package installed)" if "bdist_wheel" in done.stderr else ""
        pytest.fail(f"pip could not install {source.name}:\n{done.stdout}\n{done.stderr}{hint}", pytrace=False)
    return target


@pytest.fixture(scope="session")
def plugin_sites(tmp_path_factory) -> dict[str, Path]:
    """Every test plugin distribution installed into its own folder: ``{name: folder}``."""
    root = tmp_path_factory.mktemp("plugin-sites")
    tone_source = root / "readme" / "studio-tone"
    for relative, text in readme_example().items():
        path = root / "readme" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    sources = {"tone": tone_source, **{name: FIXTURES / name for name in FIXTURE_PACKAGES}}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(pip_install, source, root / name) for name, source in sources.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture
def use_plugins(plugin_sites, monkeypatch):
    """``use_plugins("tone", "crashy")``: make those installed distributions importable here.

    Modules imported from them are dropped afterwards, so every test imports its plugins afresh.
    """
    before = set(sys.modules)

    def use(*names: str) -> list[Path]:
        sites = [plugin_sites[name] for name in names]
        for site in sites:
            monkeypatch.syspath_prepend(str(site))
        return sites

    yield use
    for name in set(sys.modules) - before:
        if name.startswith(("studio_fixture_", "studio_tone")):
            del sys.modules[name]


@pytest.fixture
def runner():
    runner = JobRunner(Runtime(cpu_threads=1))
    yield runner
    runner.shutdown()


# -- helpers -----------------------------------------------------------------------------------


def plugin(host: PluginHost, name: str, builtin: bool | None = None) -> PluginInfo:
    found = [p for p in host.plugins if p.name == name and (builtin is None or p.builtin == builtin)]
    assert len(found) == 1, f"expected one plugin {name!r}, found {found} among {[p.name for p in host.plugins]}"
    return found[0]


def assert_failed(info: PluginInfo, *fragments: str, host: PluginHost | None = None) -> None:
    assert info.status == "failed", info
    assert info.error, info
    for fragment in fragments:
        assert fragment in info.error, f"{fragment!r} not in {info.error!r}"
    assert info.generators == [] and info.loaders == [], "a failed plugin must contribute nothing"
    if host is not None:
        assert host.pm.get_plugin(info.name) is None, "a failed plugin must not stay registered for later hook calls"


def run(runner: JobRunner, host: PluginHost, generator_id: str, **values) -> tuple[Job, list]:
    generator = host.generator(generator_id)
    events: list = []
    job = runner.submit(generator, generator.request(values), listeners=[lambda job, event: events.append(event)])
    assert job.wait(JOB_TIMEOUT), f"{generator_id} did not finish in {JOB_TIMEOUT} s"
    return job, events


def assert_cppn_works(host: PluginHost, runner: JobRunner) -> None:
    info = plugin(host, "cppn", builtin=True)
    assert info.status == "loaded" and info.generators == ["cppn"] and info.loaders == ["cppn"], info
    job, _ = run(runner, host, "cppn", seed=3, width=48, height=32)
    assert job.state is JobState.FINISHED, job.message
    image = job.result.value
    assert image.shape == (32, 48, 4) and image.dtype == np.uint8
    assert image[..., :3].std() > 5, "the CPPN image is flat"


def assert_tone_works(host: PluginHost, runner: JobRunner) -> np.ndarray:
    info = plugin(host, "tone")
    assert info.status == "loaded" and info.generators == ["tone"], info
    job, _ = run(runner, host, "tone", seed=1, seconds=0.5, frequency=440.0)
    assert job.state is JobState.FINISHED, job.message
    assert job.result.value.shape == (TONE_RATE // 2, 1)
    return job.result.value


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def studio_cli(*args: str, sites: list[Path] = (), cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m studio ARGS`` with ``sites`` on PYTHONPATH (STUDIO_HOME is the test's own)."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join([*map(str, sites), *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=180
    )


def listed(output: str, name: str) -> str:
    """The ``studio plugins`` row for plugin ``name`` and the note lines under it."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.split()[:1] == [name]:
            notes = []
            for following in lines[index + 1 :]:
                if not following.startswith(" "):
                    break
                notes.append(following)
            return "\n".join([line, *notes])
    raise AssertionError(f"plugin {name!r} is not listed:\n{output}")


# -- the README example --------------------------------------------------------------------------


def test_readme_example_is_a_complete_plugin_package():
    files = readme_example()
    assert set(files) == {"studio-tone/pyproject.toml", "studio-tone/studio_tone.py"}
    project = tomllib.loads(files["studio-tone/pyproject.toml"])
    assert project["project"]["entry-points"]["studio"] == {"tone": "studio_tone"}
    assert "@studio.hookimpl\ndef register_generators(register):" in files["studio-tone/studio_tone.py"]
    readme = README.read_text(encoding="utf-8")
    assert "pip install -e ./studio-tone" in readme


def test_readme_example_loads_beside_the_builtin_plugin(use_plugins):
    use_plugins("tone")
    host = PluginHost().load()
    cppn, tone = plugin(host, "cppn"), plugin(host, "tone")
    assert (cppn.builtin, cppn.distribution, cppn.status) == (True, "studio-desktop", "loaded")
    assert (tone.builtin, tone.distribution, tone.version, tone.status, tone.error) == (False, "studio-tone", "0.1.0", "loaded", "")
    assert tone.module == "studio_tone" and tone.generators == ["tone"]
    generator = host.generator("tone")
    assert (generator.kind, generator.plugin_name) == ("audio", "tone")
    assert [(p.name, p.type) for p in generator.params] == [
        ("seed", "seed"), ("frequency", "float"), ("seconds", "float"), ("waveform", "choice"),
    ]  # fmt: skip
    assert generator.param("waveform").choices == ("sine", "square", "saw")
    assert host.failed() == []


def test_readme_example_generates_through_the_job_runner(use_plugins, runner):
    use_plugins("tone")
    host = PluginHost().load()
    job, events = run(runner, host, "tone", seed=7, frequency=440.0, seconds=1.0, waveform="sine")
    assert job.state is JobState.FINISHED, job.message

    result = job.result
    assert (result.kind, result.generator, result.sample_rate) == ("audio", "tone", TONE_RATE)
    audio = result.value
    assert audio.dtype == np.float32 and audio.shape == (TONE_RATE, 1)
    assert 0.25 < np.abs(audio).max() <= 0.3 + 1e-6
    assert abs(dominant_frequency(audio[:, 0], TONE_RATE) - 440.0) <= 1.0
    assert result.params == {"seed": 7, "frequency": 440.0, "seconds": 1.0, "waveform": "sine"}

    progress = [e for e in events if isinstance(e, Progress) and e.total > 0]
    previews = [e for e in events if isinstance(e, Preview)]
    assert [(p.step, p.total) for p in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(p.kind == "audio" and p.sample_rate == TONE_RATE and p.value.ndim == 2 for p in previews)
    np.testing.assert_array_equal(np.concatenate([p.value for p in previews]), audio)
    states = [e.state for e in events if isinstance(e, StateChanged)]
    assert states == [JobState.QUEUED, JobState.RUNNING, JobState.FINISHED]

    again, _ = run(runner, host, "tone", **result.params)
    np.testing.assert_array_equal(again.result.value, audio)  # the params reproduce the result
    square, _ = run(runner, host, "tone", seed=7, frequency=440.0, seconds=1.0, waveform="square")
    assert set(np.unique(square.result.value)) == {np.float32(-0.3), np.float32(0.3)}


def test_readme_example_generates_a_real_wav_file_from_the_cli(plugin_sites, tmp_path):
    sites = [plugin_sites["tone"]]
    listing = studio_cli("plugins", sites=sites, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "loaded" in listed(listing.stdout, "tone") and "studio-tone" in listed(listing.stdout, "tone")
    assert "loaded" in listed(listing.stdout, "cppn")

    generators = studio_cli("generators", "tone", sites=sites, cwd=tmp_path)
    assert generators.returncode == 0, generators.stderr
    assert "frequency" in generators.stdout and "sine | square | saw" in generators.stdout

    out = tmp_path / "out.wav"
    done = studio_cli(
        "generate", "tone", "-o", str(out), "--param", "seconds=1.5", "--param", "frequency=330", "--param", "seed=5",
        sites=sites, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    samples, rate = soundfile.read(out, dtype="float32")
    assert rate == TONE_RATE and samples.shape == (round(1.5 * TONE_RATE),)
    assert np.sqrt(np.mean(samples**2)) > 0.15, "the file is (nearly) silent"
    assert abs(dominant_frequency(samples, rate) - 330.0) <= 1.0
    assert read_parameters(out) == {
        "generator": "tone", "params": {"seed": 5, "frequency": 330.0, "seconds": 1.5, "waveform": "sine"},
    }  # fmt: skip


# -- broken plugins: each is listed as failed, and everything else keeps working ----------------


def test_plugins_that_fail_to_import_are_listed_and_the_rest_works(use_plugins, runner):
    use_plugins("tone", "import-errors")
    host = PluginHost().load()
    assert_failed(
        plugin(host, "raises-on-import"),
        "studio_fixture_import_errors.raises", "RuntimeError: this plugin is broken on purpose",
    )  # fmt: skip
    assert_failed(plugin(host, "exits-on-import"), "studio_fixture_import_errors.exits", "SystemExit")
    assert_failed(plugin(host, "missing-module"), "ModuleNotFoundError", "studio_fixture_no_such_module")
    assert {p.distribution for p in host.failed()} == {"studio-fixture-import-errors"}
    assert_cppn_works(host, runner)
    assert_tone_works(host, runner)


def test_plugin_that_raises_after_registering_is_withdrawn(use_plugins, runner, tmp_path):
    use_plugins("tone", "half-registers")
    host = PluginHost().load()
    assert_failed(
        plugin(host, "half-registers"), "register_generators raised RuntimeError: gave up after the first generator", host=host
    )
    # What it registered before raising is gone: its generator and its model loader.
    assert "half-ok" not in host.generators
    with pytest.raises(UnknownGeneratorError):
        host.generator("half-ok")
    assert "half-loader" not in [loader.id for loader in host.loaders]
    folder = tmp_path / "half-model"
    folder.mkdir()
    (folder / "half.json").write_text("{}")
    (entry,) = host.set_model_folders([folder])
    assert not entry.ok and "no installed plugin understands" in entry.error
    assert_cppn_works(host, runner)
    assert_tone_works(host, runner)


def test_plugins_that_register_invalid_things_are_withdrawn(use_plugins, runner):
    use_plugins("tone", "invalid")
    host = PluginHost().load()
    assert_failed(plugin(host, "not-a-generator"), "register_generators:", "is not a studio.Generator", host=host)
    assert_failed(plugin(host, "bad-kind"), "register_generators:", "'video'", "kind must be one of", host=host)
    assert_failed(plugin(host, "not-a-loader"), "register_model_loaders:", "is not a studio.ModelLoader", host=host)
    assert_failed(plugin(host, "raising-property"), "register_generators:", "LookupError: no kind today", host=host)
    # Each registered a valid generator first: withdrawn with the rest of its plugin.
    for generator_id in ("valid-before-duck", "valid-before-video", "valid-beside-bad-loader", "duck", "video", "moody"):
        assert generator_id not in host.generators
    assert set(host.generators) == {"chorale", "cppn", "emoji-vae", "resize", "shakespeare", "tone"}
    # Only the built-ins' loaders and the tone example's: the bad plugin's valid loader went with it.
    assert [loader.id for loader in host.loaders] == ["chorale", "cppn", "latent", "musicgen", "stable-diffusion", "causal-lm", "upscale", "tone-preset"]
    assert_cppn_works(host, runner)
    assert_tone_works(host, runner)


def test_plugin_with_an_unknown_hook_fails_whole(use_plugins, runner):
    use_plugins("tone", "unknown-hook")
    host = PluginHost().load()
    assert_failed(plugin(host, "unknown-hook"), "unknown hook(s): register_widgets", host=host)
    assert "unknown-hook-gen" not in host.generators  # its valid hook is not used either
    assert_cppn_works(host, runner)
    assert_tone_works(host, runner)


def test_generator_that_raises_fails_its_job_and_the_app_keeps_working(use_plugins, runner):
    from studio.core.base.logs import setup_logging

    log_file = setup_logging()
    use_plugins("tone", "crashy")
    host = PluginHost().load()
    assert plugin(host, "crashy").status == "loaded"  # the plugin is fine; its generator has a bug

    job, events = run(runner, host, "crashy", seed=1)
    assert job.state is JobState.FAILED and job.result is None
    assert job.message.startswith(
        "internal error in crashy (plugin crashy): RuntimeError: the crashy generator fell over."
    ), job.message
    assert str(log_file) in job.message
    assert [e.state for e in events if isinstance(e, StateChanged)] == [JobState.QUEUED, JobState.RUNNING, JobState.FAILED]
    logged = log_file.read_text(encoding="utf-8")
    assert "Traceback" in logged and "the crashy generator fell over" in logged

    # The same runner (the same worker thread) goes on to the next jobs.
    assert_cppn_works(host, runner)
    assert_tone_works(host, runner)
    assert runner.active() == []


def test_plugin_that_calls_sys_exit_in_a_hook_does_not_close_studio(use_plugins, runner):
    use_plugins("tone", "exits")
    host = PluginHost().load()  # before the fix, this line ended the process with status 4
    assert_failed(plugin(host, "exits-in-hook"), "register_generators raised SystemExit: 4", host=host)
    assert plugin(host, "exits-in-generate").status == "loaded"
    assert_cppn_works(host, runner)
    assert_tone_works(host, runner)


def test_generator_that_calls_sys_exit_fails_its_job_instead_of_hanging_the_queue(use_plugins, runner):
    use_plugins("exits")
    host = PluginHost().load()
    generator = host.generator("exits")
    job = runner.submit(generator, generator.request())
    assert job.wait(10), "the job never ended: SystemExit killed the device's worker thread"
    assert job.state is JobState.FAILED
    assert job.message.startswith("internal error in exits (plugin exits-in-generate): SystemExit:"), job.message
    assert_cppn_works(host, runner)  # the same device queue runs the next job


def test_valid_plugin_using_pluggy_specname_loads(use_plugins, runner):
    use_plugins("specname")
    host = PluginHost().load()
    info = plugin(host, "specname")
    assert (info.status, info.error, info.generators) == ("loaded", "", ["specname-gen"])
    job, _ = run(runner, host, "specname-gen")
    assert job.result.value == "named"


def test_generator_that_raises_in_the_cli_gives_a_message_not_a_traceback(plugin_sites, tmp_path):
    sites = [plugin_sites["crashy"], plugin_sites["tone"]]
    out = tmp_path / "crash.png"
    done = studio_cli("generate", "crashy", "-o", str(out), sites=sites, cwd=tmp_path)
    assert done.returncode != 0
    assert "internal error in crashy (plugin crashy): RuntimeError: the crashy generator fell over" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
    art = tmp_path / "art.png"
    done = studio_cli("generate", "cppn", "-o", str(art), "--param", "width=64", "--param", "height=64", sites=sites, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert art.stat().st_size > 0


def test_studio_plugins_lists_every_broken_plugin_and_the_rest_generates(plugin_sites, tmp_path):
    sites = [plugin_sites[name] for name in ("tone", *BROKEN)]
    done = studio_cli("plugins", sites=sites, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = {
        "raises-on-import": "RuntimeError: this plugin is broken on purpose",
        "exits-on-import": "SystemExit",
        "missing-module": "ModuleNotFoundError",
        "half-registers": "register_generators raised RuntimeError: gave up after the first generator",
        "not-a-generator": "is not a studio.Generator",
        "bad-kind": "kind must be one of",
        "not-a-loader": "is not a studio.ModelLoader",
        "unknown-hook": "unknown hook(s): register_widgets",
        "raising-property": "LookupError: no kind today",
        "exits-in-hook": "register_generators raised SystemExit: 4",
    }
    for name, error in expected.items():
        row = listed(done.stdout, name)
        assert "failed" in row.splitlines()[0] and error in row, row
    for name in ("cppn", "tone", "exits-in-generate"):
        assert "loaded" in listed(done.stdout, name).splitlines()[0]

    for generator_id, output, params in (("cppn", "art.png", ["width=64", "height=48"]), ("tone", "tone.wav", ["seconds=0.3"])):
        args = [arg for param in params for arg in ("--param", param)]
        done = studio_cli("generate", generator_id, "-o", str(tmp_path / output), *args, sites=sites, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    samples, rate = soundfile.read(tmp_path / "tone.wav")
    assert rate == TONE_RATE and len(samples) == round(0.3 * TONE_RATE) and np.abs(samples).max() > 0.25


# -- which plugins load: the allow-list and safe mode --------------------------------------------


def test_allow_list_loads_only_the_plugins_it_names(use_plugins, monkeypatch, runner):
    use_plugins("tone", "import-errors", "crashy")
    monkeypatch.setenv("STUDIO_LOAD_PLUGINS", "tone")
    host = PluginHost().load()
    assert plugin(host, "tone").status == "loaded"
    for name in ("cppn", "raises-on-import", "exits-on-import", "crashy"):
        info = plugin(host, name)
        assert info.status == "disabled" and "STUDIO_LOAD_PLUGINS" in info.error, info
    assert set(host.generators) == {"tone"}
    assert "studio_fixture_import_errors.raises" not in sys.modules, "a disabled plugin must not even be imported"
    assert "studio_fixture_crashy" not in sys.modules
    assert_tone_works(host, runner)

    monkeypatch.setenv("STUDIO_LOAD_PLUGINS", " tone, cppn ,")
    host = PluginHost().load()
    assert {p.name for p in host.plugins if p.status == "loaded"} == {"tone", "cppn"}
    assert set(host.generators) == {"tone", "cppn"}
    assert host.failed() == []


def test_empty_allow_list_loads_nothing(use_plugins, monkeypatch):
    use_plugins("tone")
    monkeypatch.setenv("STUDIO_LOAD_PLUGINS", "")
    host = PluginHost().load()
    assert {p.name for p in host.plugins} >= {"cppn", "tone"}
    assert {p.status for p in host.plugins} == {"disabled"}
    assert host.generators == {} and host.loaders == []
    with pytest.raises(UnknownGeneratorError, match="see `studio plugins`"):
        host.generator("cppn")


def test_allow_list_in_the_cli(plugin_sites, tmp_path):
    done = studio_cli("plugins", sites=[plugin_sites["tone"]], cwd=tmp_path, env={"STUDIO_LOAD_PLUGINS": "tone"})
    assert done.returncode == 0, done.stderr
    assert "loaded" in listed(done.stdout, "tone").splitlines()[0]
    cppn = listed(done.stdout, "cppn")
    assert "disabled" in cppn.splitlines()[0] and "STUDIO_LOAD_PLUGINS" in cppn


def test_safe_mode_loads_only_builtin_plugins(use_plugins, runner):
    use_plugins("tone", "import-errors")
    host = PluginHost(safe_mode=True).load()
    for name in ("tone", "raises-on-import", "exits-on-import", "missing-module"):
        info = plugin(host, name)
        assert info.status == "disabled" and "safe mode" in info.error, info
    assert "studio_tone" not in sys.modules and "studio_fixture_import_errors.raises" not in sys.modules
    assert set(host.generators) == {"chorale", "cppn", "emoji-vae", "resize", "shakespeare"}  # the built-ins only
    assert host.failed() == []
    assert_cppn_works(host, runner)


def test_safe_mode_in_the_cli(plugin_sites, tmp_path):
    sites = [plugin_sites["tone"], plugin_sites["import-errors"]]
    done = studio_cli("--safe-mode", "plugins", sites=sites, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "disabled" in listed(done.stdout, "tone").splitlines()[0]
    assert "disabled" in listed(done.stdout, "raises-on-import").splitlines()[0]
    assert "loaded" in listed(done.stdout, "cppn").splitlines()[0]
    assert "failed" not in done.stdout

    done = studio_cli("--safe-mode", "generate", "tone", "-o", str(tmp_path / "t.wav"), sites=sites, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("studio: error: unknown generator 'tone'"), done.stderr
    assert not (tmp_path / "t.wav").exists()


# -- two plugins that want the same generator id or plugin name ------------------------------------


def test_second_plugin_with_the_same_generator_id_fails(use_plugins, runner):
    use_plugins("twin-b", "twin-a")  # the order on sys.path does not decide: names are sorted
    host = PluginHost().load()
    assert plugin(host, "twin-a").status == "loaded" and plugin(host, "twin-a").generators == ["twin"]
    assert_failed(plugin(host, "twin-b"), "generator id 'twin' is already provided by plugin twin-a", host=host)
    job, _ = run(runner, host, "twin")
    assert job.result.value == "twin-a" and host.generator("twin").plugin_name == "twin-a"
    assert_cppn_works(host, runner)


def test_third_party_plugin_cannot_take_the_builtin_generator_id_or_name(use_plugins, runner):
    use_plugins("shadow")  # on sys.path before the built-in, with names that sort before or as "cppn"
    host = PluginHost().load()
    assert_failed(plugin(host, "acme"), "generator id 'cppn' is already provided by plugin cppn", host=host)
    assert_failed(plugin(host, "cppn", builtin=False), "another plugin is already called 'cppn'")
    assert type(host.generator("cppn")).__module__ == "studio_plugins.cppn.generator"
    assert_cppn_works(host, runner)
