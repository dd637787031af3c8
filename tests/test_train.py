"""barkbook.train: a run writes model/, resumes after being killed, runs on two logical devices, refuses bad input."""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

from barkbook.features import FeatureConfig
from barkbook.train import train_run, write_shards, open_shards, TrainError

CLASSES = ['dog_bark', 'speech', 'ambient', 'silence']
ROOT = Path(__file__).resolve().parent.parent


def make_features(d, n=(64, 24, 24), seed=0, cfg=FeatureConfig(), classes=CLASSES, test_classes=None):
    "Write a small, learnable feature folder in the contract's format: class c is loud in mel bands 8c..8c+7."
    d = Path(d); d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cfg.save(d / 'feature_config.json'); (d / 'classes.json').write_text(json.dumps(classes))
    for split, m in zip(('train', 'val', 'test'), n):
        k = len(classes) if (split != 'test' or test_classes is None) else test_classes
        y = np.arange(m) % k
        x = rng.normal(-80, 6, (m, *cfg.shape)).astype(np.float32)
        for i, c in enumerate(y): x[i, :, 8 * c:8 * c + 8] += 40
        t = np.arange(cfg.clip_samples)
        wave = (np.sin(t[None] * 0.03 * (y[:, None] + 1)) * 8000 + rng.normal(0, 300, (m, len(t)))).astype(np.int16)
        meta = pd.DataFrame(dict(path=[f'clips/{classes[c]}/{split}{i}.wav' for i, c in enumerate(y)],
                                 label=[classes[c] for c in y], group=np.arange(m), source='test'))
        write_shards(d, split, np.clip(x, cfg.clamp_min, cfg.clamp_max), y, wave, meta)
    return d


def test_train_run_writes_the_model_folder(tmp_path):
    make_features(tmp_path / 'features')
    m = train_run(tmp_path, family='cnn', epochs=5, batch_size=16, verbose=0, spec_augment=True, mixup_alpha=0.2,
                  schedule='cosine_restarts', loss='focal', label_smoothing=0.05)
    md = tmp_path / 'model'
    for f in ('model.keras', 'history.csv', 'metrics.json', 'train_config.json', 'test_scores.npy',
              'reports/confusion_matrix.png', 'reports/training_curves.png', 'reports/worst_misclassified.png'):
        assert (md / f).is_file(), f
    assert not (md / 'backup').exists()                         # a finished run leaves no backup
    scores = np.load(md / 'test_scores.npy', allow_pickle=False)
    assert scores.shape == (24, 4) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(1), 1, atol=1e-4)
    y = np.load(tmp_path / 'features' / 'test_y.npy')
    assert m['test']['accuracy'] == pytest.approx((scores.argmax(1) == y).mean())
    assert m['test']['accuracy'] > 0.9                         # the toy task is easy: the model must learn it
    tc = json.loads((md / 'train_config.json').read_text())
    assert tc['status'] == 'done' and tc['family'] == 'cnn' and tc['input_kind'] == 'logmel' and tc['classes'] == CLASSES
    assert tc['feature_config_hash'] == FeatureConfig().hash and tc['input_shape'] == [49, 40]
    on_disk = json.loads((md / 'metrics.json').read_text())
    assert {'test', 'targets', 'throughput', 'model'} <= set(on_disk)
    assert on_disk['throughput']['pipeline_examples_per_s'] > 0 and on_disk['throughput']['train_examples_per_s'] > 0
    h = pd.read_csv(md / 'history.csv')
    assert len(h) == m['epochs_trained'] and {'loss', 'val_accuracy', 'learning_rate'} <= set(h)


def test_raw_waveform_family(tmp_path):
    make_features(tmp_path / 'features', n=(32, 8, 8))
    m = train_run(tmp_path, family='raw1d', width=0.5, epochs=1, batch_size=16, verbose=0)
    tc = json.loads((tmp_path / 'model' / 'train_config.json').read_text())
    assert tc['input_kind'] == 'wave' and tc['input_shape'] == [16000]
    assert np.load(tmp_path / 'model' / 'test_scores.npy').shape == (8, 4)


def test_n_seeds_reports_mean_and_std(tmp_path):
    make_features(tmp_path / 'features', n=(32, 8, 8))
    m = train_run(tmp_path, family='tiny_conv', epochs=1, batch_size=16, n_seeds=2, verbose=0)
    assert [s['seed'] for s in m['seeds']] == [0, 1]
    acc = m['seeds_mean_std']['accuracy']
    assert acc['mean'] == pytest.approx(np.mean(acc['values'])) and acc['std'] == pytest.approx(np.std(acc['values']))
    assert 'per_class.dog_bark.f1' in m['seeds_mean_std']
    assert (tmp_path / 'model' / 'seeds' / 'seed_1' / 'history.csv').exists()


_CHILD = textwrap.dedent("""
    import sys
    from barkbook.train import train_run
    train_run(sys.argv[1], family='cnn', epochs=int(sys.argv[2]), batch_size=32, patience=100, threads=1, verbose=2)
""")


def _child(run_dir, epochs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', MPLBACKEND='Agg', CUDA_VISIBLE_DEVICES='')
    return subprocess.Popen([sys.executable, '-c', _CHILD, str(run_dir), str(epochs)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_resume_after_kill(tmp_path):
    "Kill training mid-run (SIGKILL, as an OOM-killer or a closed laptop would); the same call resumes from the backup."
    make_features(tmp_path / 'features', n=(800, 32, 32))
    epochs, meta = 6, tmp_path / 'model' / 'backup' / 'training_metadata.json'
    p = _child(tmp_path, epochs)
    t0 = time.time()
    while time.time() - t0 < 240:
        if meta.exists() and json.loads(meta.read_text() or '{}').get('epoch', 0) >= 2: break
        if p.poll() is not None: pytest.fail(f"training ended before it could be killed:\n{p.stdout.read()[-3000:]}")
        time.sleep(0.2)
    else: pytest.fail("no backup after 240 s")
    p.send_signal(signal.SIGKILL); p.wait()
    done = json.loads(meta.read_text())['epoch']
    assert 2 <= done < epochs
    assert not (tmp_path / 'model' / 'metrics.json').exists()
    p2 = _child(tmp_path, epochs); out, _ = p2.communicate(timeout=400)
    assert p2.returncode == 0, out[-3000:]
    assert f"{done} epoch(s) done" in out
    m = json.loads((tmp_path / 'model' / 'metrics.json').read_text())
    assert m['resumed_from_epoch'] == done and m['epochs_trained'] == epochs
    h = pd.read_csv(tmp_path / 'model' / 'history.csv')
    assert sorted(set(h['epoch'])) == list(range(epochs))        # every epoch logged, old rows kept
    assert out.count('Epoch ') == epochs - done                  # only the missing epochs were trained


def test_two_logical_cpu_devices_mirrored(tmp_path):
    "The distributed path: MirroredStrategy over two logical CPU devices (what several GPUs would use)."
    make_features(tmp_path / 'features', n=(32, 8, 8))
    code = textwrap.dedent("""
        import sys, json, tensorflow as tf
        cpu = tf.config.list_physical_devices('CPU')[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from barkbook.train import train_run
        m = train_run(sys.argv[1], family='cnn', epochs=1, batch_size=16, strategy='mirrored', verbose=0)
        print('REPLICAS', m['n_replicas'], m['test']['n'])
    """)
    r = subprocess.run([sys.executable, '-c', code, str(tmp_path)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', MPLBACKEND='Agg'), cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert 'REPLICAS 2 8' in r.stdout


# --- bad input: each stops before training with a message naming the file and what to do ---

def test_missing_features(tmp_path):
    with pytest.raises(TrainError, match='not found.*01_generate_data'): train_run(tmp_path, epochs=1)
    make_features(tmp_path / 'features', n=(8, 4, 4))
    (tmp_path / 'features' / 'val_x.npy').unlink()
    with pytest.raises(TrainError, match=r'val_x\.npy: missing'): train_run(tmp_path, epochs=1)


def test_empty_shard(tmp_path):
    d = make_features(tmp_path / 'features', n=(8, 4, 4))
    write_shards(d, 'val', np.zeros((0, 49, 40), np.float32), np.zeros(0, np.int64))
    with pytest.raises(TrainError, match=r'val_x\.npy: empty'): train_run(tmp_path, epochs=1)


def test_feature_config_differs_from_data(tmp_path):
    d = make_features(tmp_path / 'features', n=(8, 4, 4))
    FeatureConfig(n_mels=32).save(d / 'feature_config.json')     # data have 40 mel bands, the config says 32
    with pytest.raises(TrainError, match='another front-end'): train_run(tmp_path, epochs=1)
    d2 = make_features(tmp_path / 'f2', n=(8, 4, 4))
    FeatureConfig(clamp_min=-60.0).save(d2 / 'feature_config.json')  # values below the config's clamp
    with pytest.raises(TrainError, match='another feature config'): train_run(tmp_path, features_dir=d2, epochs=1)


def test_nan_features(tmp_path):
    d = make_features(tmp_path / 'features', n=(8, 4, 4))
    x = np.load(d / 'train_x.npy'); x[3, 5, 5] = np.nan
    write_shards(d, 'train', x, np.load(d / 'train_y.npy'))
    with pytest.raises(TrainError, match='example 3 holds NaN'): train_run(tmp_path, epochs=1)


def test_class_without_test_examples(tmp_path):
    make_features(tmp_path / 'features', n=(8, 4, 6), test_classes=3)
    with pytest.raises(TrainError, match=r"no test examples of class\(es\) \['silence'\]"): train_run(tmp_path, epochs=1)


def test_nan_loss_stops_with_advice(tmp_path):
    make_features(tmp_path / 'features', n=(32, 8, 8))
    with pytest.raises(TrainError, match='NaN/inf loss.*lower learning_rate'):
        train_run(tmp_path, family='tiny_conv', epochs=3, batch_size=16, learning_rate=1e30, verbose=0)
    assert not (tmp_path / 'model' / 'backup').exists()


def test_interrupted_run_with_other_settings_is_refused(tmp_path):
    make_features(tmp_path / 'features', n=(8, 4, 4))
    md = tmp_path / 'model'; (md / 'backup').mkdir(parents=True)
    (md / 'train_config.json').write_text(json.dumps(dict(family='dscnn', width=1.0, classes=CLASSES,
                                                          feature_config_hash=FeatureConfig().hash)))
    with pytest.raises(TrainError, match="different \\['family'\\]"): train_run(tmp_path, family='cnn', epochs=1)


def test_bad_parameters(tmp_path):
    make_features(tmp_path / 'features', n=(8, 4, 4))
    with pytest.raises(TrainError, match='learning_rat'): train_run(tmp_path, learning_rat=0.1)
    with pytest.raises(TrainError, match='epochs must be'): train_run(tmp_path, epochs=0)
    with pytest.raises(TrainError, match='unknown schedule'): train_run(tmp_path, schedule='step', epochs=1, verbose=0)
