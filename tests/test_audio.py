"""barkbook.audio: every file format loads to 16 kHz mono float32, and each kind of bad input fails with a reason."""
import os, shlex, shutil, subprocess, sys
import numpy as np
import pytest
import soundfile as sf
from barkbook.audio import (AudioError, load_audio, read_audio, save_wav, to_mono_16k, fix_length, frame_windows,
                            rms_dbfs, peak_dbfs, int16_to_float, float_to_int16)

SR = 22050

@pytest.fixture(scope="module")
def tone():
    t = np.arange(SR) / SR
    return (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

@pytest.mark.parametrize("fmt,ext", [("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg"), ("MP3", ".mp3")])
@pytest.mark.parametrize("channels", [1, 2])
def test_every_format_loads_to_16k_mono(tmp_path, tone, fmt, ext, channels):
    data = tone if channels == 1 else np.stack([tone, tone], 1)
    p = tmp_path / f"clip{ext}"
    sf.write(p, data, SR, format=fmt)
    y = load_audio(p)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 16000) < 1200            # mp3 adds encoder padding
    assert rms_dbfs(y[2000:-2000]) == pytest.approx(20 * np.log10(0.4), abs=0.5)

def test_resampling_keeps_a_tone_at_its_frequency(tone):
    y = to_mono_16k(tone, SR)
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.fft.rfftfreq(len(y), 1 / 16000)[spec.argmax()] == pytest.approx(440, abs=2)

@pytest.mark.parametrize("make,reason", [
    (lambda p: None, "file not found"),
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_bytes(b"<html>not audio</html>" * 20), "not a readable sound file"),
    (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "truncated"),
])
def test_bad_files_name_the_file_and_the_reason(tmp_path, make, reason):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(AudioError) as e:
        load_audio(p)
    assert reason in str(e.value) and "bad.wav" in str(e.value)

def test_truncated_wav_is_detected(tmp_path, tone):
    p = tmp_path / "full.wav"
    sf.write(p, tone, SR, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    with pytest.raises(AudioError, match="truncated"):
        load_audio(cut)

def test_zero_samples_nan_and_absurd_rate():
    with pytest.raises(AudioError, match="no samples"): to_mono_16k(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="NaN"): to_mono_16k(np.array([0.0, np.inf]), 16000)
    with pytest.raises(AudioError, match="absurd sample rate"): to_mono_16k(np.zeros(10), 0)
    with pytest.raises(AudioError, match="absurd sample rate"): to_mono_16k(np.zeros(10), 5_000_000)

def test_zero_frames_file(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros(0, np.int16), 16000)
    with pytest.raises(AudioError, match="no samples"):
        load_audio(p)

def test_int16_round_trip_and_save(tmp_path):
    x = np.arange(-32768, 32768, 7, dtype=np.int16)
    assert np.array_equal(float_to_int16(int16_to_float(x)), x)
    p = save_wav(tmp_path / "x.wav", x)
    assert np.array_equal(float_to_int16(read_audio(p)), x)

def test_lengths_and_windows():
    assert fix_length(np.ones(3), 5).tolist() == [1, 1, 1, 0, 0]
    assert frame_windows(np.arange(25), 10, 5).shape == (4, 10)      # windows end exactly at the end
    w = frame_windows(np.arange(27), 10, 5)                          # a partial last window is zero-padded
    assert w.shape == (5, 10) and w[-1, 0] == 20 and w[-1, -1] == 0
    assert peak_dbfs(np.array([0.5, -1.0])) == pytest.approx(0.0)

CAPSH = shutil.which("capsh")

@pytest.mark.skipif(CAPSH is None or os.geteuid() != 0, reason="needs capsh and root to drop the capability that overrides permissions")
def test_unreadable_file_is_permission_denied(tmp_path, tone):
    "EACCES (root without CAP_DAC_OVERRIDE): AudioError naming the file and 'permission denied', no traceback."
    p = tmp_path / "locked.wav"; save_wav(p, tone); p.chmod(0)
    code = ("import sys; from barkbook.audio import load_audio, AudioError\n"
            "try: load_audio(sys.argv[1])\nexcept AudioError as e: print('ERR', e)")
    r = subprocess.run([CAPSH, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c",
                        f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} {shlex.quote(str(p))}"],
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == f"ERR {p}: permission denied", r.stdout + r.stderr

def test_many_channels_are_averaged(tmp_path, tone):
    "A 24-channel file is the mean of its channels (it used to collapse to one sample per channel)."
    p = tmp_path / "c24.wav"
    sf.write(p, np.tile(tone[:, None], (1, 24)), SR, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(p, target_sr=SR), tone, atol=1e-6)
