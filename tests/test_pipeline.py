"""The real pipeline headless through the CLI.

Without running anything heavy: each pipeline notebook's parameters cell IS the declaration (barkbook.params.STEPS)
and papermill shows its types; `barkbook run` without --config runs with the declared defaults (what `make
pipeline` runs); a mistyped value is refused before step 01; the example sweep is valid.
With one smoke-size run (configs/smoke.yaml, passed explicitly): every artefact read back through `Run`; training
progress shown on the console and in the step's log; the executed reports hold no errors, no toy/test cells and no
frozen progress bars; `predict` on a folder with broken files; `detect`; `--from 03` re-converts."""
import hashlib, json, os, re, shlex, shutil, subprocess, sys, time
from pathlib import Path
import nbformat
import numpy as np
import pytest
import soundfile as sf
from barkbook.params import STEPS, DataParams, TrainParams
from barkbook.pipeline import load_config, load_sweep, resolve_parameters, step_parameters
from barkbook.run import Run

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NBS = ROOT / "nbs"
SMOKE = ROOT / "configs" / "smoke.yaml"
ALL_THERE = all((NBS / f"{s}.ipynb").exists() for s in STEPS)
needs_all = pytest.mark.skipif(not ALL_THERE, reason="the pipeline notebooks 01-04 are not all written yet")


def barkbook(*args, timeout=900, cwd=None):
    env = dict(os.environ, IN_TEST="1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([str(BIN / "barkbook"), *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=cwd)


def sha1(p): return hashlib.sha1(Path(p).read_bytes()).hexdigest()


def parameters_cell(nb_path):
    cells = [c for c in nbformat.read(str(nb_path), 4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{nb_path}: expected one parameters cell, found {len(cells)}"
    return cells[0].source


# ---------------------------------------------------------------- the declaration, without running the pipeline

@pytest.mark.parametrize("step", list(STEPS))
def test_parameters_cell_is_the_declaration(step):
    "The notebook's parameters cell is exactly STEPS[step].parameters_cell(), and papermill sees every name with its type."
    nb = NBS / f"{step}.ipynb"
    if not nb.exists(): pytest.skip(f"{nb.name} not written yet")
    assert parameters_cell(nb) == STEPS[step].parameters_cell()
    import papermill as pm
    found = pm.inspect_notebook(str(nb))
    declared = {"run_dir": "str", **{s.name: s.type for s in STEPS[step].specs()}}
    shown = {k: v["inferred_type_name"] for k, v in found.items()}
    assert shown == declared, f"papermill --help-notebook shows {shown}"


@pytest.mark.skipif(not (NBS / "02_train.ipynb").exists(), reason="02_train not written yet")
def test_papermill_help_notebook_shows_types():
    r = subprocess.run([str(BIN / "papermill"), "--help-notebook", str(NBS / "02_train.ipynb")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "epochs: int (default 20)" in r.stdout and "family: str (default 'cnn')" in r.stdout


def test_mistyped_value_is_refused_before_step_01(tmp_path):
    r = barkbook("run", "--runs-dir", tmp_path, "--name", "x", "-p", "epochs", "ten")
    assert r.returncode == 2 and "parameter epochs expects int, got 'ten'" in r.stderr, r.stderr
    r = barkbook("run", "--runs-dir", tmp_path, "--name", "x", "-p", "epoch", "3")
    assert r.returncode == 2 and "unknown parameter 'epoch'" in r.stderr and "02_train accepts:" in r.stderr
    assert not (tmp_path / "x").exists() and "[1/4]" not in r.stderr


def _make_pipeline_args():
    "The arguments of `barkbook run` in the Makefile's pipeline target."
    text = (ROOT / "Makefile").read_text()
    recipe = text.split("\npipeline:", 1)[1].split("\n\n", 1)[0]
    line = next(l for l in recipe.splitlines() if "barkbook run" in l)
    return shlex.split(line.split("barkbook run", 1)[1])


def test_make_pipeline_is_the_declared_defaults():
    "`make pipeline` passes no config: its steps run with the declared defaults, firmware_dir being the repo's firmware/."
    args = _make_pipeline_args()
    assert "--config" not in args and args[:2] == ["--name", "default"]
    params = [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == "-p"]
    given = resolve_parameters(params=params, cwd=ROOT)
    assert given["01_generate_data"] == {} and given["02_train"] == {}
    assert given["03_convert_tflite"] == given["04_stream"] == {"firmware_dir": str(ROOT / "firmware")}
    full = step_parameters(given)
    assert full["02_train"] == TrainParams() and (full["02_train"].epochs, full["02_train"].width) == (20, 0.75)
    assert not (ROOT / "configs" / "default.yaml").exists(), "the defaults live in barkbook.params only"


@pytest.mark.skipif(not all((NBS / f"{s}.ipynb").exists() for s in list(STEPS)[:2]), reason="01/02 not written yet")
def test_run_without_config_uses_the_defaults(tmp_path):
    "`barkbook run --name x --to 02` (no --config) gives 01 and 02 the parameters of the default run — checked in the kernel."
    stub = tmp_path / "nbs"; stub.mkdir()
    for step in list(STEPS)[:2]:
        names = ["run_dir"] + STEPS[step].field_names()
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell(parameters_cell(NBS / f"{step}.ipynb"), metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("import json; from pathlib import Path; Path(run_dir).mkdir(parents=True, exist_ok=True)\n"
                                      f"(Path(run_dir)/'{step}.json').write_text(json.dumps({{k: globals()[k] for k in {names!r}}}))")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, str(stub / f"{step}.ipynb"))
    r = barkbook("run", "--name", "x", "--to", "02", "--notebooks", stub, "--runs-dir", tmp_path / "runs")
    assert r.returncode == 0, r.stderr
    rd = tmp_path / "runs" / "x"
    rec = Run(rd).read_record()
    for step, cls in list(STEPS.items())[:2]:
        seen = json.loads((rd / f"{step}.json").read_text())
        assert seen.pop("run_dir") == str(rd)
        assert cls.from_overrides(seen) == cls(), step                       # what the kernel ran with
        assert rec.steps[step]["parameters"] == {"run_dir": str(rd), **cls().to_dict()}
    assert list(rec.steps) == ["01_generate_data", "02_train"]


def test_example_sweep_is_valid():
    "configs/sweep_example.yaml names real parameters at every grid point and never writes the repo's firmware."
    sw = load_sweep(ROOT / "configs" / "sweep_example.yaml")
    assert len(sw["points"]) == 4
    for pt in sw["points"]:
        given = resolve_parameters(sw["config"], list(pt.items()))
        assert given["03_convert_tflite"]["firmware_dir"] is None and given["04_stream"]["firmware_dir"] is None
        assert given["02_train"]["family"] == pt["02_train.family"]
        assert step_parameters(given)["02_train"].width == pt["02_train.width"]


def test_smoke_config_is_valid():
    given = resolve_parameters(load_config(SMOKE), origin=str(SMOKE))
    assert step_parameters(given)["02_train"].epochs < TrainParams().epochs


# ---------------------------------------------------------------- one smoke-size run of the real pipeline

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    "One smoke-size pipeline run through `barkbook run --config configs/smoke.yaml`, shared by the tests below."
    if not ALL_THERE: pytest.skip("the pipeline notebooks 01-04 are not all written yet")
    d = tmp_path_factory.mktemp("pipeline")
    t0 = time.perf_counter()
    r = barkbook("run", "--name", "tiny", "--runs-dir", d / "runs", "--config", SMOKE)
    assert r.returncode == 0, r.stderr[-5000:]
    rec = Run(d / "runs" / "tiny").read_record()
    per = ", ".join(f"{s} {v['seconds']:.0f} s" for s, v in rec.steps.items())
    print(f"smoke pipeline: {time.perf_counter() - t0:.1f} s ({per})")
    return {"dir": d, "rd": d / "runs" / "tiny", "run": Run(d / "runs" / "tiny"), "stderr": r.stderr}


def test_every_artefact(run):
    rd, R = run["rd"], run["run"]
    for i, s in enumerate(STEPS, 1): assert f"[{i}/4] {s}" in run["stderr"]
    man, classes = R.read_manifest(), R.read_classes()
    assert set(man.split) == {"train", "val", "test"} and set(man.label) == set(classes)
    assert not man.groupby("group").split.nunique().gt(1).any(), "a group must not straddle splits"
    for p, h in zip(man.path[:5], man.sha1[:5]): assert sha1(R.clip_path(p)) == h
    R.read_rejected()
    assert R.read_feature_config().n_mels == 40
    for split in ("train", "val", "test"):
        sd = R.open_split(split)
        assert sd.x.shape == (len(sd.y), 49, 40) and len(sd.y) > 0 and sd.wave.shape == (len(sd.y), 16000)
    n_test = len(R.open_split("test").y)
    assert R.keras_path.exists() and R.history_path.exists()
    assert R.read_train_config().status == "done"
    assert R.read_test_scores().shape == (n_test, len(classes))
    m = R.read_metrics()
    assert m.classes == classes and m.epochs_trained >= 1
    rep = R.read_conversion_report()
    assert rep.classes == classes and rep.bytes == len(R.read_tflite("int8"))
    R.read_detector_config(); R.read_stream_report()
    # the firmware files went to the run, never to the repo's firmware/
    ours = list((rd / "firmware").rglob("model.cc"))
    assert len(ours) == 1 and rep.sha1 in ours[0].read_text()[:600]
    shipped = ROOT / "firmware" / "lib" / "neural_network" / "model.cc"
    assert not shipped.exists() or rep.sha1 not in shipped.read_text()[:600], "a test run must not write the repo's model.cc"
    rec = R.read_record()
    assert rec.status == "ok" and list(rec.steps) == list(STEPS)
    smoke = load_config(SMOKE)
    assert rec.steps["01_generate_data"]["parameters"]["clips_per_class"] == smoke["01_generate_data"]["clips_per_class"]
    assert rec.steps["02_train"]["parameters"]["epochs"] == smoke["02_train"]["epochs"]
    assert rec.steps["02_train"]["parameters"]["family"] == "cnn"         # defaults are recorded too
    assert rec.packages["tensorflow"] and rec.packages["ai-edge-litert"]
    assert all(rec.steps[s]["seconds"] > 0 for s in STEPS)


EPOCH = re.compile(r"epoch\s+\d+/\d+.*loss.*acc.*\d+(\.\d+)?\s*s", re.I)


def test_training_progress_is_shown_and_logged(run):
    "One line per epoch (loss, accuracy, elapsed time) on the console while 02 runs, and in 02's log."
    s, tp = load_config(SMOKE)["02_train"], TrainParams()
    epochs = s["epochs"] + s.get("mine_rounds", tp.mine_rounds) * s.get("mine_epochs", tp.mine_epochs)   # + mining rounds
    err = run["stderr"].split("[2/4] 02_train", 1)[1].split("[3/4]", 1)[0]
    shown = [l for l in err.splitlines() if EPOCH.search(l)]
    assert 1 <= len(shown) <= epochs, err[-3000:]
    logged = [l for l in run["run"].log_path("02_train").read_text().splitlines() if EPOCH.search(l)]
    assert [l.strip() for l in shown] == [l.strip() for l in logged]


MARKERS = re.compile(r"\b(test_eq|test_fail|test_close|test_ne|tiny_run|nbdev_export)\b|#\|\s*export|\btoy\b", re.I)
FROZEN = re.compile(r"\r|\d+%\|")


def _texts(cell):
    for o in cell.get("outputs", []):
        if "text" in o: yield o["text"]
        for k, v in o.get("data", {}).items():
            if k.startswith("text/") and k != "text/html": yield "".join(v) if isinstance(v, list) else v


def test_reports_hold_no_toy_output_and_no_frozen_bars(run):
    "The executed notebooks are reports: no errors, no toy/test cells, no saved progress bars; the parameters cell as declared."
    for step in STEPS:
        nb = nbformat.read(str(run["run"].notebook_path(step)), 4)
        assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"], step
        for c in nb.cells:
            assert not MARKERS.search(c.source), f"{step}: a lesson/test cell in the report: {c.source[:200]}"
            for t in _texts(c):
                assert not FROZEN.search(t), f"{step}: a progress bar saved in the report: {t[:200]!r}"
                assert not MARKERS.search(t), f"{step}: toy/test output in the report: {t[:200]!r}"
            if "widget-view" in json.dumps(c.get("outputs", [])): raise AssertionError(f"{step}: a widget (tqdm bar) saved")
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert params[0].source == STEPS[step].parameters_cell()
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_failing_cell_is_reported(tmp_path):
    if not (NBS / "01_generate_data.ipynb").exists(): pytest.skip("01 not written yet")
    r = barkbook("run", "--runs-dir", tmp_path, "--name", "broken", "--to", "01", "--config", SMOKE, "-p", "val_frac", "1.5")
    assert r.returncode in (1, 2), r.stderr
    if r.returncode == 2: assert "val_frac" in r.stderr; return          # refused before running: fine too
    line = next(l for l in r.stderr.splitlines() if "failed at cell" in l)
    assert line.startswith("barkbook run: 01_generate_data failed at cell ") and "val_frac" in r.stderr, r.stderr[-3000:]
    executed = Run(tmp_path / "broken").notebook_path("01_generate_data").resolve()
    assert f"open the executed notebook: {executed}" in r.stderr
    cell = int(line.split("failed at cell ")[1].split()[0])
    src = nbformat.read(str(NBS / "01_generate_data.ipynb"), 4)
    assert src.cells[cell - 1].cell_type == "code" and "parameters" not in src.cells[cell - 1].metadata.get("tags", [])
    assert Run(tmp_path / "broken").read_record().steps["01_generate_data"]["status"] == "failed"


def test_predict_folder_with_a_corrupt_file(run, tmp_path):
    R = run["run"]
    classes, test = R.read_classes(), R.open_split("test")
    folder = tmp_path / "clips"; (folder / "sub").mkdir(parents=True)
    wavs = []
    for i, p in enumerate(test.meta.path[:8]):
        dst = folder / ("sub" if i % 2 else "") / f"{i:02d}.wav"; shutil.copy(R.clip_path(p), dst); wavs.append(dst)
    x, sr = sf.read(wavs[0], dtype="float32")
    import soxr
    x44 = soxr.resample(x, sr, 44100)
    sf.write(folder / "stereo44k.flac", np.stack([x44, x44], 1), 44100)
    sf.write(folder / "mono22k.ogg", soxr.resample(x, sr, 22050), 22050)
    sf.write(folder / "mono.mp3", x, sr)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt not really audio")
    (folder / "notes.txt").write_text("not audio, not collected")
    r = barkbook("predict", "--run", R.root, folder, "--json")
    assert r.returncode == 1, r.stderr
    out = {Path(o["path"]).name: o for o in map(json.loads, r.stdout.splitlines())}
    assert set(out) == {f"{i:02d}.wav" for i in range(8)} | {"stereo44k.flac", "mono22k.ogg", "mono.mp3", "corrupt.wav"}
    assert "corrupt.wav" in out["corrupt.wav"]["error"]
    for name, o in out.items():
        if name == "corrupt.wav": continue
        assert o["label"] in classes and list(o["scores"]) == classes, o
        assert abs(sum(o["scores"].values()) - 1) < 0.05 and o["confidence"] == max(o["scores"].values())
    from barkbook.runtime import Int8Model
    ref = Int8Model(R.tflite_path("int8")).predict(np.asarray(test.x[:8]))
    assert [out[f"{i:02d}.wav"]["label"] for i in range(8)] == [classes[k] for k in ref.argmax(1)]
    assert out["stereo44k.flac"]["label"] == out["00.wav"]["label"]
    r = barkbook("predict", "--run", R.root, wavs[0], folder / "corrupt.wav")
    assert r.returncode == 1 and r.stdout.count("\n") == 1 and "corrupt.wav: error:" in r.stderr


def test_detect_long_recording(run, tmp_path):
    R = run["run"]
    parts = [sf.read(R.clip_path(p), dtype="float32")[0] for p in R.open_split("test").meta.path[:6]]
    long = np.concatenate([np.concatenate([np.zeros(8000, np.float32), p]) for p in parts])
    sf.write(tmp_path / "long.wav", long, 16000)
    sf.write(tmp_path / "short.wav", long[:4000], 16000)
    r = barkbook("detect", "--run", R.root, tmp_path / "long.wav", "--json")
    assert r.returncode == 0, r.stderr
    for ev in map(json.loads, r.stdout.splitlines()):
        assert set(ev) == {"path", "start_s", "end_s", "confidence"} and 0 <= ev["start_s"] < ev["end_s"] <= len(long) / 16000 + 1
    r = barkbook("detect", "--run", R.root, tmp_path / "short.wav", "--json")
    assert r.returncode == 1 and "too short" in json.loads(r.stdout.splitlines()[0])["error"]


def test_from_03_reconverts(run):
    R = run["run"]
    rec0 = R.read_record()
    keras0, man0 = sha1(R.keras_path), sha1(R.manifest_path)
    tfl = R.tflite_path("int8"); t0 = tfl.stat().st_mtime_ns
    r = barkbook("run", "--name", "tiny", "--runs-dir", R.root.parent, "--from", "03", "--to", "03", "--config", SMOKE,
                 "-p", "n_representative", "30", "-p", "also_float32", "False")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[1/1] 03_convert_tflite" in r.stderr and "01_generate_data" not in r.stderr
    assert tfl.stat().st_mtime_ns > t0
    assert sha1(R.keras_path) == keras0 and sha1(R.manifest_path) == man0
    rec = R.read_record()
    assert [h["steps"] for h in rec.history] == [list(STEPS), ["03_convert_tflite"]]
    assert rec.steps["03_convert_tflite"]["parameters"]["n_representative"] == 30
    for s in ("01_generate_data", "02_train", "04_stream"): assert rec.steps[s] == rec0.steps[s]


def test_eval_sets_are_scored_and_reported(run, tmp_path):
    "04 with eval_sets: each set scored clip by clip (saved with the run, shown in the report) and its own scene curve."
    R = run["run"]
    meta = R.open_split("test").meta.groupby("label").head(4)
    garden = tmp_path / "garden"
    rows = []
    for i, (rel, lab) in enumerate(zip(meta.path, meta.label)):
        dst = garden / lab / f"{i}.wav"; dst.parent.mkdir(parents=True, exist_ok=True); shutil.copy(R.clip_path(rel), dst)
        rows.append(f"{lab}/{i}.wav,{lab},mic {i % 2}")
    (garden / "manifest.csv").write_text("path,label,source\n" + "\n".join(rows) + "\n")
    r = barkbook("run", "--name", "tiny", "--runs-dir", R.root.parent, "--from", "04", "--config", SMOKE,
                 "-p", "eval_sets", f"[{garden / 'manifest.csv'}]", "-p", "real_free_scenes", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    saved = json.loads(R.eval_set_path("garden").read_text())
    assert saved["n"] == len(meta) and saved["threshold"] == R.read_detector_config().confidence_threshold
    assert {s["group"] for s in saved["by_source"]} == {"mic 0", "mic 1"}
    assert "real:garden" in R.read_stream_report().operating_point["datasets"]
    report = nbformat.read(str(R.notebook_path("04_stream")), 4)
    shown = "".join(str(o) for c in report.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "1 eval set(s)" in shown and "garden" in shown


@pytest.mark.slow
def test_same_seed_same_data_and_metrics(run, tmp_path):
    "Reproducibility: 01 → 02 again with the same parameters and seed gives the same data set and the same metrics."
    R = run["run"]
    r = barkbook("run", "--name", "again", "--runs-dir", tmp_path, "--config", SMOKE, "--to", "02")
    assert r.returncode == 0, r.stderr[-3000:]
    R2 = Run(tmp_path / "again")
    a, b = R.read_manifest(), R2.read_manifest()
    assert list(a.sha1) == list(b.sha1) and list(a.split) == list(b.split)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(np.asarray(R.open_split(split).x), np.asarray(R2.open_split(split).x))
    m1, m2 = R.read_metrics(), R2.read_metrics()
    assert abs(m1.test["accuracy"] - m2.test["accuracy"]) <= 1e-3 and abs(m1.best_val - m2.best_val) <= 1e-3
    assert m1.best_epoch == m2.best_epoch and m1.epochs_trained == m2.epochs_trained
    np.testing.assert_allclose(R.read_test_scores(), R2.read_test_scores(), atol=1e-4)
