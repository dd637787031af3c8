"""The explorers as a user meets them: 05_explore.ipynb executed headless (papermill) on a run folder it is given,
and on a folder with no model (it falls back to the small cached run and says so). The explorers' own behaviour —
each widget changing what it should — is asserted in the lesson nbs/26_explore.ipynb."""
import os, sys
from pathlib import Path
import nbformat
import pytest

pytest.importorskip("ipywidgets")
ROOT = Path(__file__).resolve().parent.parent
NB = ROOT / "nbs" / "05_explore.ipynb"


def execute(tmp_path, run_dir):
    import papermill as pm
    out = tmp_path / "05_explore.ipynb"
    os.environ.setdefault("TQDM_DISABLE", "1")
    pm.execute_notebook(str(NB), str(out), parameters={"run_dir": str(run_dir)}, kernel_name="python3",
                        cwd=str(ROOT / "nbs"), progress_bar=False)
    return nbformat.read(str(out), 4)


def outputs(nb):
    return [o for c in nb.cells for o in c.get("outputs", [])]


@pytest.fixture(scope="module")
def tiny():
    from barkbook.train import tiny_run
    return tiny_run()


def test_parameters_cell_comes_first():
    nb = nbformat.read(str(NB), 4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []) and code[0].source.startswith("run_dir: str = '../runs/default'")
    # the explorers come right after loading the run: no definitions in this notebook
    assert not [c for c in code if "def " in c.source or "class " in c.source or "#| export" in c.source]
    assert [l for c in code[2:6] for l in c.source.splitlines()] == \
        ["ClipExplorer(run)", "AugmentationExplorer(run)", "DatasetMap(run)", "MistakesBrowser(run)"]


def test_explores_the_named_run(tmp_path, tiny):
    nb = execute(tmp_path, tiny)
    outs = outputs(nb)
    assert not [o for o in outs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outs)
    assert "no trained model" not in text and str(tiny) in text
    assert sum("VBox" in str(o.get("data", {}).get("text/plain", "")) for o in outs) == 5     # four explorers + stream
    assert any("image/png" in o.get("data", {}) for o in outs)                               # the balance figure


@pytest.mark.slow   # make test-all: keeps make test under 15 minutes
def test_a_run_without_model_falls_back(tmp_path, tiny):
    nb = execute(tmp_path, tmp_path / "not_trained")
    text = "".join(o.get("text", "") for o in outputs(nb))
    assert "has no trained model yet (run `make pipeline`)" in text


DEFAULT = ROOT / "runs" / "default"


def _tree(d: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(d.rglob("*")) if p.is_file()}


def test_stream_explorer_on_the_default_run():
    "StreamExplorer on runs/default's saved scenes: its mistakes are the report's, next mistake moves, nothing written."
    from barkbook.run import Run
    from barkbook.explore import StreamExplorer, stream_scenes
    run = Run(DEFAULT)
    if not (run.tflite_path("int8").exists() and len(stream_scenes(run))):
        pytest.skip("runs/default has no int8 model or no saved stream scenes (make pipeline)")
    before = [_tree(d) for d in (run.stream_dir, run.tflite_dir)]     # what it reads (model/ may be training)
    se = StreamExplorer(run)
    se.update()
    chk = se.check
    assert chk.det_cfg == run.read_detector_config()                   # the shipped detector, as 04_stream chose it
    assert len(chk.barks) == stream_scenes(run).n_barks[0] > 0           # the scene with the most barks first
    assert len(se.mistakes) == (~chk.barks.found).sum() + (~chk.matched).sum() > 0
    png, pos = se.png, se.pos.value
    se.next_btn.click()
    assert se.mistake_dd.value == 1 and se.png != png
    assert se.pos.value <= se.mistakes.start_s[1] <= se.pos.value + se.window_s
    assert se.audio.value[:4] == b"RIFF"
    assert [_tree(d) for d in (run.stream_dir, run.tflite_dir)] == before        # read-only
