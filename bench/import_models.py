"""Importing models: a full-size SD 1.5 checkpoint and a Qwen2.5-0.5B folder, each imported once.

    python bench/import_models.py                 # both: about 15 minutes here (2 cores)
    python bench/import_models.py --only lm       # one of them
    python bench/import_models.py --smoke         # tiny models of the same kinds: checks the script

Needs Studio's ``convert`` extra (``pip install -e '.[convert]'``): the import runs it in a child
process, as the app does. The two source models have full-size shapes and random (seeded)
weights, made once by bench/build_import_bench_models.py into the work folder
(``--work``, default <temp>/studio-bench-import) and reused:

  sd15-random.safetensors   a single-file SD 1.5 checkpoint in the original (LDM) key names,
                            fp16 as most Civitai files are: 1.07 G parameters, 2.1 GB
  qwen2.5-0.5b-random/      a transformers folder with Qwen2.5-0.5B-Instruct's config, bf16
                            safetensors (494 M parameters, 0.99 GB)

The maker runs under a python with torch and diffusers (``--torch-python``, default
$STUDIO_TORCH_PYTHON, else this python when it has them); this process never imports torch.

Each model is imported through Studio's own path, ``studio models import PATH`` (the CLI runs
the import job, which starts ``python -m studio.convert`` as its child), with a scratch
STUDIO_HOME and TMPDIR inside the work folder. While it runs, every 0.2 s, this script reads
/proc/<pid>/status (VmHWM, VmRSS) of the CLI process (the app's side) and of every process
below it (the converter), and every second the bytes allocated on disk under the scratch home
and TMPDIR. One table then gives per model: wall time, the peak resident memory of the
converter child and of the app's process, the disk used at the peak (partial output and
temporary files together) and the installed folder's size; and what to hold it against:

  write limit   the time the disk needs just to write the installed folder (sequential write
                speed measured here with fsync, in the work folder): wall time as a multiple;
  LM reference  onnxruntime-genai's model builder (the graphs the issue sets as the bar) on the
                same folder at the same precision, measured the same way (``--reference-python``:
                a python with onnxruntime-genai, never Studio's venv; default $STUDIO_TORCH_PYTHON);
  SD reference  none: diffusers' from_single_file + an optimum export needs configs from the hub.

The machine's 1-minute load average while each ran is printed beside it (a shared machine
slows everything). The installed copies are removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from machine import log  # bench/ is the script's folder: on sys.path

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = Path(tempfile.gettempdir()) / "studio-bench-import"
MODELS = {  # key -> (label, source inside the work folder, converter format)
    "sd": ("SD 1.5 single file (fp16)", "sd15-random.safetensors", "sd-checkpoint"),
    "lm": ("Qwen2.5-0.5B folder (bf16)", "qwen2.5-0.5b-random", "causal-lm"),
}
SAMPLE_S, DISK_SAMPLE_S, STATUS_S = 0.2, 1.0, 60.0
GB = 1e9


# -- what the machine allows -------------------------------------------------------------------

def write_speed(folder: Path, megabytes: int) -> float:
    """Sequential write speed into ``folder`` in bytes/s, fsync included: best of two."""
    block = os.urandom(16 * 2**20)
    best = 0.0
    for _ in range(2):
        path = folder / "write-speed.tmp"
        begin = time.perf_counter()
        with open(path, "wb") as out:
            for _ in range(max(1, megabytes // 16)):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        best = max(best, path.stat().st_size / (time.perf_counter() - begin))
        path.unlink()
    return best


def disk_bytes(*roots: Path) -> int:
    """Bytes allocated (st_blocks) by the files ``roots`` are or hold, sparse files counted as stored."""
    total = 0
    for root in roots:
        if root.is_file():
            total += root.stat().st_blocks * 512
            continue
        for folder, _, files in os.walk(root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_blocks * 512
                except OSError:  # removed while we walked: the converter's temporary files
                    pass
    return total


# -- watching a process tree -------------------------------------------------------------------

def _status(pid: int) -> dict[str, int]:
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return fields


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


@dataclass
class Watch:
    """Peaks seen while one import runs (filled by a sampling thread)."""

    root: int
    scratch: tuple[Path, ...]
    app_hwm: int = 0
    children: dict[int, dict] = field(default_factory=dict)  # pid -> {"cmd", "hwm"}
    tree_rss: int = 0  # the sum of the children's RSS at one instant, highest seen
    disk_peak: int = 0
    disk_now: int = 0
    loads: list[float] = field(default_factory=list)  # the 1-minute load average: how busy the shared machine was
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        last_disk = 0.0
        begin = last_status = time.monotonic()
        while not self.stop.is_set():
            self.app_hwm = max(self.app_hwm, _status(self.root).get("VmHWM", 0))
            rss = 0
            for pid in _descendants(self.root):
                status = _status(pid)
                if not status:
                    continue
                if pid not in self.children:
                    try:
                        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    except OSError:
                        cmd = "?"
                    self.children[pid] = {"cmd": cmd.strip(), "hwm": 0}
                self.children[pid]["hwm"] = max(self.children[pid]["hwm"], status.get("VmHWM", 0))
                rss += status.get("VmRSS", 0)
            self.tree_rss = max(self.tree_rss, rss)
            if time.monotonic() - last_disk >= DISK_SAMPLE_S:
                last_disk = time.monotonic()
                self.disk_now = disk_bytes(*self.scratch)
                self.disk_peak = max(self.disk_peak, self.disk_now)
                self.loads.append(os.getloadavg()[0])
            if time.monotonic() - last_status >= STATUS_S:  # a long step (the UNet's export) prints nothing for minutes
                last_status = time.monotonic()
                log(f"  {last_status - begin:6.0f} s  [converter peak {self.child_hwm / GB:.2f} GB, "
                    f"disk {self.disk_now / GB:.2f} GB, load {os.getloadavg()[0]:.1f}]")
            self.stop.wait(SAMPLE_S)

    @property
    def child_hwm(self) -> int:
        """The converter's high-water mark (``python -m studio.convert``), else the largest child's."""
        converter = [c["hwm"] for c in self.children.values() if "studio.convert" in c["cmd"]]
        return max(converter or [c["hwm"] for c in self.children.values()] or [0])


# -- one import ----------------------------------------------------------------------------------

def import_once(key: str, source: Path, work: Path, variant: str) -> dict:
    """``studio models import SOURCE`` in a scratch STUDIO_HOME, measured."""
    home = work / f"home-{key}"
    shutil.rmtree(home, ignore_errors=True)
    models = home / "models"
    models.mkdir(parents=True)
    command = [sys.executable, "-m", "studio.cli", "models", "import", str(source)] + (["--variant", variant] if variant else [])
    log(f"{MODELS[key][0]}: studio models import{f' --variant {variant}' if variant else ''}")
    result = measure(command, work, models, home=home, app=True)
    installed = [p for p in models.iterdir() if not p.name.startswith(".")]
    result.update(key=key, label=MODELS[key][0] + (f" +{variant}" if variant else ""), mode="import",
                  source_bytes=disk_bytes(source), final_bytes=disk_bytes(*installed) if installed else 0)
    return result


def genai_builder_reference(key: str, source: Path, work: Path, variant: str, python: str) -> dict | None:
    """The same LM folder through onnxruntime-genai's model builder (the graphs the issue sets as
    the bar), in a python that has it (never Studio's venv), measured the same way."""
    has = subprocess.run([python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('onnxruntime_genai') is None)"],
                         check=False)
    if has.returncode != 0:
        log(f"reference skipped: {python} has no onnxruntime_genai")
        return None
    precision = {"": "fp32", "int4": "int4", "int8": "int8"}.get(variant, "fp32")
    out = work / "reference-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    command = [python, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(out), "-p", precision,
               "-e", "cpu", "-c", str(work / "tmp" / "genai-cache")]
    log(f"reference: onnxruntime-genai builder, {precision}")
    result = measure(command, work, out, app=False)
    result.update(key=key, label=f"  genai builder {precision} (ref)", mode="reference", source_bytes=disk_bytes(source),
                  final_bytes=disk_bytes(out))
    shutil.rmtree(out, ignore_errors=True)
    return result


def measure(command: list[str], work: Path, output: Path, home: Path | None = None, app: bool = True) -> dict:
    """Run ``command`` with a scratch TMPDIR (and STUDIO_HOME); its peaks, time and last lines.

    ``app``: the process started is the app (``studio models import``) and the converter runs
    below it; otherwise the process started is the converter itself."""
    tmp = work / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1", QT_QPA_PLATFORM="offscreen")
    if home:
        env["STUDIO_HOME"] = str(home)
    begin = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=work)
    watch = Watch(process.pid, (output, tmp))
    sampler = threading.Thread(target=watch.run, daemon=True)
    sampler.start()
    tail = _echo(process)
    code = process.wait()
    seconds = time.perf_counter() - begin
    watch.stop.set()
    sampler.join()
    if code != 0:
        log(f"failed (exit {code}); the last lines:\n    " + "\n    ".join(tail[-15:]))
    return {"code": code, "seconds": seconds, "child_hwm": watch.child_hwm if app else max(watch.app_hwm, watch.child_hwm),
            "tree_rss": watch.tree_rss, "children": len(watch.children), "app_hwm": watch.app_hwm if app else None,
            "disk_peak": watch.disk_peak, "tail": tail[-15:], "load": (min(watch.loads, default=0), max(watch.loads, default=0))}


def _echo(process: subprocess.Popen) -> list[str]:
    """Print what the import says (its progress) as it says it; its lines."""
    lines: list[str] = []
    buffer = b""
    begin = last_bar = time.monotonic()
    assert process.stdout is not None
    while True:
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.replace(b"\r", b"\n").split(b"\n")
        for raw in complete:
            text = raw.decode(errors="replace").strip()
            if text and (not lines or text != lines[-1]):
                lines.append(text)
                if "%|" in text and time.monotonic() - last_bar < 10:  # a progress bar's every tick (the builder's)
                    continue
                last_bar = time.monotonic() if "%|" in text else last_bar
                log(f"  {time.monotonic() - begin:6.0f} s  {text[:200]}")
    return lines


# -- the table -------------------------------------------------------------------------------------

def _gb(value) -> str:
    return f"{value / GB:.2f}" if value else "-"


def table(results: list[dict], speed: float, notes: list[str]) -> list[str]:
    head = (f"{'model':<34} {'source':>7} {'wall':>7} {'child':>7} {'app':>6} {'disk at':>8} {'final':>7} "
            f"{'write':>7} {'x write-limited':>16} {'x ref':>6} {'load':>9}")
    unit = f"{'':<34} {'GB':>7} {'s':>7} {'peak GB':>7} {'peak':>6} {'peak GB':>8} {'GB':>7} {'limit s':>7} {'':>16} {'wall':>6} {'1-min avg':>9}"
    lines = [head, unit, "-" * len(head)]
    for r in results:
        limit = r["final_bytes"] / speed if r["final_bytes"] else None
        ratio = f"{r['seconds'] / limit:.1f}" if limit and r["code"] == 0 else "-"
        ref = next((x for x in results if x is not r and x.get("mode") == "reference" and x["key"] == r["key"]), None)
        versus = f"{r['seconds'] / ref['seconds']:.2f}" if ref and r.get("mode") != "reference" and ref["code"] == 0 else "-"
        status = "" if r["code"] == 0 else f"   FAILED (exit {r['code']})"
        lines.append(f"{r['label']:<34} {_gb(r['source_bytes']):>7} {r['seconds']:>7.1f} {_gb(r['child_hwm']):>7} "
                     f"{_gb(r['app_hwm']):>6} {_gb(r['disk_peak']):>8} {_gb(r['final_bytes']):>7} "
                     f"{f'{limit:.1f}' if limit else '-':>7} {ratio:>16} {versus:>6} {'{:.1f}-{:.1f}'.format(*r['load']):>9}{status}")
    lines.append("")
    lines.append(f"disk write speed here: {speed / 1e6:.0f} MB/s (sequential, fsync, best of 2); write limit = final size / speed")
    lines.append("child = the converter's resident high-water mark (VmHWM); app = the `studio models import` process's (VmHWM)")
    lines.append("disk at peak = output + temporary files (the scratch STUDIO_HOME's models folder and TMPDIR), sampled every second")
    lines.append(f"load = the machine's 1-minute load average while it ran, lowest-highest ({os.cpu_count()} cores; "
                 "other work on a shared machine slows every figure)")
    lines.append("x ref = our wall time over the reference's (onnxruntime-genai's model builder on the same folder, same precision)")
    for r in results:
        if r["children"] > 1 and r.get("mode") != "reference":
            lines.append(f"{r['label']}: {r['children']} processes below the app; their summed RSS peaked at {_gb(r['tree_rss'])} GB")
    if any(r.get("mode") == "reference" and "fp32" not in r["label"] for r in results):
        lines.append("with a variant, Studio writes the fp32 graph and the variant (both in 'final'); the builder writes the variant only")
    lines += notes
    lines.append("SD reference skipped: diffusers' from_single_file + an optimum export needs the hub's configs (unreachable "
                 "here); the disk's write limit stands in")
    return lines


def make_models(work: Path, torch_python: str, tiny: bool, only: str | None) -> None:
    wanted = [k for k in MODELS if only in (None, k)]
    if _current(work, tiny, wanted):
        log(f"source models already in {work}")
        return
    log(f"making the source models in {work} with {torch_python} (once; reused afterwards)")
    command = [torch_python, str(HERE / "build_import_bench_models.py"), "--out", str(work)] + (["--tiny"] if tiny else [])
    done = subprocess.run(command + (["--only", only] if only else []), cwd=HERE, check=False)
    if done.returncode != 0:
        raise SystemExit(done.returncode)


def _current(work: Path, tiny: bool, wanted: list[str]) -> bool:
    """Whether the maker's stamp says this version made ``wanted`` at this size (without importing it: torch)."""
    text = (HERE / "build_import_bench_models.py").read_text()
    version = int(text.split("BUILD_VERSION = ", 1)[1].split()[0])
    try:
        stamp = json.loads((work / "build.json").read_text())
    except (OSError, ValueError):
        return False
    return (stamp.get("version") == version and stamp.get("tiny") == tiny and set(wanted) <= set(stamp.get("made", []))
            and all((work / MODELS[k][1]).exists() for k in wanted))


def default_torch_python() -> str | None:
    explicit = os.environ.get("STUDIO_TORCH_PYTHON")
    if explicit:
        return explicit
    return sys.executable if all(importlib.util.find_spec(m) for m in ("torch", "diffusers", "transformers")) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"the work folder (default {DEFAULT_WORK})")
    parser.add_argument("--only", choices=sorted(MODELS), help="import one of the two")
    parser.add_argument("--sd-variant", default="", help="the SD import's extra variant (fp16), default none")
    parser.add_argument("--lm-variant", default="", help="the LM import's extra variant (int4, int8), default none")
    parser.add_argument("--torch-python", default=default_torch_python(), help="the python that makes the source models")
    parser.add_argument("--reference-python", default=os.environ.get("STUDIO_TORCH_PYTHON"),
                        help="a python with onnxruntime-genai for the LM reference (never Studio's venv); default $STUDIO_TORCH_PYTHON")
    parser.add_argument("--keep", action="store_true", help="keep the imported folders (in WORK/home-sd, WORK/home-lm)")
    parser.add_argument("--smoke", action="store_true", help="tiny models of the same kinds in a scratch folder")
    args = parser.parse_args(argv)
    if not all(importlib.util.find_spec(m) for m in ("torch", "diffusers", "transformers", "safetensors")):
        print("error: Studio's convert extra is not installed in this python; install it with\n"
              "    pip install -e '.[convert]'", file=sys.stderr)
        return 2
    if not args.torch_python:
        print("error: no python with torch and diffusers to make the source models: --torch-python PATH", file=sys.stderr)
        return 2
    scratch = tempfile.TemporaryDirectory(prefix="studio-bench-import-") if args.smoke else None
    work = Path(scratch.name) if scratch else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        make_models(work, args.torch_python, args.smoke, args.only)
        speed = write_speed(work, 64 if args.smoke else 1024)
        log(f"disk write speed {speed / 1e6:.0f} MB/s")
        results, notes = [], []
        for key in MODELS:
            if args.only in (None, key):
                variant = args.sd_variant if key == "sd" else args.lm_variant
                results.append(import_once(key, work / MODELS[key][1], work, variant))
                if not args.keep:
                    shutil.rmtree(work / f"home-{key}", ignore_errors=True)
                if key == "lm":
                    reference = None
                    if args.smoke or not args.reference_python:
                        notes.append("LM reference skipped: " + ("a smoke run" if args.smoke else
                                     "no python with onnxruntime-genai given (--reference-python or $STUDIO_TORCH_PYTHON)"))
                    else:
                        reference = genai_builder_reference(key, work / MODELS[key][1], work, variant, args.reference_python)
                        if reference is None:
                            notes.append(f"LM reference skipped: {args.reference_python} has no onnxruntime_genai")
                    if reference:
                        results.append(reference)
        print("\n".join(table(results, speed, notes)), flush=True)
        return 0 if all(r["code"] == 0 for r in results) else 1
    finally:
        shutil.rmtree(work / "tmp", ignore_errors=True)
        if scratch:
            scratch.cleanup()


if __name__ == "__main__":
    sys.exit(main())
