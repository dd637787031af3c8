"""barkbook.features: the one front-end — fast path equals librosa, level is absolute, config round-trips."""
import json, subprocess, sys
import numpy as np
import pytest
import librosa
from barkbook.audio import float_to_int16, int16_to_float
from barkbook.features import (FeatureConfig, FeatureError, logmel, logmel_reference, quantize_features,
                               dequantize_features, mfcc, clip_features)

CFG = FeatureConfig()
RNG = np.random.default_rng(1)
T = np.arange(16000) / 16000

SIGNALS = {
    "uniform noise": RNG.uniform(-1, 1, 16000),
    "gaussian -30 dBFS": 0.03 * RNG.standard_normal(16000),
    "tone 440 full scale": np.sin(2 * np.pi * 440 * T),
    "tone 3333 -6 dB": 0.5 * np.sin(2 * np.pi * 3333 * T),
    "two tones": 0.3 * np.sin(2 * np.pi * 200 * T) + 0.3 * np.sin(2 * np.pi * 6000 * T),
    "chirp": librosa.chirp(fmin=50, fmax=7900, sr=16000, duration=1.0),
    "clipped": np.clip(3 * np.sin(2 * np.pi * 500 * T), -1, 1),
    "int16 noise": int16_to_float(float_to_int16(0.1 * RNG.standard_normal(16000))),
    "-80 dBFS noise": 1e-4 * RNG.standard_normal(16000),
    "digital silence": np.zeros(16000),
    "one impulse": np.eye(1, 16000, 8000)[0],
}

@pytest.mark.parametrize("name", SIGNALS)
def test_fast_path_matches_librosa_reference(name):
    x = SIGNALS[name]
    err = np.abs(logmel(x) - logmel_reference(x)).max()
    print(f"{name}: max |fast - librosa| = {err:.2e} dB")
    assert err < 1e-3

def test_batch_equals_single_and_float32_input():
    xs = np.stack([SIGNALS[k] for k in SIGNALS]).astype(np.float32)
    batch = logmel(xs, chunk=3)
    for i, x in enumerate(xs):
        assert np.array_equal(batch[i], logmel(x))
        assert np.abs(batch[i] - logmel_reference(x)).max() < 1e-3

def test_shape_covers_the_whole_second():
    assert logmel(SIGNALS["chirp"]).shape == (49, 40)
    # a burst in the last 100 ms must show up in the features (the seed guide's 32 frames at hop 256 miss it)
    x = np.zeros(16000); x[15000:15800] = 0.5 * RNG.standard_normal(800)
    assert logmel(x)[-3:].max() > CFG.clamp_min + 60

def test_level_is_absolute():
    noise = RNG.standard_normal(16000); noise /= np.sqrt(np.mean(noise ** 2) * 2)
    quiet, loud = logmel(10 ** (-70 / 20) * noise), logmel(10 ** (-10 / 20) * noise)
    assert (loud - quiet).mean() == pytest.approx(60, abs=0.5)
    assert quiet.mean() < loud.mean() - 50
    assert (logmel(np.zeros(16000)) == CFG.clamp_min).all()

def test_int8_mapping_is_exact_on_the_grid():
    grid = CFG.clamp_min + CFG.input_scale * np.arange(256)
    q = quantize_features(grid)
    assert q.tolist() == list(range(-128, 128))
    assert np.allclose(dequantize_features(q), grid)

def test_config_round_trip_and_hash(tmp_path):
    cfg = FeatureConfig(n_mels=32, hop_length=160)
    p = cfg.save(tmp_path / "feature_config.json")
    assert FeatureConfig.load(p) == cfg and FeatureConfig.load(p).hash == cfg.hash
    assert cfg.hash != CFG.hash
    assert logmel(SIGNALS["chirp"], cfg).shape == (cfg.n_frames, 32)

def test_bad_configs_and_inputs(tmp_path):
    with pytest.raises(FeatureError, match="not found"): FeatureConfig.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FeatureError, match="bad.json"): FeatureConfig.load(tmp_path / "bad.json")
    with pytest.raises(FeatureError, match="unknown FeatureConfig keys"): FeatureConfig.from_dict({"bands": 3})
    with pytest.raises(FeatureError, match="shorter than one frame"): logmel(np.zeros(100))

def test_mfcc_matches_librosa():
    x = SIGNALS["two tones"]
    ref = librosa.feature.mfcc(S=logmel_reference(x).T, n_mfcc=13, dct_type=2, norm="ortho").T
    assert np.abs(mfcc(logmel(x)) - ref).max() < 1e-2

def test_clip_features_from_file_any_rate(tmp_path):
    import soundfile as sf
    x = 0.2 * np.sin(2 * np.pi * 1000 * np.arange(48000 * 2) / 48000)
    sf.write(tmp_path / "a.flac", x, 48000)
    f, ref = clip_features(tmp_path / "a.flac"), logmel(0.2 * np.sin(2 * np.pi * 1000 * T))
    assert f.shape == (49, 40)
    loud = ref > -60   # the resampler's own noise floor sits far below this
    assert loud.sum() > 49 and np.abs(f - ref)[loud].max() < 0.5

def test_import_from_installed_package():
    r = subprocess.run([sys.executable, "-c", "import barkbook.features, barkbook; print(barkbook.__version__)"],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
