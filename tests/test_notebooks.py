"""Notebooks are the source: every notebook runs, and export/clean leave no diff."""
import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NBS = sorted(p.name for p in (ROOT / "nbs").glob("*.ipynb"))

def _run(cmd, in_test=True, **kw):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    if in_test: env["IN_TEST"] = "1"
    else: env.pop("IN_TEST", None)      # nbdev-export does nothing when IN_TEST is set
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, **kw)

@pytest.mark.parametrize("nb", NBS)
def test_notebook_runs(nb):
    "nbdev-test runs the notebook top to bottom (its cells assert what they show)."
    r = _run([str(BIN / "nbdev-test"), "--n-workers", "1", "--do-print", f"nbs/{nb}"], timeout=900)
    assert r.returncode == 0, f"{nb} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"

def _snapshot(folder):
    return {p.relative_to(ROOT): p.read_bytes() for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}

def test_export_and_clean_leave_no_diff():
    "The library is exactly what nbdev-export writes, and the notebooks are clean."
    before = {**_snapshot("barkbook"), **_snapshot("nbs")}
    try:
        for cmd in ("nbdev-export", "nbdev-clean"):
            r = _run([str(BIN / cmd)], in_test=False, timeout=300)
            assert r.returncode == 0, r.stderr
        after = {**_snapshot("barkbook"), **_snapshot("nbs")}
        changed = sorted(str(p) for p in set(before) | set(after) if before.get(p) != after.get(p))
        assert not changed, f"nbdev-export/nbdev-clean changed: {changed}"
    finally:
        for p, data in before.items():   # leave the checkout as it was
            if not (ROOT / p).exists() or (ROOT / p).read_bytes() != data: (ROOT / p).write_bytes(data)
