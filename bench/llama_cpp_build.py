"""llama.cpp for bench/llama_cpp.py: its own ``llama-bench`` and ``llama-quantize``, built here.

The sources are the ones vendored in the ``llama-cpp-python`` sdist (``pip download
--no-binary :all: --no-deps llama-cpp-python``): a release that LM Studio-like tools embed, got
through the package registry like everything else. Built once into ``WORK/build`` (Release,
``-DGGML_NATIVE=ON``: the instructions this CPU has, as a user building it would get), only
the two tools; a later run finds them there. On 2 cores the build takes several minutes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from machine import log  # bench/ is the script's folder: on sys.path

TARGETS = ("llama-bench", "llama-quantize")
CMAKE_FLAGS = ("-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DBUILD_SHARED_LIBS=OFF",
               "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF",
               "-DLLAMA_BUILD_APP=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_CURL=OFF")


def source_tree(work: Path) -> Path | None:
    """llama.cpp's sources from an unpacked sdist in ``work`` (None if there is none)."""
    trees = sorted(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
    return trees[-1] if trees else None


def built(work: Path) -> dict[str, Path] | None:
    """The tools, if a build in ``work`` has them."""
    tools = {name: work / "build" / "bin" / name for name in TARGETS}
    return tools if all(path.is_file() for path in tools.values()) else None


def version(work: Path) -> str:
    tree = source_tree(work)
    return tree.parent.parent.name.replace("llama_cpp_python-", "llama-cpp-python ") if tree else "?"


def fetch_sources(work: Path) -> Path:
    tree = source_tree(work)
    if tree is not None:
        return tree
    sdist = work / "sdist"
    if not list(sdist.glob("llama_cpp_python-*.tar.gz")):
        log("llama.cpp: downloading the llama-cpp-python sdist (its vendored llama.cpp)")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        "llama-cpp-python", "-d", str(sdist)], check=True, stdout=subprocess.DEVNULL)
    archive = sorted(sdist.glob("llama_cpp_python-*.tar.gz"))[-1]
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    tree = source_tree(work)
    if tree is None:
        raise SystemExit(f"{archive.name} holds no vendor/llama.cpp: cannot build llama.cpp from it")
    return tree


def missing_tools() -> list[str]:
    return [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]


def build(work: Path, jobs: int) -> dict[str, Path]:
    """Build (or find) llama-bench and llama-quantize under ``work``."""
    tools = built(work)
    if tools:
        return tools
    missing = missing_tools()
    if missing:
        raise SystemExit(f"building llama.cpp needs {' and '.join(missing)}: e.g. apt-get install cmake g++ "
                         "(or pip install cmake)")
    tree = fetch_sources(work)
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    log(f"llama.cpp: building {', '.join(TARGETS)} from {tree} with {jobs} jobs (minutes)")
    with open(work / "build.log", "w") as out:
        subprocess.run(["cmake", "-S", str(tree), "-B", str(work / "build"), *generator, *CMAKE_FLAGS],
                       check=True, stdout=out, stderr=subprocess.STDOUT)
        done = subprocess.run(["cmake", "--build", str(work / "build"), "--target", *TARGETS, "-j", str(jobs)],
                              stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not built(work):
        raise SystemExit(f"the llama.cpp build failed; its log: {work / 'build.log'}")
    return built(work)
