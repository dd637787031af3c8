"""barkbook.inference on a real tiny run (built with the pipeline's library functions): the int8 path never imports
TensorFlow, the float path matches training's scores, any rate/format/channel count, long audio, bad input, speed."""
import json, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import soxr

from barkbook.core import BarkbookError
from barkbook.audio import AudioError
from barkbook.inference import Classifier, InferenceError, Prediction


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from barkbook.data import build_dataset
    from barkbook.train import train_run
    from barkbook.convert import convert_run
    rd = tmp_path_factory.mktemp("inference") / "run"
    build_dataset(rd, clips_per_class=24, seed=0, progress=False)
    train_run(rd, epochs=3, verbose=0, seed=0)
    convert_run(rd, also_float32=False, n_representative=40, verbose=False)
    return rd


@pytest.fixture(scope="module")
def clf(run_dir): return Classifier.load(run_dir)


@pytest.fixture(scope="module")
def test_files(run_dir):
    meta = pd.read_csv(run_dir / "features" / "test_meta.csv")
    return [run_dir / "data" / p for p in meta.path]


def test_int8_path_never_imports_tensorflow(run_dir, test_files):
    code = (f"import sys, time; t0 = time.perf_counter()\nfrom barkbook.inference import Classifier\n"
            f"c = Classifier.load({str(run_dir)!r}); t1 = time.perf_counter()\n"
            f"c.predict({str(test_files[0])!r}); c.predict_batch({[str(p) for p in test_files[:4]]!r})\n"
            "print(round(t1 - t0, 3), round(time.perf_counter() - t0, 3), sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras')))")
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    imported = [l.split("|")[-1].strip() for l in r.stderr.splitlines() if l.startswith("import time:")]
    assert len(imported) > 100 and not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")]
    load_s, total_s, tf_mods = r.stdout.split(maxsplit=2)
    assert tf_mods.strip() == "[]"
    print(f"import + load {load_s} s, + 5 predictions {total_s} s (under -X importtime)")


def test_float_model_matches_training_scores(run_dir, test_files, clf):
    "The float path (files → front-end → model.keras) reproduces the scores 02_train stored for the test split."
    clf_f = Classifier.load(run_dir, kind="float")
    ref = np.load(run_dir / "model" / "test_scores.npy")
    got = np.array([[p.scores[c] for c in clf_f.classes] for p in clf_f.predict_batch(test_files)])
    np.testing.assert_allclose(got, ref, atol=2e-3)
    int8 = clf.predict_batch(test_files)
    agree = np.mean([a.label == clf_f.classes[k] for a, k in zip(int8, ref.argmax(1))])
    assert agree >= 0.75, agree


def test_any_rate_format_and_channels(clf, test_files, tmp_path):
    x, sr = sf.read(test_files[0], dtype="float32")
    base = clf.predict(test_files[0])
    x48 = soxr.resample(x, sr, 48000)
    sf.write(tmp_path / "a.flac", np.stack([x48, x48], 1), 48000)
    sf.write(tmp_path / "b.wav", (soxr.resample(x, sr, 44100) * 32767).astype(np.int16), 44100)
    for p in (tmp_path / "a.flac", tmp_path / "b.wav"):
        got = clf.predict(p)
        assert got.label == base.label and abs(got.confidence - base.confidence) < 0.05, (p, got, base)
    arr = clf.predict(np.stack([x, x], 1), sr=sr)
    assert arr.path is None and arr.scores == base.scores     # same samples → same scores


def test_long_audio_windows(clf, test_files):
    rng = np.random.default_rng(0)
    clip, _ = sf.read(test_files[1], dtype="float32")
    x = (rng.standard_normal(7 * 16000) * 0.01).astype(np.float32)
    x[3 * 16000: 4 * 16000] += clip
    p = clf.predict(x, sr=16000)
    assert p.n_windows == 1 + int(np.ceil((7 * 16000 - 16000) / 3840)) and p.duration_s == 7.0
    df = clf.predict_windows(x, sr=16000)
    assert len(df) == p.n_windows and np.allclose(df.offset_s, np.arange(len(df)) * 0.24)
    k = int(np.argmin(np.abs(df.offset_s - 2.88)))           # the window starting at 2.88 s = sample 46080
    alone = clf.predict(x[46080:46080 + 16000], sr=16000)
    np.testing.assert_allclose(df.loc[k, clf.classes].to_numpy(float), [alone.scores[c] for c in clf.classes], atol=1e-6)
    row = df[np.isclose(df.offset_s, p.offset_s)].iloc[0]
    assert row.label == p.label and abs(row.confidence - p.confidence) < 1e-6
    fg = df[~df.label.isin(clf.background)]
    if len(fg): assert p.label not in clf.background and p.confidence == pytest.approx(fg.confidence.max())


def test_bad_input(run_dir, clf, tmp_path):
    with pytest.raises(InferenceError, match="run directory not found"): Classifier.load(tmp_path / "nope")
    half = tmp_path / "half"; shutil.copytree(run_dir / "features", half / "features")
    with pytest.raises(InferenceError, match=r"model_int8\.tflite: int8 model not found"): Classifier.load(half)
    with pytest.raises(InferenceError, match=r"model\.keras: float model not found"): Classifier.load(half, kind="float")
    shutil.copytree(run_dir / "tflite", half / "tflite")
    (half / "features" / "classes.json").write_text(json.dumps(["a", "b", "c"]))
    with pytest.raises(InferenceError, match="differ from"): Classifier.load(half)
    (half / "features" / "classes.json").write_text("[not json")
    with pytest.raises(InferenceError, match="classes.json: not valid JSON"): Classifier.load(half)
    with pytest.raises(InferenceError, match="use 'int8' or 'float'"): Classifier.load(run_dir, kind="int4")
    with pytest.raises(AudioError, match="sample rate `sr` is required"): clf.predict(np.zeros(16000, np.float32))
    with pytest.raises(AudioError, match="NaN"): clf.predict(np.full(16000, np.nan, np.float32), sr=16000)
    bad = tmp_path / "bad.ogg"; bad.write_bytes(b"OggS" + b"\0" * 40)
    with pytest.raises(BarkbookError, match="bad.ogg"): clf.predict(bad)
    res = clf.predict_batch([bad, np.zeros(8000, np.float32)], sr=16000, errors="keep")
    assert res[0].error and "bad.ogg" in res[0].error and res[1].error is None and res[1].n_windows == 1
    assert res[0].to_dict() == {"path": str(bad), "error": res[0].error}


def test_benchmark_speed(clf):
    b1 = clf.benchmark_speed(n=100, batch_size=1)
    b = clf.benchmark_speed(n=256, batch_size=64)
    for r in (b1, b):
        assert r["kind"] == "int8" and r["throughput_per_second"] > 0 and r["model_throughput_per_second"] > 0
        lat = r["latency_ms"]; assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
    assert b["throughput_per_second"] > b1["throughput_per_second"]
    print(f"int8: {b1['throughput_per_second']:.0f} clips/s one at a time (p50 {b1['latency_ms']['p50']:.2f} ms), "
          f"{b['throughput_per_second']:.0f} clips/s in batches of 64")
