"""Reading, writing and resampling sound files, and every bad file a person can hand us."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile

from studio.core.media.sound_files import AudioFileError, read_audio, resample, write_audio
from studio.core.media.sound import Audio
from studio.errors import StudioError

ROOT = Path(__file__).resolve().parents[2]


def sine(frequency: float, rate: int, seconds: float, channels: int = 1, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = amplitude * np.sin(2 * np.pi * frequency * t)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples[:, 0] * np.hanning(samples.shape[0])))
    return float(np.argmax(spectrum) * rate / samples.shape[0])


def assert_refused(path: Path, *words: str) -> str:
    with pytest.raises(AudioFileError) as caught:
        read_audio(path)
    message = str(caught.value)
    assert isinstance(caught.value, StudioError)
    assert path.name in message
    for word in words:
        assert word in message, message
    return message


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix,subtype,tolerance", [(".wav", "FLOAT", 0.0), (".wav", "PCM_16", 2**-15), (".flac", "PCM_24", 2**-23), (".ogg", "VORBIS", 0.05)])
@pytest.mark.parametrize("channels", [1, 2])
def test_reads_wav_flac_and_ogg_as_float32_frames_by_channels(tmp_path, suffix, subtype, tolerance, channels):
    samples = sine(440, 44_100, 0.5, channels)
    samples[:, -1] *= 0.5  # channels differ, so a swap or a downmix would show
    path = tmp_path / f"tone{suffix}"
    soundfile.write(path, samples, 44_100, subtype=subtype)
    audio = read_audio(path)
    assert isinstance(audio, Audio) and audio.sample_rate == 44_100
    assert audio.samples.dtype == np.float32 and audio.samples.shape[1] == channels
    assert abs(audio.frames - samples.shape[0]) <= (0 if suffix != ".ogg" else 64)
    n = min(audio.frames, samples.shape[0])
    assert np.abs(audio.samples[:n] - samples[:n]).max() <= tolerance + 1e-7


def test_reading_at_the_project_rate_resamples_and_keeps_pitch_and_level(tmp_path):
    path = tmp_path / "a440.wav"
    soundfile.write(path, sine(440, 44_100, 1.0, 2), 44_100, subtype="FLOAT")
    audio = read_audio(path, sample_rate=48_000)
    assert audio.sample_rate == 48_000 and audio.samples.shape == (48_000, 2)
    assert dominant_frequency(audio.samples, 48_000) == pytest.approx(440, abs=1.5)
    middle = audio.samples[1_000:-1_000]
    assert np.abs(middle).max() == pytest.approx(0.5, abs=0.01)


def test_resample_matches_the_same_sine_sampled_at_the_new_rate():
    source = sine(1_000, 44_100, 0.5)
    out = resample(source, 44_100, 48_000)
    expected = sine(1_000, 48_000, 0.5)
    assert out.dtype == np.float32 and out.shape == expected.shape
    core = slice(500, -500)  # away from the edges, where the filter sees the signal start
    assert np.abs(out[core] - expected[core]).max() < 1e-3


def test_resample_shapes_and_identity():
    mono = np.linspace(-1, 1, 1_001, dtype=np.float32)
    assert resample(mono, 48_000, 48_000).shape == (1_001, 1)
    np.testing.assert_array_equal(resample(mono, 48_000, 48_000)[:, 0], mono)
    assert resample(np.zeros((0, 2), np.float32), 22_050, 48_000).shape == (0, 2)
    down = resample(np.zeros((48_000, 2), np.float32), 48_000, 8_000)
    assert down.shape == (8_000, 2) and down.flags.c_contiguous
    with pytest.raises(ValueError):
        resample(mono, 0, 48_000)


# -- bad files ---------------------------------------------------------------------------------


def test_a_missing_file_or_a_folder(tmp_path):
    assert_refused(tmp_path / "gone.wav", "no such file")
    (tmp_path / "folder.wav").mkdir()
    assert_refused(tmp_path / "folder.wav", "folder")


def test_a_file_that_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my lyrics, not a sound\n" * 20)
    assert_refused(path, "not a sound file")


@pytest.mark.parametrize("suffix,subtype", [(".wav", "PCM_16"), (".wav", "FLOAT"), (".flac", "PCM_16"), (".ogg", "VORBIS")])
def test_a_truncated_file(tmp_path, suffix, subtype):
    whole = tmp_path / f"whole{suffix}"
    soundfile.write(whole, (np.random.default_rng(0).standard_normal((48_000, 2)) * 0.1).astype(np.float32), 48_000, subtype=subtype)
    path = tmp_path / f"cut{suffix}"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert read_audio(whole).frames > 40_000  # the whole file reads; only the cut one is refused
    assert_refused(path, "truncated")


def test_six_channels_are_refused_with_the_count(tmp_path):
    path = tmp_path / "surround.wav"
    soundfile.write(path, np.zeros((1_000, 6), np.float32), 48_000)
    message = assert_refused(path)
    assert message == f"{path} has 6 channels; the timeline takes mono or stereo"


@pytest.mark.parametrize("rate", [4_000, 400_000])
def test_a_sample_rate_outside_8_to_384_khz(tmp_path, rate):
    path = tmp_path / f"odd{rate}.wav"
    soundfile.write(path, np.zeros((1_000, 1), np.float32), rate)
    assert_refused(path, f"{rate} Hz", "8 kHz to 384 kHz")


def test_a_file_with_no_frames(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros((0, 2), np.float32), 48_000)
    assert_refused(path, "zero frames")


def test_a_float_file_holding_nan(tmp_path):
    path = tmp_path / "nan.wav"
    samples = np.zeros((100, 1), np.float32)
    samples[50] = np.nan
    soundfile.write(path, samples, 48_000, subtype="FLOAT")
    assert_refused(path, "invalid samples")


# -- writing -----------------------------------------------------------------------------------


def test_wav_is_float32_and_exact_flac_is_24_bit(tmp_path):
    samples = np.clip(np.random.default_rng(1).standard_normal((10_000, 2)) * 0.3, -1, 1).astype(np.float32)
    wav = write_audio(tmp_path / "mix.wav", samples, 48_000)
    flac = write_audio(tmp_path / "mix.flac", samples, 48_000)
    assert soundfile.info(wav).subtype == "FLOAT" and soundfile.info(flac).subtype == "PCM_24"
    np.testing.assert_array_equal(read_audio(wav).samples, samples)
    np.testing.assert_allclose(read_audio(flac).samples, samples, atol=2**-23)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.flac", "mix.wav"]  # no temporary files left


def test_flac_clips_instead_of_wrapping_round(tmp_path):
    loud = np.array([[1.5, -2.0], [0.25, 0.5]], np.float32)
    back = read_audio(write_audio(tmp_path / "loud.flac", loud, 48_000)).samples
    np.testing.assert_allclose(back, [[1.0, -1.0], [0.25, 0.5]], atol=2**-22)


def test_mono_is_written_as_mono(tmp_path):
    path = write_audio(tmp_path / "mono.wav", np.zeros(480, np.float32), 48_000)
    assert soundfile.info(path).channels == 1


def test_writing_over_a_file_replaces_it(tmp_path):
    path = tmp_path / "take.wav"
    write_audio(path, np.full((100, 2), 0.25, np.float32), 48_000)
    write_audio(path, np.full((50, 2), -0.5, np.float32), 48_000)
    assert read_audio(path).samples.shape == (50, 2) and read_audio(path).samples[0, 0] == -0.5


@pytest.mark.parametrize("case", ["no folder", "is a folder", "mp3", "nan", "six channels", "no frames", "bad rate", "integers"])
def test_an_export_that_cannot_be_written_says_why_and_keeps_the_old_file(tmp_path, case):
    old = tmp_path / "song.wav"
    write_audio(old, np.full((100, 2), 0.125, np.float32), 48_000)
    before = old.read_bytes()
    good = np.zeros((100, 2), np.float32)
    path, samples, rate, words = {
        "no folder": (tmp_path / "missing" / "song.wav", good, 48_000, "does not exist"),
        "is a folder": (tmp_path, good, 48_000, "export as .wav or .flac"),
        "mp3": (tmp_path / "song.mp3", good, 48_000, ".wav or .flac"),
        "nan": (old, np.full((100, 2), np.nan, np.float32), 48_000, "invalid samples"),
        "six channels": (old, np.zeros((100, 6), np.float32), 48_000, "mono or stereo"),
        "no frames": (old, np.zeros((0, 2), np.float32), 48_000, "zero frames"),
        "bad rate": (old, good, 1_000, "1000 Hz"),
        "integers": (old, np.zeros((100, 2), np.int16), 48_000, "floating-point"),
    }[case]
    with pytest.raises(AudioFileError, match="cannot write") as caught:
        write_audio(path, samples, rate)
    assert words in str(caught.value)
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]


def test_a_folder_named_like_a_sound_file_is_not_overwritten(tmp_path):
    folder = tmp_path / "mix.wav"
    folder.mkdir()
    with pytest.raises(AudioFileError, match="it is a folder"):
        write_audio(folder, np.zeros((10, 2), np.float32), 48_000)
    assert folder.is_dir()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder(tmp_path):
    old = tmp_path / "song.flac"
    write_audio(old, np.full((100, 2), 0.125, np.float32), 48_000)
    before = old.read_bytes()
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(AudioFileError, match="(?i)cannot write .*song.flac: permission denied"):
            write_audio(old, np.zeros((100, 2), np.float32), 48_000)
    finally:
        tmp_path.chmod(0o755)
    assert old.read_bytes() == before


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    from studio.core.media.sound_files import AudioFileError, write_audio
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY))
    try:
        write_audio(sys.argv[1], np.zeros((48_000, 2), np.float32), 48_000)
    except AudioFileError as exc:
        print("refused:", exc)
    """
)


def test_a_write_that_fails_half_way_keeps_the_old_file(tmp_path):
    """A real failed write (the file-size limit stands in for a full disk; it stops root too)."""
    old = tmp_path / "song.wav"
    write_audio(old, np.full((1_000, 2), 0.125, np.float32), 48_000)
    before = old.read_bytes()
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(old)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"refused: cannot write {old}"), done.stdout + done.stderr
    assert old.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]
