"""Importers end to end (each layout's own tests live in nbs/17_importers): fixture trees of every supported
layout with bad files, imported through build_dataset on worker processes, read back through Run."""
import json
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
    assert len(rej) >= 8
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
