"""barkbook.inference beyond the lesson (nbs/25_inference.ipynb): what needs a fresh process or the whole pipeline.
The int8 path never imports TensorFlow (checked with -X importtime in a new interpreter); the float path reproduces
the test scores 02_train stored; files of other formats and rates; a half-built run is refused with the file named."""
import json, shutil, subprocess, sys
import numpy as np
import pytest
import soundfile as sf
import soxr

from barkbook.core import BarkbookError
from barkbook.inference import Classifier, InferenceError
from barkbook.run import Run


@pytest.fixture(scope="module")
def run():
    from barkbook.convert import tiny_converted
    return tiny_converted()          # the tiny trained run with its int8 model (cached, read-only)


@pytest.fixture(scope="module")
def clf(run): return Classifier.load(run)


@pytest.fixture(scope="module")
def test_files(run): return [run.clip_path(p) for p in run.open_split("test").meta.path]


def test_int8_path_never_imports_tensorflow(run, test_files):
    code = (f"import sys, time; t0 = time.perf_counter()\nfrom barkbook.inference import Classifier\n"
            f"c = Classifier.load({str(run.root)!r}); t1 = time.perf_counter()\n"
            f"c.predict({str(test_files[0])!r}); c.predict_batch({[str(p) for p in test_files[:4]]!r})\n"
            "print(round(t1 - t0, 3), round(time.perf_counter() - t0, 3), sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras')))")
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    imported = [l.split("|")[-1].strip() for l in r.stderr.splitlines() if l.startswith("import time:")]
    assert len(imported) > 100 and not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")]
    load_s, total_s, tf_mods = r.stdout.split(maxsplit=2)
    assert tf_mods.strip() == "[]"
    print(f"import + load {load_s} s, + 5 predictions {total_s} s (under -X importtime)")


def test_float_model_matches_training_scores(run, test_files, clf):
    "The float path (files → front-end → model.keras) reproduces the scores 02_train stored for the test split."
    clf_f = Classifier.load(run, kind="float")
    ref = run.read_test_scores()
    got = np.array([[p.scores[c] for c in clf_f.classes] for p in clf_f.predict_batch(test_files)])
    np.testing.assert_allclose(got, ref, atol=2e-3)
    int8 = clf.predict_batch(test_files)
    agree = np.mean([a.label == clf_f.classes[k] for a, k in zip(int8, ref.argmax(1))])
    assert agree >= 0.75, agree


def test_any_format_rate_and_channels(clf, test_files, tmp_path):
    x, sr = sf.read(test_files[0], dtype="float32")
    base = clf.predict(test_files[0])
    x48 = soxr.resample(x, sr, 48000)
    sf.write(tmp_path / "a.flac", np.stack([x48, x48], 1), 48000)
    sf.write(tmp_path / "b.wav", (soxr.resample(x, sr, 44100) * 32767).astype(np.int16), 44100)
    for p in (tmp_path / "a.flac", tmp_path / "b.wav"):
        got = clf.predict(p)
        assert got.label == base.label and abs(got.confidence - base.confidence) < 0.05, (p, got, base)
    bad = tmp_path / "bad.ogg"; bad.write_bytes(b"OggS" + b"\0" * 40)
    with pytest.raises(BarkbookError, match="bad.ogg"): clf.predict(bad)


def test_half_built_run_is_refused(run, tmp_path):
    half = Run(tmp_path / "half"); shutil.copytree(run.features_dir, half.features_dir)
    with pytest.raises(InferenceError, match=r"model_int8\.tflite: int8 model not found"): Classifier.load(half)
    with pytest.raises(InferenceError, match=r"model\.keras: float model not found"): Classifier.load(half, kind="float")
    shutil.copytree(run.tflite_dir, half.tflite_dir)
    half.write_classes(["a", "b", "c"])
    with pytest.raises(InferenceError, match="differ from"): Classifier.load(half)
    (half.features_dir / "classes.json").write_text("[not json")
    with pytest.raises(BarkbookError, match="classes.json: not valid JSON"): Classifier.load(half)
