"""The `barkbook` command line as a process: help/version, argument errors, and `run`/`sweep` on small throw-away
notebooks that carry the REAL parameters cells (barkbook.params.STEPS) under the real step names.

The real pipeline through the CLI (every artefact, predict, detect, --from 03) is in tests/test_pipeline.py."""
import json, os, subprocess, sys, time, tomllib
from pathlib import Path
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from barkbook.params import STEPS
from barkbook.run import Run

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STEP_NAMES = list(STEPS)
KEY = {'01_generate_data': 'clips_per_class', '02_train': 'epochs', '03_convert_tflite': 'n_representative',
       '04_stream': 'scene_minutes'}   # one parameter per step that the toy notebooks write to their log


def barkbook(*args, cwd=None, timeout=300):
    env = dict(os.environ, IN_TEST="1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([str(BIN / "barkbook"), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def write_nb(path, params, *cells):
    nb = new_notebook(cells=[new_markdown_cell(f"# {path.stem}"), new_code_cell(params, metadata={"tags": ["parameters"]}),
                             *[new_code_cell(c) for c in cells]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def body(step):
    "Append 'step seed value IN_TEST cwd' to the run's log.txt; 02 prints two epoch lines 1.5 s apart; 03 fails for seed 13."
    fail = "if seed == 13: raise RuntimeError('conversion exploded')\n" if step == "03_convert_tflite" else ""
    epochs = ("import time\nprint('epoch 1/2 - loss 0.9 - 0.1 s', flush=True); time.sleep(1.5)\n"
              "print('epoch 2/2 - loss 0.5 - 1.6 s', flush=True)\n") if step == "02_train" else ""
    return (fail + epochs + f"with open(Path(run_dir)/'log.txt', 'a') as f: "
            f"f.write(f'{step} {{seed}} {{{KEY[step]}}} {{os.environ[\"IN_TEST\"]}} {{os.getcwd()}}\\n')")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    "A throw-away pipeline: the real step names and parameters cells; each step appends a line to log.txt in the run."
    d = tmp_path_factory.mktemp("toy")
    nbs = d / "nbs"; nbs.mkdir()
    for step, cls in STEPS.items():
        write_nb(nbs / f"{step}.ipynb", cls.parameters_cell(),
                 "import os; from pathlib import Path; Path(run_dir).mkdir(parents=True, exist_ok=True)", body(step))
    return d


def test_help_and_version():
    r = barkbook("--help")
    assert r.returncode == 0
    for cmd in ("run", "sweep", "predict", "detect"): assert cmd in r.stdout
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    r = barkbook("--version")
    assert (r.returncode, r.stdout.strip()) == (0, f"barkbook {version}")
    for cmd in ("run", "sweep", "predict", "detect"):
        r = barkbook(cmd, "--help")
        assert r.returncode == 0 and "usage: barkbook " + cmd in r.stdout


def test_usage_errors():
    r = barkbook("predict", "x.wav")                     # --run is required
    assert r.returncode == 2 and "--run" in r.stderr
    r = barkbook("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = barkbook("predict", "--run", "/nonexistent/run", "x.wav")
    assert r.returncode == 2 and "/nonexistent/run" in r.stderr


def test_cli_imports_stay_light(tmp_path):
    "Parsing, --list-params and a failed predict import neither papermill nor TensorFlow (the CLI imports per command)."
    code = ("import sys, io, contextlib\nfrom barkbook.cli import main\n"
            f"code = main(['predict', '--run', {str(tmp_path / 'none')!r}, 'a.wav'])\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['run', '--list-params'])\n"
            "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules, 'papermill' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2", "False", "False", "False"]


def test_list_params_shows_the_declaration():
    r = barkbook("run", "--list-params")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert [l for l in lines if not l.startswith(" ")] == STEP_NAMES
    for step, cls in STEPS.items():
        for s in cls.specs(): assert f"  {s.name}: {s.type} = {s.default!r}  # {s.help}" in lines, (step, s.name)
    assert "  epochs: int = 20  # maximum epochs of the clip training (early stopping may end sooner)" in lines


def test_run_refuses_bad_parameters_before_any_step(toy, tmp_path):
    run = lambda *a: barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "x", *a)
    r = run("-p", "epochs", "ten")
    assert r.returncode == 2 and "-p epochs: 02_train: parameter epochs expects int, got 'ten'" in r.stderr, r.stderr
    r = run("-p", "sise", "3")
    assert r.returncode == 2 and "unknown parameter 'sise'" in r.stderr and "01_generate_data accepts: classes" in r.stderr
    r = run("-p", "02.n_representative", "3")
    assert r.returncode == 2 and "unknown parameter 'n_representative' for 02_train; 02_train accepts:" in r.stderr
    cfg = tmp_path / "c.yaml"
    cfg.write_text("05_flash: {seed: 1}\n")
    r = run("--config", cfg)
    assert r.returncode == 2 and "'05_flash' names no pipeline notebook" in r.stderr
    cfg.write_text("02_train: {width: wide}\n")
    r = run("--config", cfg)
    assert r.returncode == 2 and f"{cfg} [02_train]: 02_train: parameter width expects float, got 'wide'" in r.stderr
    r = run("-p", "run_dir", "/tmp/elsewhere")
    assert r.returncode == 2 and "set by the runner" in r.stderr
    r = run("-p", "rule", "fewest misses")                 # a later step's own checks run before the first step
    assert r.returncode == 2 and "04_stream: operating-point rule 'fewest misses'" in r.stderr, r.stderr
    r = run("-p", "eval_sets", '["nowhere.csv"]')
    assert r.returncode == 2 and "04_stream: eval_sets: " in r.stderr and "nowhere.csv: no such file or folder" in r.stderr
    r = run("-p", "barks_over_talk", "2")
    assert r.returncode == 2 and "01_generate_data: barks_over_talk is a share" in r.stderr, r.stderr
    assert not any(tmp_path.glob("x*")), "nothing may run when a parameter is refused"


def test_run_config_precedence_record_and_progress(toy, tmp_path):
    cfg = tmp_path / "params.yaml"
    cfg.write_text("seed: 5\nclips_per_class: 10\n02_train: {epochs: 20}\n")
    t0, seen = time.perf_counter(), []
    with subprocess.Popen([str(BIN / "barkbook"), "run", "--notebooks", str(toy / "nbs"), "--runs-dir", str(tmp_path),
                           "--name", "a", "--config", str(cfg), "-p", "03.n_representative", "30", "-p", "firmware_dir", "fw"],
                          stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=tmp_path,
                          env=dict(os.environ, IN_TEST="1")) as p:
        for line in p.stderr: seen.append((time.perf_counter() - t0, line.rstrip("\n")))
    err = "\n".join(l for _, l in seen)
    assert p.returncode == 0, err
    for i, step in enumerate(STEP_NAMES, 1): assert f"[{i}/4] {step}" in err      # progress per notebook
    # the kernel's printed lines are shown while the step runs, as they come
    t = {l.strip(): s for s, l in seen}
    assert "epoch 1/2 - loss 0.9 - 0.1 s" in t and t["epoch 2/2 - loss 0.5 - 1.6 s"] - t["epoch 1/2 - loss 0.9 - 0.1 s"] > 1.0
    rd = tmp_path / "a"
    log = [l.split() for l in (rd / "log.txt").read_text().splitlines()]
    nbs = str((toy / "nbs").resolve())
    assert log == [["01_generate_data", "5", "10", "1", nbs], ["02_train", "5", "20", "1", nbs],
                   ["03_convert_tflite", "5", "30", "1", nbs], ["04_stream", "5", "10.0", "1", nbs]]
    rec = Run(rd).read_record()
    assert rec.status == "ok" and rec.name == "a" and rec.run_dir == str(rd.resolve())
    p03 = rec.steps["03_convert_tflite"]["parameters"]
    assert p03 == {"run_dir": str(rd.resolve()), **STEPS["03_convert_tflite"]().to_dict(), "seed": 5,
                   "n_representative": 30, "firmware_dir": str(tmp_path / "fw")}   # relative to the caller's cwd
    assert rec.history[0]["config_file"] == str(cfg) and rec.history[0]["cli_parameters"][0] == ["03.n_representative", "30"]
    assert rec.packages["papermill"] and rec.packages["numpy"] and rec.python
    assert rec.git is None or len(rec.git["commit"]) == 40
    assert all(s["status"] == "ok" and s["seconds"] > 0 for s in rec.steps.values())
    assert "IPKernelApp" not in err          # the kernels' own process output goes to a log per notebook
    assert "epoch 2/2 - loss 0.5 - 1.6 s" in Run(rd).log_path("02_train").read_text()
    for step in STEP_NAMES:
        assert rec.steps[step]["kernel_log"] == f"notebooks/{step}.log"
        ex = nbformat.read(str(Run(rd).notebook_path(step)), 4)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in ex.cells)


def test_failing_cell_is_located(toy, tmp_path):
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "f", "-p", "03.seed", "13")
    assert r.returncode == 1
    executed = (tmp_path / "f" / "notebooks" / "03_convert_tflite.ipynb").resolve()
    assert "03_convert_tflite failed at cell 4 (In [4]): RuntimeError: conversion exploded" in r.stderr, r.stderr
    assert f"open the executed notebook: {executed}" in r.stderr
    ex = nbformat.read(str(executed), 4)
    assert any(o.get("ename") == "RuntimeError" for c in ex.cells for o in c.get("outputs", []))
    rec = Run(tmp_path / "f").read_record()
    assert rec.status == "failed" and rec.steps["03_convert_tflite"]["status"] == "failed"
    assert "04_stream" not in rec.steps
    src = nbformat.read(str(toy / "nbs" / "03_convert_tflite.ipynb"), 4)
    assert "conversion exploded" in src.cells[3].source           # the source notebook's cell 4 is the one that raised
    # --from 03 without the bad value completes the run; --from on a run without earlier steps is refused
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "f", "--from", "03")
    assert r.returncode == 0, r.stderr
    rec = Run(tmp_path / "f").read_record()
    assert rec.status == "ok" and [h["steps"] for h in rec.history] == [STEP_NAMES, STEP_NAMES[2:]]
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "g", "--from", "03")
    assert r.returncode == 2 and "01_generate_data has not completed" in r.stderr


@pytest.mark.slow   # make test-all: keeps make test under 15 minutes
def test_sweep(toy, tmp_path):
    sw = tmp_path / "sweep.yaml"
    sw.write_text("name: grid\nparameters: {seed: 2, 02_train: {epochs: 7}}\ngrid:\n  03.seed: [0, 13]\nparallel: 2\n")
    r = barkbook("sweep", "--config", sw, "--notebooks", toy / "nbs", "--runs-dir", tmp_path, timeout=600)
    assert r.returncode == 1, r.stderr           # the second point fails on purpose
    root = tmp_path / "grid"
    assert {p.name for p in root.iterdir() if p.is_file()} == {"comparison.csv", "comparison.md", "comparison.png"}
    import pandas as pd
    df = pd.read_csv(root / "comparison.csv")
    assert list(df["status"]) == ["ok", "failed"] and list(df["03.seed"]) == [0, 13]
    assert df["error"][1].startswith("03_convert_tflite failed at cell 4")
    assert "| 00_seed-0 | ok |" in r.stdout
    assert (root / "00_seed-0" / "log.txt").read_text().splitlines()[1].split()[:3] == ["02_train", "2", "7"]
    sw.write_text("name: bad\ngrid: {sise: [1, 2]}\n")
    r = barkbook("sweep", "--config", sw, "--notebooks", toy / "nbs", "--runs-dir", tmp_path)
    assert r.returncode == 2 and "unknown parameter 'sise'" in r.stderr and not (tmp_path / "bad").exists()
