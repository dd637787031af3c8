"""The data step as a whole (lesson-level tests live in nbs/16_synth and nbs/18_data): synthesis on worker
processes, a built data set with augmentation read back through Run, re-runs that reuse, resumes that redo only
what is missing, and an interrupted feature write that leaves no partial shard."""
from dataclasses import replace
from pathlib import Path
import numpy as np
import pytest

from barkbook import synth
from barkbook.audio import int16_to_float
from barkbook.data import build_dataset, summary_table, write_features
from barkbook.features import FeatureConfig, logmel
from barkbook.params import smoke_params
from barkbook.run import Run, SPLITS

CLASSES = ['dog_bark', 'speech', 'ambient', 'silence']
P = replace(smoke_params('01_generate_data'), classes=CLASSES, clips_per_class=16, clips_per_group=2,
            augment_copies=1, seed=3, n_jobs=2)


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    run = Run(tmp_path_factory.mktemp('run'))
    return run, build_dataset(run, P, progress=False)


def test_synth_is_deterministic_across_processes(tmp_path):
    jobs = [(c, 5, g, 0, tmp_path/f"a_{c}_{g}.wav") for c in CLASSES for g in range(3)]
    par = list(synth.render_clips(jobs, n_jobs=2, batch=2, progress=False, min_parallel=0))
    jobs1 = [(c, s, g, i, tmp_path/f"b_{Path(p).name}") for c, s, g, i, p in reversed(jobs)]
    one = list(synth.render_clips(jobs1, n_jobs=1, progress=False))[::-1]
    assert [r['sha1'] for r in par] == [r['sha1'] for r in one]   # speech included: identical bytes


def test_built_data_set(built):
    run, m = built
    assert m.groupby('group').split.nunique().max() == 1                     # no group crosses splits
    for s in SPLITS: assert set(m.label[m.split == s]) == set(CLASSES)
    aug = m[m.source == 'augment']                                           # copies: train only, own group
    orig = m[m.source != 'augment']                                          # every non-silence training clip
    assert len(aug) == ((orig.split == 'train') & (orig.label != 'silence')).sum() and set(aug.split) == {'train'}
    src = m.set_index('path')
    assert all(src.loc[o, 'group'] == g for o, g in zip(aug.origin, aug.group))
    assert run.read_classes() == CLASSES and run.read_manifest().sha1.tolist() == m.sha1.tolist()
    for s in SPLITS:
        sp = run.open_split(s)
        assert isinstance(sp.x, np.memmap) and len(sp) == (m.split == s).sum()
        assert [CLASSES[i] for i in sp.y] == list(sp.meta.label)
        np.testing.assert_allclose(sp.x[:4], logmel(int16_to_float(np.asarray(sp.wave[:4])), sp.cfg), atol=1e-3)
    assert summary_table(m, CLASSES).loc['total', 'total'] == len(m)
    assert not list(run.features_dir.glob('*.tmp')) and not list(run.data_dir.rglob('*.tmp'))


def test_rerun_reuses_and_resume_regenerates_only_missing(built):
    run, m = built
    synth_paths = list(m.path[m.source == 'synth'])
    before = {p: run.clip_path(p).stat().st_mtime_ns for p in synth_paths}
    x_before = run.shard_path('train', 'x').stat().st_mtime_ns
    m2 = build_dataset(run, replace(P, n_jobs=1), progress=False)
    assert m2.sha1.tolist() == m.sha1.tolist()
    assert run.shard_path('train', 'x').stat().st_mtime_ns == x_before
    # interrupted run: the data record gone and two clips lost -> only those two are rendered again, same bytes
    run.data_record_path.unlink()
    for p in synth_paths[:2]: run.clip_path(p).unlink()
    m3 = build_dataset(run, replace(P, n_jobs=1), progress=False)
    assert m3.sha1.tolist() == m.sha1.tolist()
    after = {p: run.clip_path(p).stat().st_mtime_ns for p in synth_paths}
    assert [p for p in synth_paths if after[p] != before[p]] == synth_paths[:2]


def test_interrupted_feature_write_leaves_no_partial_shard(built, tmp_path, monkeypatch):
    run, m = built
    import shutil, barkbook.data as bd
    r = Run(tmp_path/'copy'); shutil.copytree(run.data_dir, r.data_dir)
    calls = {'n': 0}
    real = bd.logmel
    def flaky(*a, **k):
        calls['n'] += 1
        if calls['n'] == 2: raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(bd, 'logmel', flaky)
    with pytest.raises(KeyboardInterrupt):
        write_features(r, CLASSES, FeatureConfig(), chunk=8, progress=False)
    fd = r.features_dir
    assert not r.shard_path('train', 'x').exists() and not list(fd.glob('.*tmp')) and not r.feature_store_path.exists()
    monkeypatch.setattr(bd, 'logmel', real)
    assert write_features(r, CLASSES, FeatureConfig(), chunk=8, progress=False) is True
    np.testing.assert_array_equal(np.asarray(r.open_split('train').x), np.asarray(run.open_split('train').x))
