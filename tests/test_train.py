"""barkbook.train beyond its lesson (nbs/20_train.ipynb holds the unit tests): a killed training resumes, two logical
devices train mirrored, a waveform family trains, `tiny_run` is built once by two processes at once, and the
pipeline notebook 02_train runs through papermill as a report."""
import json, os, re, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

from barkbook.params import TrainParams, smoke_params
from barkbook.run import Run
from barkbook.train import train_run, toy_features

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', MPLBACKEND='Agg', CUDA_VISIBLE_DEVICES='')


def _python(code, *args):
    "Start `code` in a fresh Python process with `args`."
    return subprocess.Popen([sys.executable, '-c', textwrap.dedent(code), *map(str, args)], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


_CHILD = """
    import sys
    from barkbook.params import TrainParams
    from barkbook.run import Run
    from barkbook.train import train_run
    train_run(Run(sys.argv[1]), TrainParams(family='cnn', epochs=int(sys.argv[2]), batch_size=32, patience=100,
                                            threads=1, verbose=2, mine_rounds=0))
"""


def test_resume_after_kill(tmp_path):
    "Kill training mid-run (SIGKILL, as an OOM-killer or a closed laptop would); the same call resumes from the backup."
    run = toy_features(Run(tmp_path), n=(800, 32, 32))
    epochs, meta = 6, run.fit_dir().backup / 'training_metadata.json'
    p = _python(_CHILD, tmp_path, epochs)
    t0 = time.time()
    while time.time() - t0 < 240:
        if meta.exists() and json.loads(meta.read_text() or '{}').get('epoch', 0) >= 2: break
        if p.poll() is not None: pytest.fail(f"training ended before it could be killed:\n{p.stdout.read()[-3000:]}")
        time.sleep(0.2)
    else: pytest.fail("no backup after 240 s")
    p.send_signal(signal.SIGKILL); p.wait()
    done = json.loads(meta.read_text())['epoch']
    assert 2 <= done < epochs
    assert not run.metrics_path.exists()
    p2 = _python(_CHILD, tmp_path, epochs); out, _ = p2.communicate(timeout=400)
    assert p2.returncode == 0, out[-3000:]
    assert f"{done} epoch(s) done" in out
    m = run.read_metrics()
    assert m.resumed_from_epoch == done and m.epochs_trained == epochs
    h = pd.read_csv(run.history_path)
    assert sorted(set(h['epoch'])) == list(range(epochs))        # every epoch logged, old rows kept
    lines = re.findall(r'^epoch (\d+)/(\d+)  loss .* val_accuracy .* s$', out, re.M)
    assert [int(e) for e, _ in lines] == list(range(done + 1, epochs + 1)), out[-3000:]   # only the missing epochs


@pytest.mark.slow   # make test-all: keeps make test under 15 minutes
def test_two_logical_cpu_devices_mirrored(tmp_path):
    "The distributed path: MirroredStrategy over two logical CPU devices (what several GPUs would use)."
    toy_features(Run(tmp_path), n=(32, 8, 8))
    code = """
        import sys, tensorflow as tf
        cpu = tf.config.list_physical_devices('CPU')[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from barkbook.params import TrainParams
        from barkbook.run import Run
        from barkbook.train import train_run
        m = train_run(Run(sys.argv[1]), TrainParams(family='cnn', epochs=1, batch_size=16, strategy='mirrored', verbose=0, mine_rounds=0))
        print('REPLICAS', m.n_replicas, m.test['n'])
    """
    out, _ = _python(code, tmp_path).communicate(timeout=300)
    assert 'REPLICAS 2 8' in out, out[-3000:]


def test_raw_waveform_family(tmp_path):
    "A waveform model trains, and its mining round cuts sample windows from the scenes (not log-mels)."
    run = toy_features(Run(tmp_path), n=(32, 8, 8))
    m = train_run(run, TrainParams(family='raw1d', width=0.5, epochs=1, batch_size=16, verbose=0, scene_minutes=0.5, mine_rounds=1,
                                   mine_minutes=0.5, mine_top=8, mine_epochs=1, val_scene_minutes=1.0))
    tc = run.read_train_config()
    assert tc.input_kind == 'wave' and tc.input_shape == [16000] and tc.status == 'done'
    assert run.read_test_scores().shape == (8, 4)
    assert [r['round'] for r in m.mining] == [0, 1] and m.mining[1]['mined'] == 8


@pytest.mark.slow   # make test-all: keeps make test under 15 minutes
def test_tiny_run_two_processes_at_once(tmp_path):
    "Two processes ask for the same tiny run at once: one builds it, the other waits and gets the same folder."
    code = "import sys; from barkbook.train import tiny_run; print('TINY', tiny_run(sys.argv[1]))"
    procs = [_python(code, tmp_path / 'tiny') for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), '\n'.join(o[-2000:] for o in outs)
    assert all(f"TINY {tmp_path / 'tiny'}" in o for o in outs)
    run = Run(tmp_path / 'tiny')
    assert run.read_train_config().status == 'done'
    assert len(pd.read_csv(run.history_path)) == run.read_metrics().epochs_trained   # trained once, not twice


def test_report_notebook_02(tmp_path):
    "02_train through papermill with the smoke parameters on a copy of the tiny run: a report, text progress only."
    pm = pytest.importorskip('papermill')
    import shutil
    from barkbook.train import tiny_run
    nb = json.loads((ROOT / 'nbs' / '02_train.ipynb').read_text())
    params = [c for c in nb['cells'] if 'parameters' in c['metadata'].get('tags', [])]
    assert len(params) == 1 and ''.join(params[0]['source']) == TrainParams.parameters_cell()
    shutil.copytree(tiny_run() / 'features', tmp_path / 'run' / 'features')
    out = tmp_path / '02_train.ipynb'
    pm.execute_notebook(ROOT / 'nbs' / '02_train.ipynb', out, cwd=ROOT / 'nbs', kernel_name='python3', progress_bar=False,
                        parameters=dict(run_dir=str(tmp_path / 'run'), **smoke_params('02_train').to_dict()))
    done = json.loads(out.read_text())
    text = '\n'.join(''.join(o.get('text', '')) for c in done['cells'] if c['cell_type'] == 'code' for o in c['outputs'])
    sp, run = smoke_params('02_train'), Run(tmp_path / 'run')
    k = next(r['round'] for r in run.read_metrics().mining if r['selected'])      # the kept candidate's round
    clip_epochs = len(pd.read_csv(run.history_path)) - k * sp.mine_epochs          # its history: clips, then k rounds
    assert len(re.findall(r'^epoch \d+/%d  loss' % sp.epochs, text, re.M)) == clip_epochs
    assert len(re.findall(r'^epoch \d+/%d  loss' % sp.mine_epochs, text, re.M)) == sp.mine_rounds * sp.mine_epochs
    assert '\r' not in text and '%|' not in text and 'it/s' not in text          # no progress bars
    kinds = [k for c in done['cells'] if c['cell_type'] == 'code' for o in c['outputs'] for k in o.get('data', {})]
    assert kinds.count('image/png') == 3 and 'text/html' in kinds               # the three figures and the tables
