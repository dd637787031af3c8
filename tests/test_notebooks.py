"""Notebooks are the source: every lesson notebook runs under nbdev-test, lessons import only lower-numbered lessons,
and export/clean leave no diff. The pipeline notebooks 01-04 are reports, run by tests/test_pipeline.py through
papermill with configs/smoke.yaml, never by nbdev-test with their real (full-size) defaults."""
import ast, json, os, re, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PIPELINE = re.compile(r"^0[1-5]_")   # 01-04 run by test_pipeline, 05_explore by test_explore
ALL = sorted(p.name for p in (ROOT / "nbs").glob("*.ipynb"))
LESSONS = [n for n in ALL if not PIPELINE.match(n)]     # 10-28 and index


def _run(cmd, in_test=True, cwd=ROOT, **kw):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    if in_test: env["IN_TEST"] = "1"
    else: env.pop("IN_TEST", None)      # nbdev-export does nothing when IN_TEST is set
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kw)


@pytest.mark.parametrize("nb", LESSONS)
def test_notebook_runs(nb):
    "nbdev-test runs the notebook top to bottom (its cells assert what they show)."
    r = _run([str(BIN / "nbdev-test"), "--n-workers", "1", "--do-print", f"nbs/{nb}"], timeout=900)
    assert r.returncode == 0, f"{nb} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"


def _code_cells(path):
    return [''.join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _module(path):
    "The module a notebook exports to (its `#| default_exp`), or None."
    for src in _code_cells(path):
        m = re.search(r"^#\|\s*default_exp\s+(\S+)", src, re.M)
        if m: return m.group(1)


def imported_modules(src: str) -> set:
    "barkbook modules a cell imports: `from barkbook.X import`, `import barkbook.X`, `from barkbook import X`."
    src = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!", "#|")))
    try: tree = ast.parse(src)
    except SyntaxError: return set()
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "barkbook": continue
            if len(parts) > 1: out.add(parts[1])
            else: out |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("barkbook.")}
    return out


def test_imported_modules_parser():
    src = "from barkbook.train import tiny_run\nimport barkbook.run as r\nfrom barkbook import features, core\nimport barkbook\n"
    assert imported_modules(src) == {"train", "run", "features", "core"}
    assert imported_modules("%matplotlib inline\nfrom barkbook.core import *") == {"core"}


def test_lessons_import_only_earlier_lessons():
    "No library notebook imports a module of a higher-numbered notebook (the lessons read in order)."
    lessons = {p: _module(p) for p in sorted((ROOT / "nbs").glob("[0-9][0-9]_*.ipynb"))}
    owner = {m: p for p, m in lessons.items() if m}
    number = lambda p: int(p.name[:2])
    bad = []
    for p, mod in lessons.items():
        if not mod: continue                                  # pipeline and user notebooks use the whole library
        for src in _code_cells(p):
            for m in imported_modules(src):
                q = owner.get(m)
                if q is not None and number(q) > number(p): bad.append(f"{p.name} imports barkbook.{m} ({q.name})")
    assert not bad, "\n".join(bad)


def _snapshot(base, folder):
    return {p.relative_to(base): p.read_bytes() for p in (base / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_export_and_clean_leave_no_diff(tmp_path):
    "The library is exactly what nbdev-export writes, and the notebooks are clean (checked on a copy: the checkout is never written)."
    copy = tmp_path / "project"
    for name in ("pyproject.toml", "nbs", "barkbook"):
        src = ROOT / name
        if src.is_dir(): shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else: copy.mkdir(exist_ok=True); shutil.copy2(src, copy / name)
    before = {**_snapshot(copy, "barkbook"), **_snapshot(copy, "nbs")}
    for cmd in ("nbdev-export", "nbdev-clean"):
        r = _run([str(BIN / cmd)], in_test=False, timeout=300, cwd=copy)
        assert r.returncode == 0, r.stderr
    after = {**_snapshot(copy, "barkbook"), **_snapshot(copy, "nbs")}
    changed = sorted(str(p) for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert not changed, f"nbdev-export/nbdev-clean changed: {changed}"
