"""Audio playback through sounddevice, with the failures a person can meet said plainly.

PortAudio may be missing (no libportaudio2), or present with no output device (a server, a
machine without a sound card): both are ``StudioError``s, never a crash.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from studio.errors import StudioError


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise StudioError(f"audio playback is unavailable: the PortAudio library did not load ({exc})") from None
    return sounddevice


def output_device() -> str:
    """The name of the default output device, or a ``StudioError`` saying why there is none."""
    sd = _sounddevice()
    try:
        info = sd.query_devices(kind="output")
    except Exception as exc:
        raise StudioError(f"no audio output device: {exc}") from None
    return str(info["name"])


class Player:
    """Plays one buffer at a time; ``play`` returns at once, ``stop`` cuts it off."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        sd = _sounddevice()
        output_device()
        with self._lock:
            try:
                sd.stop()
                sd.play(np.asarray(samples, dtype=np.float32), sample_rate)
            except Exception as exc:
                raise StudioError(f"could not play audio: {exc}") from None

    def stop(self) -> None:
        try:
            _sounddevice().stop()
        except StudioError:
            pass
