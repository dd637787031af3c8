"""barkbook.evaluate on real recordings (when ../shared/realdev is here) and through the CLI on a folder the test makes."""
import json, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from barkbook.audio import save_wav
from barkbook.convert import convert_run
from barkbook.evaluate import evaluate
from barkbook.params import smoke_params
from barkbook.run import Run
from barkbook.train import tiny_run

ROOT = Path(__file__).resolve().parent.parent
REALDEV = ROOT.parent / "shared" / "realdev"

@pytest.fixture(scope="module")
def tiny():
    run = Run(tiny_run())
    if not run.tflite_path().exists(): convert_run(run, smoke_params("03_convert_tflite"), log=None)
    return run

@pytest.mark.skipif(not (REALDEV / "manifest.csv").exists(), reason=f"{REALDEV} not present (real recordings for measuring)")
def test_evaluate_on_realdev(tiny):
    "Every realdev clip is scored (manifest with sources), metrics and a per-source table come back."
    ev = evaluate(tiny, REALDEV / "manifest.csv")
    assert len(ev.clips) == 544 and len(ev.problems) == 0
    assert 0 <= ev.metrics["accuracy"] <= 1 and 0 <= ev.metrics["bark_ap"] <= 1
    assert {"UrbanSound8K gun_shot", "minetest/minetest_game"} <= set(ev.sources.group)

def test_cli_evaluate_reports_bad_files_and_scores_the_rest(tiny, tmp_path):
    "Unknown labels, missing and unreadable files: a line naming each, the rest scored, exit code 1."
    rng = np.random.default_rng(0)
    for lab in ("dog_bark", "speech"):
        for i in range(2): save_wav(tmp_path / lab / f"{i}.wav", 0.1 * rng.standard_normal(16000))
    (tmp_path / "dog_bark" / "broken.wav").write_bytes(b"not audio at all")
    (tmp_path / "manifest.csv").write_text("path,label\ndog_bark/0.wav,dog_bark\nspeech/0.wav,parrot\ngone.wav,speech\n")
    r = subprocess.run([str(Path(sys.executable).parent / "barkbook"), "evaluate", "--run", str(tiny.root), str(tmp_path), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 4 and [Path(p["path"]).name for p in out["problems"]] == ["broken.wav"]
    r = subprocess.run([str(Path(sys.executable).parent / "barkbook"), "evaluate", "--run", str(tiny.root), str(tmp_path / "manifest.csv")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert "parrot" in r.stderr and "gone.wav: file not found" in r.stderr and "accuracy" in r.stdout
