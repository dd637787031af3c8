"""barkbook.data + barkbook.synth: determinism, leakage-free splits, the streaming store, reuse/resume, atomicity."""
import json, os
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

from barkbook import synth
from barkbook.audio import rms_dbfs, peak_dbfs, int16_to_float
from barkbook.data import (build_dataset, open_split, load_classes, assign_splits, summary_table, write_features,
                           DataError, SPLITS)
from barkbook.features import logmel

CLASSES = ['dog_bark', 'speech', 'ambient', 'silence']


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp('run')
    m = build_dataset(d, classes=CLASSES, clips_per_class=16, clips_per_group=2, augment_copies=1, seed=3,
                      n_jobs=2, progress=False)
    return d, m


# ---------------------------------------------------------------- generator
def test_synth_is_deterministic_across_processes(tmp_path):
    jobs = [(c, 5, g, 0, tmp_path/f"a_{c}_{g}.wav") for c in CLASSES for g in range(3)]
    par = list(synth.render_clips(jobs, n_jobs=2, batch=2, progress=False, min_parallel=0))
    jobs1 = [(c, s, g, i, tmp_path/f"b_{Path(p).name}") for c, s, g, i, p in reversed(jobs)]
    one = list(synth.render_clips(jobs1, n_jobs=1, progress=False))[::-1]
    assert [r['sha1'] for r in par] == [r['sha1'] for r in one]   # speech included: identical bytes


def test_synth_levels_and_content():
    for g in range(6):
        b, ib = synth.synth_clip('dog_bark', 1, g, 0)
        assert -40.5 <= ib['peak_dbfs'] <= -2.5 and 0 <= ib['snr_db'] <= 20 and 1 <= ib['n_barks'] <= 4
        s, _ = synth.synth_clip('silence', 1, g, 0)
        assert -80.5 <= rms_dbfs(s) <= -49.5
        a, _ = synth.synth_clip('ambient', 1, g, 0)
        assert rms_dbfs(a) >= synth.AMBIENT_MIN_RMS_DBFS - 0.5 > rms_dbfs(s)
    # speech is real speech: most of its energy lies in the voice band
    x = synth.espeak_say('good morning, the weather is fine today', 'en-us')
    spec = np.abs(np.fft.rfft(x)) ** 2; f = np.fft.rfftfreq(len(x), 1 / 16000)
    assert spec[(f > 80) & (f < 4000)].sum() > 0.8 * spec.sum()


def test_bark_pitch_contour_rises_then_falls():
    dog = dict(size=0.5, f0=400.0, formants=[600, 1600, 3000], tilt=1.0, rough=0.0, breath=0.05)
    import librosa
    b = synth.bark(np.random.default_rng(0), dog)
    f0 = librosa.yin(b.astype(np.float64), fmin=200, fmax=1000, sr=16000, frame_length=512, hop_length=64)
    f0 = f0[: len(f0) * 2 // 3]
    i = int(np.argmax(f0))
    assert f0[i] > 1.1 * f0[0] and 0 < i < len(f0) - 1


# ---------------------------------------------------------------- splits
def test_no_group_crosses_splits(run):
    _, m = run
    assert m.groupby('group').split.nunique().max() == 1
    for s in SPLITS:
        assert set(m.label[m.split == s]) == set(CLASSES)


def test_augmented_copies_stay_in_train_with_their_source(run):
    d, m = run
    aug = m[m.source == 'augment']
    assert len(aug) == (m[m.source != 'augment'].split == 'train').sum()
    assert set(aug.split) == {'train'}
    src = m.set_index('path')
    assert all(src.loc[o, 'group'] == g for o, g in zip(aug.origin, aug.group))


def test_assign_splits_properties():
    rng = np.random.default_rng(1)
    lab = rng.choice(['a', 'b', 'c', 'd'], 600)
    grp = np.array([f"{l}{rng.integers(0, 40)}" for l in lab])
    fixed = np.where(np.isin(grp, ['a1', 'b1']), 'test', '')
    sp = assign_splits(lab, grp, fixed, 0.15, 0.15, seed=0)
    df = pd.DataFrame(dict(l=lab, g=grp, s=sp))
    assert df.groupby('g').s.nunique().max() == 1
    assert set(df.s[df.g.isin(['a1', 'b1'])]) == {'test'}
    frac = df.s.value_counts(normalize=True)
    assert 0.08 < frac['test'] < 0.25 and 0.08 < frac['val'] < 0.25
    with pytest.raises(DataError, match='unknown split'):
        assign_splits(['a'], ['g'], ['holdout'])


# ---------------------------------------------------------------- store
def test_store_layout_and_contents(run):
    d, m = run
    assert list(m.columns[:7]) == ['path', 'label', 'group', 'split', 'source', 'duration', 'sha1']
    assert load_classes(d/'features') == CLASSES
    for s in SPLITS:
        sp = open_split(d/'features', s)
        assert isinstance(sp.x, np.memmap) and sp.x.dtype == np.float32 and sp.x.shape[1:] == (49, 40)
        assert sp.y.dtype == np.int64 and sp.wave.dtype == np.int16 and sp.wave.shape[1] == 16000
        assert len(sp) == (m.split == s).sum() == len(sp.meta)
        assert [CLASSES[i] for i in sp.y] == list(sp.meta.label)
        np.testing.assert_allclose(sp.x[:4], logmel(int16_to_float(np.asarray(sp.wave[:4]))), atol=1e-3)
    tab = summary_table(m, CLASSES)
    assert tab.loc['total', 'total'] == len(m)
    assert not list((d/'features').glob('*.tmp')) and not list((d/'data').rglob('*.tmp'))


def test_rerun_reuses_and_resume_regenerates_only_missing(run):
    d, m = run
    kw = dict(classes=CLASSES, clips_per_class=16, clips_per_group=2, augment_copies=1, seed=3, n_jobs=1, progress=False)
    synth_paths = list(m.path[m.source == 'synth'])
    before = {p: (d/'data'/p).stat().st_mtime_ns for p in synth_paths}
    x_before = (d/'features'/'train_x.npy').stat().st_mtime_ns
    m2 = build_dataset(d, **kw)
    assert m2.sha1.tolist() == m.sha1.tolist()
    assert (d/'features'/'train_x.npy').stat().st_mtime_ns == x_before
    # interrupted run: params.json gone and two clips lost -> only those two are rendered again, same bytes
    (d/'data'/'params.json').unlink()
    for p in synth_paths[:2]: (d/'data'/p).unlink()
    m3 = build_dataset(d, **kw)
    assert m3.sha1.tolist() == m.sha1.tolist()
    after = {p: (d/'data'/p).stat().st_mtime_ns for p in synth_paths}
    assert [p for p in synth_paths if after[p] != before[p]] == synth_paths[:2]


def test_interrupted_feature_write_leaves_no_partial_shard(run, tmp_path, monkeypatch):
    d, m = run
    import shutil, barkbook.data as bd
    r = tmp_path/'copy'; shutil.copytree(d/'data', r/'data')
    calls = {'n': 0}
    real = bd.logmel
    def flaky(*a, **k):
        calls['n'] += 1
        if calls['n'] == 2: raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(bd, 'logmel', flaky)
    with pytest.raises(KeyboardInterrupt):
        write_features(r, CLASSES, chunk=8, progress=False)
    fd = r/'features'
    assert not (fd/'train_x.npy').exists() and not list(fd.glob('.*tmp')) and not (fd/'params.json').exists()
    monkeypatch.setattr(bd, 'logmel', real)
    assert write_features(r, CLASSES, chunk=8, progress=False) is True
    a, b = open_split(fd, 'train'), open_split(d/'features', 'train')
    np.testing.assert_array_equal(np.asarray(a.x), np.asarray(b.x))


def test_open_split_detects_inconsistent_shards(run, tmp_path):
    d, _ = run
    import shutil
    fd = tmp_path/'f'; shutil.copytree(d/'features', fd)
    np.save(fd/'val_y.npy', np.zeros(1, np.int64))
    with pytest.raises(DataError, match='disagree in length'):
        open_split(fd, 'val')
    with pytest.raises(DataError, match='not found'):
        open_split(tmp_path/'nothing', 'train')


def test_parameter_errors_before_work(tmp_path):
    with pytest.raises(DataError, match="cannot make"):
        build_dataset(tmp_path, classes=['dog_bark', 'cat'], clips_per_class=4, progress=False)
    with pytest.raises(DataError, match="too few source recordings"):
        build_dataset(tmp_path, classes=CLASSES, clips_per_class=4, clips_per_group=2, progress=False)
    assert not (tmp_path/'data'/'clips').exists()
