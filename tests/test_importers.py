"""Importers end to end (each layout's own tests live in nbs/17_importers): fixture trees of every supported
layout with bad files and bad manifest lines, imported through build_dataset on worker processes, read back through
Run; unreadable files and folders with root's file capabilities dropped; the memory of one long recording in a
fresh process; the 01 report on odd input through papermill."""
import importlib.util, json, os, shlex, shutil, subprocess, sys
from dataclasses import replace
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from barkbook.importers import write_fixture_clip
from barkbook.data import build_dataset
from barkbook.params import smoke_params
from barkbook.run import Run

CLASSES = ['dog_bark', 'speech', 'ambient', 'silence']


def _bad_files(folder: Path, label_names=('corrupt.wav', 'empty.wav', 'truncated.wav')):
    "Corrupt (text with .wav), empty and truncated WAVs in `folder`; returns their names."
    folder.mkdir(parents=True, exist_ok=True)
    (folder/label_names[0]).write_text("this is not audio")
    (folder/label_names[1]).write_bytes(b"")
    good = write_fixture_clip(folder/'_tmp_full.wav', 'ambient', group=99)
    data = good.read_bytes(); good.unlink()
    (folder/label_names[2]).write_bytes(data[:len(data) // 3])
    return list(label_names)


# ---------------------------------------------------------------- fixture trees
@pytest.fixture(scope='module')
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp('trees')
    t = {}
    # class folders: several speakers/dogs per class (group from the file name), mixed formats and rates
    f = root/'folders'
    for ci, c in enumerate(CLASSES):
        for g in range(4):
            for k in range(2):
                ext = ['.wav', '.flac', '.ogg', '.mp3'][(g + k) % 4]
                write_fixture_clip(f/c/f"src{g}_{k}{ext}", c, group=g, index=k, sr=[16000, 44100, 22050, 48000][g % 4],
                                   channels=1 + (k % 2))
    _bad_files(f/'ambient')
    (f/'speech'/'README.txt').write_text('notes')
    sf.write(str(f/'dog_bark'/'quiet_bark.wav'), 2e-4 * np.sin(np.arange(16000) * 0.2), 16000)  # silent for an event class
    t['folders'] = f

    # ESC-50: meta/esc50.csv + audio/, 5 folds, several takes per src_file
    e = root/'ESC-50'; rows = []
    cats = ['dog', 'rain', 'rooster', 'crying_baby']
    for fold in range(1, 6):
        for ci, cat in enumerate(cats):
            for take in 'AB':
                src = 100 * fold + ci
                name = f"{fold}-{src}-{take}-{ci}.wav"
                write_fixture_clip(e/'audio'/name, 'dog_bark' if cat == 'dog' else 'ambient', group=src,
                                   index=ord(take), sr=44100, seconds=5)
                rows.append(dict(filename=name, fold=fold, target=ci, category=cat, esc10=False, src_file=src, take=take))
    (e/'meta').mkdir(parents=True)
    pd.DataFrame(rows).to_csv(e/'meta'/'esc50.csv', index=False)
    (e/'audio'/rows[3]['filename']).write_bytes(b'RIFF....WAVEjunk')   # one corrupt file
    t['esc50'] = e

    # UrbanSound8K: metadata/UrbanSound8K.csv + audio/foldN/
    u = root/'UrbanSound8K'; rows = []
    for fold in range(1, 11):
        for ci, cls in enumerate(['dog_bark', 'street_music', 'siren']):
            fs = 1000 + 10 * fold + ci
            name = f"{fs}-{ci}-0-0.wav"
            write_fixture_clip(u/'audio'/f'fold{fold}'/name, 'dog_bark' if cls == 'dog_bark' else 'ambient', group=fs,
                               sr=48000, channels=2, seconds=2)
            rows.append(dict(slice_file_name=name, fsID=fs, start=0.0, end=2.0, salience=1, fold=fold, classID=ci, **{'class': cls}))
    (u/'metadata').mkdir(parents=True)
    pd.DataFrame(rows).to_csv(u/'metadata'/'UrbanSound8K.csv', index=False)
    t['urbansound8k'] = u

    # Speech Commands v2: word folders, _background_noise_, official lists
    s = root/'speech_commands_v0.02'; val, test = [], []
    for w in ['yes', 'no', 'dog']:
        for spk in range(6):
            name = f"{spk:08x}_nohash_0.wav"
            write_fixture_clip(s/w/name, 'speech', group=spk, index=hash(w) % 7)
            (val if spk == 4 else test if spk == 5 else []).append(f"{w}/{name}")
    for b in range(3): write_fixture_clip(s/'_background_noise_'/f"noise{b}.wav", 'ambient', group=b, seconds=4)
    (s/'_background_noise_'/'README.md').write_text('about the noise')
    (s/'validation_list.txt').write_text('\n'.join(val) + '\n')
    (s/'testing_list.txt').write_text('\n'.join(test) + '\n')
    t['speech_commands'] = s

    # JSON-lines manifest with offsets/durations into long recordings
    m = root/'manifest'; lines = []
    for c in ['dog_bark', 'speech', 'silence']:
        for g in range(3):
            p = write_fixture_clip(m/'audio'/f"{c}_{g}.wav", c, group=g, seconds=3)
            lines.append(dict(audio_filepath=f"audio/{c}_{g}.wav", offset=0.5, duration=2.0, label=c.upper()))
    lines.append(dict(audio_filepath='audio/missing.wav', duration=1.0, label='DOG_BARK'))
    lines += [dict(lines[0], duration='abc'), dict(lines[1], offset='x'), dict(lines[2], offset=-1.0),
              dict(lines[3], duration=0), dict(lines[4], duration=-2.0), lines[5]]   # lines 11-16: bad, then a repeat
    (m/'train.jsonl').write_text('\n'.join(json.dumps(l) for l in lines) + '\n')
    t['manifest'] = m/'train.jsonl'
    return t


# ---------------------------------------------------------------- end to end through build_dataset
def test_build_from_all_layouts(trees, tmp_path):
    imports = [dict(kind='folders', path=trees['folders'], group_pattern=r'^(src\d+)_'),   # a Path works too
               dict(kind='esc50', path=str(trees['esc50'])),
               dict(kind='urbansound8k', path=str(trees['urbansound8k'])),
               dict(kind='speech_commands', path=str(trees['speech_commands'])),
               dict(kind='manifest', path=str(trees['manifest']),
                    mapping={'DOG_BARK': 'dog_bark', 'SPEECH': 'speech', 'SILENCE': 'silence'})]
    run = Run(tmp_path/'run')
    p = replace(smoke_params('01_generate_data'), classes=CLASSES, clips_per_class=0, imports=imports, n_jobs=2)
    man = build_dataset(run, p, progress=False)
    rej = run.read_rejected()
    reasons = dict(zip(rej.path.map(lambda p: Path(p).name), rej.reason))
    assert 'empty' in reasons['empty.wav']
    assert 'truncated' in reasons['truncated.wav']
    assert 'not a readable sound file' in reasons['corrupt.wav']
    assert 'silent' in reasons['quiet_bark.wav']
    assert 'not a sound file extension' in reasons['README.txt']
    assert 'file not found' in reasons['missing.wav']
    assert 'truncated' in reasons['1-101-B-1.wav']   # the damaged ESC-50 file (RIFF header, no data chunk)
    lines = rej[rej.path.str.contains('train.jsonl:')]
    bad = dict(zip(lines.path.map(lambda p: int(p.rsplit(':', 1)[1])), lines.reason))
    assert bad == {11: "audio/dog_bark_0.wav: duration must be a number of seconds, got 'abc'",
                   12: "audio/dog_bark_1.wav: offset must be a number of seconds, got 'x'",
                   13: 'audio/dog_bark_2.wav: negative offset -1.0 s',
                   14: 'audio/speech_0.wav: duration must be > 0 s, got 0.0',
                   15: 'audio/speech_1.wav: duration must be > 0 s, got -2.0',
                   16: f"{(trees['manifest'].parent/'audio'/'speech_2.wav').resolve()}: duplicate of line 6 (imported once)"}
    twice = man.origin[man.origin.str.contains('speech_2.wav@')]   # the repeated line imported once:
    assert twice.is_unique and 1 <= len(twice) <= 3                  # each window of its 2 s once
    assert len(rej) >= 14
    # no group crosses splits; official folds/lists kept
    assert man.groupby('group').split.nunique().max() == 1
    esc = man[man.source == 'esc50']
    assert set(esc.split[esc.origin.str.contains('/5-')]) == {'test'}
    sc = man[man.source == 'speech_commands']
    assert set(sc.split[sc.group == 'sc:00000004']) == {'val'}
    # long recordings became several 1 s windows; event windows only where the event is
    bg = man[man.group.str.startswith('sc-bg:')]
    assert bg.groupby('group').size().min() >= 3
    assert (man.duration == 1.0).all()
    te = run.open_split('test')
    assert len(te) == (man.split == 'test').sum() and set(te.meta.label) <= set(CLASSES)


# ---------------------------------------------------------------- unreadable paths (EACCES), as a user without root's override
CAPSH = shutil.which("capsh")
BUILD = """import json, sys
from dataclasses import replace
from barkbook.data import build_dataset
from barkbook.params import smoke_params
from barkbook.run import Run
run = Run(sys.argv[2])
p = replace(smoke_params('01_generate_data'), classes=['dog_bark', 'ambient'], clips_per_class=0, n_jobs=1,
            augment_copies=0, imports=[dict(kind='folders', path=sys.argv[1])])   # the import alone: no chain copies
build_dataset(run, p, progress=False)
print(json.dumps(dict(rejected=run.read_rejected().values.tolist(), origins=sorted(run.read_manifest().origin))))
"""


@pytest.mark.skipif(CAPSH is None or os.geteuid() != 0,
                    reason="needs capsh and root to drop the capabilities that override file permissions")
def test_unreadable_and_odd_paths_are_rejected_and_the_rest_imported(tmp_path):
    "F1 + F9: a locked file, a locked sub-folder, a dangling link, a symlink loop and a FIFO each get a rejected row."
    src = tmp_path.resolve()/'src'
    for c in ('dog_bark', 'ambient'):
        for g in range(3): write_fixture_clip(src/c/f'{c}{g}.wav', c, group=g)
    locked = write_fixture_clip(src/'dog_bark'/'locked.wav', group=7)
    private = src/'ambient'/'private'; write_fixture_clip(private/'a.wav', 'ambient', group=8)
    (src/'dog_bark'/'old.wav').symlink_to(src/'gone.wav')
    (src/'ambient'/'loop').symlink_to(src/'ambient')
    os.mkfifo(src/'ambient'/'pipe.wav')
    locked.chmod(0); private.chmod(0)
    try:
        r = subprocess.run([CAPSH, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c",
                            f"{shlex.quote(sys.executable)} -c {shlex.quote(BUILD)} {src} {tmp_path/'run'}"],
                           capture_output=True, text=True, timeout=300)
    finally: private.chmod(0o755)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert {Path(p).relative_to(src).as_posix(): why for p, why in out['rejected']} == {
        'dog_bark/locked.wav': 'permission denied',
        'ambient/private': 'permission denied: folder cannot be listed',
        'dog_bark/old.wav': f"dangling symlink (to {src/'gone.wav'})",
        'ambient/loop': f"symlink loop: leads back to {src/'ambient'}",
        'ambient/pipe.wav': 'not a regular file (a FIFO, socket or device)'}
    assert {Path(o.split('@')[0]).name for o in out['origins']} == {f'{c}{g}.wav' for c in ('dog_bark', 'ambient')
                                                                   for g in range(3)}


# ---------------------------------------------------------------- memory of one long recording (F5)
def _bench_memory():
    spec = importlib.util.spec_from_file_location('bench_memory', Path(__file__).parent.parent/'benchmarks'/'bench_memory.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_long_recording_is_imported_in_bounded_memory(tmp_path):
    "A 20-minute 8 kHz event recording adds < 60 MB to a fresh worker process (reading it whole added ~1.2 GB)."
    bm = _bench_memory()
    wav = tmp_path/'long.wav'; bm.make_recording(wav, 1 / 3)
    r = subprocess.run([sys.executable, bm.__file__, '--child', str(wav), 'dog_bark', str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads(r.stdout.strip().splitlines()[-1])
    assert m['windows'] == 10 and m['peak_rss_mb'] - m['rss_after_imports_mb'] < 60, m


# ---------------------------------------------------------------- the 01 report on odd input (F3, F6, F10)
def test_data_report_lists_rejected_lines_and_clip_warnings(tmp_path, monkeypatch):
    "01_generate_data through papermill: a non-UTF-8 clipped file, a 0.5 s file, a bad manifest line -> shown."
    import nbformat, papermill as pm
    src = tmp_path/'src'
    for c in ('dog_bark', 'ambient'):
        for g in range(3): write_fixture_clip(src/c/f'{c}{g}.wav', c, group=g)
    x, _ = sf.read(src/'dog_bark'/'dog_bark0.wav')
    sf.write(os.fsencode(src/'dog_bark') + b'/caf\xe9.wav', np.clip(3 * x / np.abs(x).max(), -1, 1), 16000)
    sf.write(src/'ambient'/'half.wav', x[:8000], 16000)
    (tmp_path/'m.jsonl').write_text(json.dumps(dict(audio_filepath='src/ambient/ambient0.wav', label='ambient',
                                                    offset='x')) + '\n')
    monkeypatch.setenv('IN_TEST', '1')
    nbs = Path(__file__).parent.parent/'nbs'
    params = dict(run_dir=str(tmp_path/'run'), classes=['dog_bark', 'ambient'], clips_per_class=0, n_jobs=1,
                  imports=[dict(kind='folders', path=str(src)), dict(kind='manifest', path=str(tmp_path/'m.jsonl'))])
    pm.execute_notebook(str(nbs/'01_generate_data.ipynb'), str(tmp_path/'01.ipynb'), parameters=params,
                        kernel_name='python3', cwd=str(nbs), progress_bar=False)
    nb = nbformat.read(str(tmp_path/'01.ipynb'), 4)
    text = '\n'.join(o.get('text', '') + o.get('data', {}).get('text/html', '') for c in nb.cells if c.cell_type == 'code'
                     for o in c.outputs)
    assert f"{tmp_path/'m.jsonl'}:1" in text and "offset must be a number of seconds, got 'x'" in text
    assert 'caf\\xe9.wav@0.000' in text and 'clipped:' in text and 'too short: 0.50 s' in text
    counts = Run(tmp_path/'run').read_warnings()
    assert {Path(p.split('@')[0]).name for p in counts.origin} >= {os.fsdecode(b'caf\xe9.wav'), 'half.wav'}


# ---------------------------------------------------------------- UrbanSound8K next to built-in data (issue 13 item 7)
def test_urbansound8k_partial_download_next_to_built_in_clips(tmp_path):
    "Folds 1-3 of 10 on disk, imported next to the smoke-size built-in clips: checks first, caps, real val/test, warnings."
    from barkbook.importers import DataImportError, import_urbansound8k, write_urbansound8k_fixture
    us = tmp_path/'UrbanSound8K'
    csv = write_urbansound8k_fixture(us, on_disk=[1, 2, 3], slices=4, seconds=2.0)
    run, p0 = Run(tmp_path/'run'), smoke_params('01_generate_data')
    p = replace(p0, imports=[dict(kind='urbansound8k', path=str(us))], max_windows_per_file=3, n_jobs=1)
    # the metadata lists folds that are not on disk: caught before any file is read or written
    with pytest.raises(DataImportError, match=rf"{csv}: lists folds \[4, 5, 6, 7, 8, 9, 10\] that are not on disk.*"
                                              r"folds=\[1, 2, 3\]"):
        build_dataset(run, p, progress=False)
    assert not run.data_dir.exists()
    # a header line lost
    bare = tmp_path/'bare'; (bare/'metadata').mkdir(parents=True); (bare/'audio').symlink_to(us/'audio')
    (bare/'metadata'/'UrbanSound8K.csv').write_text(csv.read_text().split('\n', 1)[1])
    with pytest.raises(DataImportError, match=rf"{bare/'metadata'/'UrbanSound8K.csv'}: no header: the first line"):
        import_urbansound8k(bare, CLASSES, folds=[1])
    # salience: foreground barks only (slices 0 and 2 of each recording)
    fg = import_urbansound8k(us, CLASSES, folds=[1, 2, 3], salience={'dog_bark': 1})[0]
    assert sorted({Path(f).stem[-1] for f in fg.path[fg.label == 'dog_bark']}) == ['0', '2']
    # the folds on disk: official folds 1-3 are all training folds, so the data set is split by group instead
    p = replace(p, imports=[dict(kind='urbansound8k', path=str(us), folds=[1, 2, 3])])
    with pytest.warns(UserWarning) as caught:
        man = build_dataset(run, p, progress=False)
    said = [str(w.message) for w in caught]
    assert any(s.startswith('urbansound8k: its fixed splits (folds or official lists) put no clips in val or test')
               for s in said)
    assert any(s.startswith("ONLY BUILT-IN clips for ['speech', 'silence'] while ['dog_bark', 'ambient']") for s in said)
    real = man[man.source == 'urbansound8k']
    # children_playing (class id 1) and street_music (2) are dropped by the default mapping, not made ambient
    assert {Path(o.split('@')[0]).name.split('-')[1] for o in real.origin} == {'0', '3', '4'}
    assert set(real.split[real.label == 'dog_bark']) == set(real.split[real.label == 'ambient']) == {'train', 'val', 'test'}
    # caps: <= 3 windows per background recording, <= clips_per_class windows per class from the data set
    assert real[real.label == 'ambient'].groupby('group').size().max() <= 3
    assert real.groupby('label').size().to_dict() == {'ambient': 12, 'dog_bark': 12}   # 48 and 24 were possible
    assert man.groupby('group').split.nunique().max() == 1
    warns = run.read_warnings()
    n = {k: warns.warning.str.startswith(k).sum() for k in ('capped', 'ONLY BUILT-IN', 'NO REAL CLIPS')}
    assert n == {'capped': 2, 'ONLY BUILT-IN': 1, 'NO REAL CLIPS': 0}, warns
    assert len(list((run.data_dir/'clips').rglob('*.wav'))) == len(man)   # windows dropped by a cap leave no file


def test_urbansound8k_folds_too_few_recordings_for_val_test_are_reported_loudly(tmp_path):
    "Folds 1-2: two bark recordings cannot be split, so they stay in train and the data set's warnings say so."
    import warnings
    from barkbook.data import make_plan, split_plan, data_set_warnings
    from barkbook.importers import write_urbansound8k_fixture
    us = tmp_path/'UrbanSound8K'; write_urbansound8k_fixture(us, folds=[1, 2], seconds=0.5)
    p = replace(smoke_params('01_generate_data'), imports=[dict(kind='urbansound8k', path=str(us))])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always'); plan = split_plan(make_plan(p)[0], p)
    assert "classes ['dog_bark'] keep their fixed split" in str(caught[0].message)
    real = plan[plan.kind == 'import']
    assert set(real.split[real.label == 'dog_bark']) == {'train'} and set(real.split[real.label == 'ambient']) == {'train', 'val', 'test'}
    w = data_set_warnings(real, p.classes)   # what the data report would say about these clips
    assert [s[:40] for s in w.warning[:2]] == ["NO REAL CLIPS in val for ['dog_bark']: t", "NO REAL CLIPS in test for ['dog_bark']: "]
