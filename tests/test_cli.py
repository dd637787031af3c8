"""The `barkbook` command line: help/version, argument errors, and `run`/`sweep` on small throw-away notebooks.

The real pipeline through the CLI (every artefact, predict, detect, --from 03) is in tests/test_pipeline.py."""
import json, os, subprocess, sys, tomllib
from pathlib import Path
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STEPS = ('01_generate_data', '02_train', '03_convert_tflite', '05_stream')


def barkbook(*args, cwd=None, timeout=300):
    env = dict(os.environ, IN_TEST="1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([str(BIN / "barkbook"), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def write_nb(path, params, *cells):
    nb = new_notebook(cells=[new_markdown_cell(f"# {path.stem}"), new_code_cell(params, metadata={"tags": ["parameters"]}),
                             *[new_code_cell(c) for c in cells]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    "A throw-away pipeline with the real step names: each step appends to a log in the run; 03 can fail on purpose."
    d = tmp_path_factory.mktemp("toy")
    nbs = d / "nbs"; nbs.mkdir()
    for i, step in enumerate(STEPS):
        extra = "\nfail = False  # raise in the second cell" if step == "03_convert_tflite" else ""
        write_nb(nbs / f"{step}.ipynb", f"run_dir = '../runs/toy'  # output folder\nseed = 0  # random seed\nsize = {i}  # a number{extra}",
                 "import os; from pathlib import Path; Path(run_dir).mkdir(parents=True, exist_ok=True)",
                 ("if fail: raise RuntimeError('conversion exploded')\n" if extra else "")
                 + f"with open(Path(run_dir)/'log.txt', 'a') as f: f.write(f'{step} {{seed}} {{size}} {{os.environ[\"IN_TEST\"]}} {{os.getcwd()}}\\n')")
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
    assert r.returncode == 2 and "/nonexistent/run: run directory not found" in r.stderr


def test_cli_imports_stay_light(tmp_path):
    "Parsing and a failed predict import neither papermill nor TensorFlow (the CLI imports per command)."
    code = ("import sys\nfrom barkbook.cli import main\n"
            f"code = main(['predict', '--run', {str(tmp_path / 'none')!r}, 'a.wav'])\n"
            "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules, 'papermill' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2", "False", "False", "False"]


def test_run_refuses_unknown_parameters(toy, tmp_path):
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "x", "-p", "sise", "3")
    assert r.returncode == 2
    assert "unknown parameter 'sise'" in r.stderr and "01_generate_data accepts: seed, size" in r.stderr
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "x", "-p", "02.fail", "True")
    assert r.returncode == 2 and "unknown parameter 'fail' for 02_train; 02_train accepts: seed, size" in r.stderr
    cfg = tmp_path / "c.yaml"; cfg.write_text("04_flash: {size: 1}\n")
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--config", cfg)
    assert r.returncode == 2 and "'04_flash' names no pipeline notebook" in r.stderr
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "-p", "run_dir", "/tmp/elsewhere")
    assert r.returncode == 2 and "set by the runner" in r.stderr
    assert not any(tmp_path.glob("x*")), "nothing may run when a parameter is refused"


def test_run_config_precedence_and_record(toy, tmp_path):
    cfg = tmp_path / "params.yaml"
    cfg.write_text("seed: 5\nsize: 10\n02_train: {size: 20}\n")
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "a", "--config", cfg, "-p", "03.size", "30")
    assert r.returncode == 0, r.stderr
    for i, step in enumerate(STEPS, 1): assert f"[{i}/4] {step}" in r.stderr      # progress per notebook
    rd = tmp_path / "a"
    log = [l.split() for l in (rd / "log.txt").read_text().splitlines()]
    nbs = str((toy / "nbs").resolve())
    assert log == [["01_generate_data", "5", "10", "1", nbs], ["02_train", "5", "20", "1", nbs],
                   ["03_convert_tflite", "5", "30", "1", nbs], ["05_stream", "5", "10", "1", nbs]]
    rec = json.loads((rd / "run.json").read_text())
    assert rec["status"] == "ok" and rec["name"] == "a" and rec["run_dir"] == str(rd.resolve())
    assert rec["steps"]["03_convert_tflite"]["parameters"] == {"run_dir": str(rd.resolve()), "seed": 5, "size": 30, "fail": False}
    assert rec["history"][0]["config_file"] == str(cfg) and rec["history"][0]["cli_parameters"] == [["03.size", "30"]]
    assert rec["packages"]["papermill"] and rec["packages"]["numpy"] and rec["python"]
    assert rec["git"] is None or len(rec["git"]["commit"]) == 40
    assert all(s["status"] == "ok" and s["seconds"] > 0 for s in rec["steps"].values())
    assert "IPKernelApp" not in r.stderr          # the kernels' own output goes to a log per notebook
    for step in STEPS:
        assert (rd / "notebooks" / f"{step}.log").exists() and rec["steps"][step]["kernel_log"] == f"notebooks/{step}.log"
        ex = nbformat.read(str(rd / "notebooks" / f"{step}.ipynb"), 4)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in ex.cells)


def test_failing_cell_is_located(toy, tmp_path):
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "f", "-p", "fail", "True")
    assert r.returncode == 1
    executed = (tmp_path / "f" / "notebooks" / "03_convert_tflite.ipynb").resolve()
    assert "03_convert_tflite failed at cell 4 (In [4]): RuntimeError: conversion exploded" in r.stderr, r.stderr
    assert f"open the executed notebook: {executed}" in r.stderr
    ex = nbformat.read(str(executed), 4)
    assert any(o.get("ename") == "RuntimeError" for c in ex.cells for o in c.get("outputs", []))
    rec = json.loads((tmp_path / "f" / "run.json").read_text())
    assert rec["status"] == "failed" and rec["steps"]["03_convert_tflite"]["status"] == "failed"
    assert "05_stream" not in rec["steps"]
    # the source notebook's cell 4 is the one that raised
    src = nbformat.read(str(toy / "nbs" / "03_convert_tflite.ipynb"), 4)
    assert "conversion exploded" in src.cells[3].source
    # --from 03 after fixing the parameter completes the run; --from on a run without earlier steps is refused
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "f", "--from", "03")
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "f" / "run.json").read_text())
    assert rec["status"] == "ok" and [h["steps"] for h in rec["history"]] == [list(STEPS), list(STEPS[2:])]
    r = barkbook("run", "--notebooks", toy / "nbs", "--runs-dir", tmp_path, "--name", "g", "--from", "03")
    assert r.returncode == 2 and "01_generate_data has not completed" in r.stderr


def test_sweep(toy, tmp_path):
    sw = tmp_path / "sweep.yaml"
    sw.write_text("name: grid\nparameters: {seed: 2, 02_train: {size: 7}}\ngrid:\n  fail: [false, true]\nparallel: 2\n")
    r = barkbook("sweep", "--config", sw, "--notebooks", toy / "nbs", "--runs-dir", tmp_path, timeout=600)
    assert r.returncode == 1, r.stderr           # the second point fails on purpose
    root = tmp_path / "grid"
    assert {p.name for p in root.iterdir() if p.is_file()} == {"comparison.csv", "comparison.md", "comparison.png"}
    import pandas as pd
    df = pd.read_csv(root / "comparison.csv")
    assert list(df["status"]) == ["ok", "failed"] and list(df["fail"]) == [False, True]
    assert df["error"][1].startswith("03_convert_tflite failed at cell 4")
    assert "| 00_fail-False | ok |" in r.stdout
    assert (root / "00_fail-False" / "log.txt").read_text().splitlines()[1].split()[:3] == ["02_train", "2", "7"]
    sw.write_text("name: bad\ngrid: {sise: [1, 2]}\n")
    r = barkbook("sweep", "--config", sw, "--notebooks", toy / "nbs", "--runs-dir", tmp_path)
    assert r.returncode == 2 and "unknown parameter 'sise'" in r.stderr and not (tmp_path / "bad").exists()
