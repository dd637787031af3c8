"""The real pipeline headless through the CLI: `barkbook run` over 01 → 02 → 03 → 05 with tiny parameters in a temp
dir, every artefact checked; unknown parameters refused; a failing cell located; `predict` on a folder with broken
files; `detect` on a long recording; `--from 03` re-converts an existing run; same seed → same data and metrics."""
import hashlib, json, os, shutil, subprocess, sys, time
from pathlib import Path
import nbformat
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STEPS = ["01_generate_data", "02_train", "03_convert_tflite", "05_stream"]
SMALL = """seed: 0
01_generate_data: {clips_per_class: 20}
02_train: {epochs: 3, verbose: 0}
03_convert_tflite: {n_representative: 32, also_float32: false}
05_stream: {scene_minutes: 0.25, thresholds: [0.5, 0.8], average_windows: [1, 3]}
"""
pytestmark = pytest.mark.skipif(not all((ROOT / "nbs" / f"{s}.ipynb").exists() for s in STEPS),
                                reason="the pipeline notebooks are not all written yet")


def barkbook(*args, timeout=900):
    env = dict(os.environ, IN_TEST="1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([str(BIN / "barkbook"), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def sha1(p): return hashlib.sha1(Path(p).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    "One tiny pipeline run through `barkbook run`, shared by the tests of this module."
    d = tmp_path_factory.mktemp("pipeline")
    (d / "small.yaml").write_text(SMALL)
    t0 = time.perf_counter()
    r = barkbook("run", "--name", "tiny", "--runs-dir", d / "runs", "--config", d / "small.yaml", "-p", "02_train.patience", "3")
    assert r.returncode == 0, r.stderr[-5000:]
    steps = json.loads((d / "runs" / "tiny" / "run.json").read_text())["steps"]
    per = ", ".join(f"{s} {v['seconds']:.0f} s" for s, v in steps.items())
    print(f"tiny pipeline: {time.perf_counter() - t0:.1f} s ({per})")
    return {"dir": d, "rd": d / "runs" / "tiny", "stderr": r.stderr}


def test_every_artefact(run):
    rd = run["rd"]
    for i, s in enumerate(STEPS, 1): assert f"[{i}/4] {s}" in run["stderr"]
    # data/
    man = pd.read_csv(rd / "data" / "manifest.csv")
    assert {"path", "label", "group", "split", "source", "duration", "sha1"} <= set(man.columns)
    assert set(man.split) == {"train", "val", "test"} and (rd / "data" / "rejected.csv").exists()
    classes = json.loads((rd / "features" / "classes.json").read_text())
    assert set(man.label) == set(classes)
    for p, h in zip(man.path[:5], man.sha1[:5]): assert sha1(rd / "data" / p) == h
    assert not man.groupby("group").split.nunique().gt(1).any(), "a group must not straddle splits"
    # features/
    f = rd / "features"
    assert json.loads((f / "feature_config.json").read_text())["n_mels"] == 40
    for split in ("train", "val", "test"):
        x, y = np.load(f / f"{split}_x.npy", mmap_mode="r"), np.load(f / f"{split}_y.npy")
        w, meta = np.load(f / f"{split}_wave.npy", mmap_mode="r"), pd.read_csv(f / f"{split}_meta.csv")
        assert x.shape == (len(y), 49, 40) and x.dtype == np.float32 and y.dtype == np.int64
        assert w.shape == (len(y), 16000) and w.dtype == np.int16 and len(meta) == len(y) and len(y) > 0
    n_test = len(np.load(f / "test_y.npy"))
    # model/
    m = rd / "model"
    for name in ("model.keras", "train_config.json", "history.csv", "metrics.json"): assert (m / name).exists(), name
    assert list((m / "reports").glob("*.png"))
    assert np.load(m / "test_scores.npy").shape == (n_test, len(classes))
    assert len(pd.read_csv(m / "history.csv")) >= 1
    # tflite/
    t = rd / "tflite"
    rep = json.loads((t / "conversion_report.json").read_text())
    assert rep["classes"] == classes and rep["bytes"] == (t / "model_int8.tflite").stat().st_size
    for k in ("accuracy", "arena", "ops", "input", "output"): assert k in rep, k
    assert (t / "detector_config.json").exists()
    # the firmware files went to the run, never to the repo's firmware/
    ours = list((rd / "firmware").rglob("model.cc"))
    assert len(ours) == 1 and rep["sha1"] in ours[0].read_text()[:400]
    shipped = ROOT / "firmware" / "lib" / "neural_network" / "model.cc"
    assert not shipped.exists() or rep["sha1"] not in shipped.read_text()[:400], "a test run must not write the repo's model.cc"
    # notebooks/ and run.json
    for s in STEPS:
        nb = nbformat.read(str(rd / "notebooks" / f"{s}.ipynb"), 4)
        assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"], s
    rec = json.loads((rd / "run.json").read_text())
    assert rec["status"] == "ok" and list(rec["steps"]) == STEPS
    assert rec["steps"]["01_generate_data"]["parameters"]["clips_per_class"] == 20
    assert rec["steps"]["02_train"]["parameters"]["patience"] == 3 and rec["steps"]["02_train"]["parameters"]["seed"] == 0
    assert rec["steps"]["02_train"]["parameters"]["family"] == "cnn"       # defaults are recorded too
    assert rec["packages"]["tensorflow"] and rec["packages"]["ai-edge-litert"]
    assert all(rec["steps"][s]["seconds"] > 0 for s in STEPS)


def test_unknown_parameter_is_refused(tmp_path):
    r = barkbook("run", "--runs-dir", tmp_path, "--name", "x", "-p", "epoch", "3")
    assert r.returncode == 2 and "unknown parameter 'epoch'" in r.stderr
    assert "02_train accepts:" in r.stderr and "epochs" in r.stderr
    r = barkbook("run", "--runs-dir", tmp_path, "--name", "x", "-p", "03.epochs", "3")
    assert r.returncode == 2 and "unknown parameter 'epochs' for 03_convert_tflite" in r.stderr
    assert not (tmp_path / "x").exists()


def test_failing_cell_is_reported(tmp_path):
    r = barkbook("run", "--runs-dir", tmp_path, "--name", "broken", "--to", "01", "-p", "val_frac", "1.5")
    assert r.returncode == 1
    executed = (tmp_path / "broken" / "notebooks" / "01_generate_data.ipynb").resolve()
    line = next(l for l in r.stderr.splitlines() if "failed at cell" in l)
    assert line.startswith("barkbook run: 01_generate_data failed at cell ") and "val_frac" in r.stderr, r.stderr[-3000:]
    assert f"open the executed notebook: {executed}" in r.stderr
    cell = int(line.split("failed at cell ")[1].split()[0])
    src = nbformat.read(str(ROOT / "nbs" / "01_generate_data.ipynb"), 4)
    assert "build_dataset" in src.cells[cell - 1].source
    assert json.loads((tmp_path / "broken" / "run.json").read_text())["steps"]["01_generate_data"]["status"] == "failed"


def test_predict_folder_with_a_corrupt_file(run, tmp_path):
    rd = run["rd"]
    classes = json.loads((rd / "features" / "classes.json").read_text())
    meta = pd.read_csv(rd / "features" / "test_meta.csv")
    folder = tmp_path / "clips"; (folder / "sub").mkdir(parents=True)
    wavs = []
    for i, p in enumerate(meta.path[:8]):
        dst = folder / ("sub" if i % 2 else "") / f"{i:02d}.wav"; shutil.copy(rd / "data" / p, dst); wavs.append(dst)
    x, sr = sf.read(wavs[0], dtype="float32")
    import soxr
    x44 = soxr.resample(x, sr, 44100)
    sf.write(folder / "stereo44k.flac", np.stack([x44, x44], 1), 44100)
    sf.write(folder / "mono22k.ogg", soxr.resample(x, sr, 22050), 22050)
    sf.write(folder / "mono.mp3", x, sr)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt not really audio")
    (folder / "notes.txt").write_text("not audio, not collected")
    r = barkbook("predict", "--run", rd, folder, "--json")
    assert r.returncode == 1, r.stderr
    out = {Path(o["path"]).name: o for o in map(json.loads, r.stdout.splitlines())}
    assert set(out) == {f"{i:02d}.wav" for i in range(8)} | {"stereo44k.flac", "mono22k.ogg", "mono.mp3", "corrupt.wav"}
    assert "corrupt.wav" in out["corrupt.wav"]["error"]
    for name, o in out.items():
        if name == "corrupt.wav": continue
        assert o["label"] in classes and list(o["scores"]) == classes, o
        assert abs(sum(o["scores"].values()) - 1) < 0.05 and o["confidence"] == max(o["scores"].values())
    # the CLI gives what the int8 model gives on the run's stored test features
    from barkbook.runtime import Int8Model
    ref = Int8Model(rd / "tflite" / "model_int8.tflite").predict(np.load(rd / "features" / "test_x.npy")[:8])
    assert [out[f"{i:02d}.wav"]["label"] for i in range(8)] == [classes[k] for k in ref.argmax(1)]
    assert out["stereo44k.flac"]["label"] == out["00.wav"]["label"]
    # text mode: one line per file on stdout, the error on stderr
    r = barkbook("predict", "--run", rd, wavs[0], folder / "corrupt.wav")
    assert r.returncode == 1 and r.stdout.count("\n") == 1 and "corrupt.wav: error:" in r.stderr


def test_detect_long_recording(run, tmp_path):
    rd = run["rd"]
    meta = pd.read_csv(rd / "features" / "test_meta.csv")
    parts = [sf.read(rd / "data" / p, dtype="float32")[0] for p in meta.path[:6]]
    long = np.concatenate([np.concatenate([np.zeros(8000, np.float32), p]) for p in parts])
    sf.write(tmp_path / "long.wav", long, 16000)
    sf.write(tmp_path / "short.wav", long[:4000], 16000)
    r = barkbook("detect", "--run", rd, tmp_path / "long.wav", "--json")
    assert r.returncode == 0, r.stderr
    for ev in map(json.loads, r.stdout.splitlines()):
        assert set(ev) == {"path", "start_s", "end_s", "confidence"} and 0 <= ev["start_s"] < ev["end_s"] <= len(long) / 16000 + 1
    r = barkbook("detect", "--run", rd, tmp_path / "short.wav", "--json")
    assert r.returncode == 1 and "too short" in json.loads(r.stdout.splitlines()[0])["error"]


def test_from_03_reconverts(run):
    rd = run["rd"]
    rec0 = json.loads((rd / "run.json").read_text())
    keras0, man0 = sha1(rd / "model" / "model.keras"), sha1(rd / "data" / "manifest.csv")
    tfl = rd / "tflite" / "model_int8.tflite"; t0 = tfl.stat().st_mtime_ns
    r = barkbook("run", "--name", "tiny", "--runs-dir", rd.parent, "--from", "03", "--to", "03", "-p", "n_representative", "30",
                 "-p", "also_float32", "False")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[1/1] 03_convert_tflite" in r.stderr and "01_generate_data" not in r.stderr
    assert tfl.stat().st_mtime_ns > t0
    assert sha1(rd / "model" / "model.keras") == keras0 and sha1(rd / "data" / "manifest.csv") == man0
    rec = json.loads((rd / "run.json").read_text())
    assert [h["steps"] for h in rec["history"]] == [STEPS, ["03_convert_tflite"]]
    assert rec["steps"]["03_convert_tflite"]["parameters"]["n_representative"] == 30
    for s in ("01_generate_data", "02_train", "05_stream"): assert rec["steps"][s] == rec0["steps"][s]


@pytest.mark.slow
def test_same_seed_same_data_and_metrics(run, tmp_path):
    "Reproducibility: 01 → 02 again with the same parameters and seed gives the same data set and the same metrics."
    rd = run["rd"]
    r = barkbook("run", "--name", "again", "--runs-dir", tmp_path, "--config", run["dir"] / "small.yaml", "-p", "02_train.patience", "3",
                 "--to", "02")
    assert r.returncode == 0, r.stderr[-3000:]
    rd2 = tmp_path / "again"
    a, b = pd.read_csv(rd / "data" / "manifest.csv"), pd.read_csv(rd2 / "data" / "manifest.csv")
    assert list(a.sha1) == list(b.sha1) and list(a.split) == list(b.split)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(np.load(rd / "features" / f"{split}_x.npy"), np.load(rd2 / "features" / f"{split}_x.npy"))
    m1, m2 = (json.loads((d / "model" / "metrics.json").read_text()) for d in (rd, rd2))
    flat = lambda d, p="": {k2: v2 for k, v in d.items() for k2, v2 in (flat(v, f"{p}{k}.").items() if isinstance(v, dict) else [(p + k, v)])}
    f1, f2 = flat(m1), flat(m2)
    nums = [k for k, v in f1.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and (k.startswith("test.") or k in ("best_val", "best_epoch", "epochs_trained"))]   # not timings / throughput
    assert "test.accuracy" in nums and "best_val" in nums
    for k in nums: assert abs(f1[k] - f2[k]) <= 1e-3 * max(1, abs(f1[k])), (k, f1[k], f2[k])
    np.testing.assert_allclose(np.load(rd / "model" / "test_scores.npy"), np.load(rd2 / "model" / "test_scores.npy"), atol=1e-4)


def test_default_config_is_valid():
    "Every key of configs/default.yaml (what `make pipeline` runs) is a parameter of its notebook."
    from barkbook.pipeline import PIPELINE, load_config, notebook_parameters, resolve_parameters
    specs = {s: notebook_parameters(ROOT / "nbs" / f"{s}.ipynb") for s in PIPELINE}
    given = resolve_parameters(specs, load_config(ROOT / "configs" / "default.yaml"), origin="configs/default.yaml")
    assert set(given) == set(PIPELINE)


def test_example_sweep_is_valid():
    "configs/sweep_example.yaml names real parameters at every grid point and never writes the repo's firmware."
    from barkbook.pipeline import PIPELINE, load_sweep, notebook_parameters, resolve_parameters
    sw = load_sweep(ROOT / "configs" / "sweep_example.yaml")
    specs = {s: notebook_parameters(ROOT / "nbs" / f"{s}.ipynb") for s in PIPELINE}
    assert len(sw["points"]) == 4
    for pt in sw["points"]:
        given = resolve_parameters(specs, sw["config"], list(pt.items()))
        assert given["03_convert_tflite"]["firmware_dir"] is None and given["05_stream"]["firmware_dir"] is None
        assert given["02_train"]["family"] == pt["02_train.family"]
