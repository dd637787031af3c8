"""The bad-input matrix (issue 16): ONE generated folder of ~50 kinds of bad or odd input, run through
`barkbook predict`, `barkbook detect`, `barkbook evaluate` (class sub-folders and a manifest) and the folder importer
(`barkbook.data.build_dataset`, imports [{kind: folders}, {kind: manifest}]). For each kind the table `KINDS` states
the outcome per command; the test asserts it, that every other file still got its result, and that nothing in the
fixture folder or the source run changed (snapshots before and after).

Outcomes: 'ok' (processed; for predict also: no warnings), 'warn:TEXT' (processed with a warning containing TEXT),
'error:TEXT' (an error line naming the path with a reason containing TEXT), 'ignored' (not audio: left out without a
word — notes.txt, hidden names). The commands run as a user without root's permission override (capsh drops
cap_dac_override / cap_dac_read_search) so a locked file and a locked folder are really unreadable; without capsh
and root the two locked kinds are left out.

Every kind lives under set/dog_bark/ (an event class for the importer) unless its path says otherwise;
set/speech, set/ambient, set/silence hold three good clips each so the importer can split the set."""
import hashlib, json, os, shlex, shutil, stat, struct, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
import soundfile as sf

BIN = Path(sys.executable).parent
CAPSH = shutil.which("capsh")
AS_USER = CAPSH is not None and os.geteuid() == 0          # drop root's permission override for the commands
SR = 16000
ERR_READ = "not a readable sound file"

# kind: (path under set/, predict, detect, evaluate, import)
KINDS = {
    # ------------------------------------------------------------------ processed
    'good':              ('dog_bark/good.wav', 'ok', 'ok', 'ok', 'ok'),
    'pcm_u8':            ('dog_bark/pcm_u8.wav', 'ok', 'ok', 'ok', 'ok'),
    'pcm_24':            ('dog_bark/pcm_24.wav', 'ok', 'ok', 'ok', 'ok'),
    'pcm_32':            ('dog_bark/pcm_32.wav', 'ok', 'ok', 'ok', 'ok'),
    'float32':           ('dog_bark/float32.wav', 'ok', 'ok', 'ok', 'ok'),
    'float64':           ('dog_bark/float64.wav', 'ok', 'ok', 'ok', 'ok'),
    'rate_8k':           ('dog_bark/rate_8k.wav', 'ok', 'ok', 'ok', 'ok'),
    'rate_96k_6ch':      ('dog_bark/rate_96k_6ch.wav', 'ok', 'ok', 'ok', 'ok'),
    'channels_24':       ('dog_bark/channels_24.wav', 'ok', 'ok', 'ok', 'ok'),
    'flac_44k_stereo':   ('dog_bark/flac_44k_stereo.flac', 'ok', 'ok', 'ok', 'ok'),
    'ogg_vorbis':        ('dog_bark/vorbis.ogg', 'ok', 'ok', 'ok', 'ok'),
    'mp3':               ('dog_bark/real.mp3', 'ok', 'ok', 'ok', 'ok'),
    'mp3_named_wav':     ('dog_bark/mp3_inside.wav', 'ok', 'ok', 'ok', 'ok'),
    'wav_named_mp3':     ('dog_bark/wav_inside.mp3', 'ok', 'ok', 'ok', 'ok'),
    'info_chunk':        ('dog_bark/info_chunk.wav', 'ok', 'ok', 'ok', 'ok'),
    'very_quiet':        ('dog_bark/very_quiet.wav', 'ok', 'ok', 'ok', 'error:silent: peak'),  # -61 dBFS peak: silence level, no warning
    'long_10min':        ('dog_bark/long_10min.wav', 'ok', 'ok', 'ok', 'ok'),
    'short_0.1s':        ('dog_bark/short.wav', 'warn:too short', 'error:too short', 'ok', 'ok'),
    'one_sample':        ('dog_bark/one_sample.wav', 'warn:too short', 'error:too short', 'ok', 'error:too short'),
    'clipped':           ('dog_bark/clipped.wav', 'warn:clipped', 'ok', 'ok', 'ok'),
    'dc_offset':         ('dog_bark/dc_offset.wav', 'warn:DC offset', 'ok', 'ok', 'ok'),
    'over_full_scale':   ('dog_bark/over_full_scale.wav', 'warn:over full scale', 'ok', 'ok', 'ok'),
    'digital_silence':   ('dog_bark/silent.wav', 'warn:digital silence', 'ok', 'ok', 'error:silent: every sample is zero'),
    'name_spaces':       ('dog_bark/with  two spaces.wav', 'ok', 'ok', 'ok', 'ok'),
    'name_quotes':       ('dog_bark/it\'s "quoted" $HOME;.wav', 'ok', 'ok', 'ok', 'ok'),
    'name_unicode':      ('dog_bark/собака ñ 🐕.wav', 'ok', 'ok', 'ok', 'ok'),
    'name_non_utf8':     (os.fsdecode(b'dog_bark/caf\xe9 \xff.wav'), 'ok', 'ok', 'ok', 'ok'),
    'name_upper_ext':    ('dog_bark/LOUD.WAV', 'ok', 'ok', 'ok', 'ok'),
    'name_leading_dash': ('dog_bark/-rf.wav', 'ok', 'ok', 'ok', 'ok'),
    'dir_named_wav':     ('dog_bark/folder.wav/inner.wav', 'ok', 'ok', 'ok', 'ok'),
    'symlink_to_file':   ('dog_bark/link_to_good.wav', 'ok', 'ok', 'ok', 'ignored'),  # importer: good.wav, once
    'outside_class':     ('loose.wav', 'ok', 'ok', 'error:not inside a class folder',
                          'error:not inside a class folder'),
    # ------------------------------------------------------------------ refused with a reason
    'truncated':         ('dog_bark/truncated.wav', *['error:truncated'] * 4),
    'random_bytes':      ('dog_bark/random.wav', *[f'error:{ERR_READ}'] * 4),
    'empty':             ('dog_bark/empty.wav', *['error:empty file (0 bytes)'] * 4),
    'zero_frames':       ('dog_bark/zero_frames.wav', *['error:no samples'] * 4),
    'nan':               ('dog_bark/nan.wav', *['error:NaN or infinite'] * 4),
    'inf':               ('dog_bark/inf.wav', *['error:NaN or infinite'] * 4),
    'absurd_rate':       ('dog_bark/absurd_rate.wav', *['error:absurd sample rate'] * 4),
    'headerless':        ('dog_bark/headerless.wav', *[f'error:{ERR_READ}'] * 4),
    'text_named_wav':    ('dog_bark/text.wav', *[f'error:{ERR_READ}'] * 4),
    'corrupt_ogg':       ('dog_bark/corrupt.ogg', *[f'error:{ERR_READ}'] * 4),
    'truncated_flac':    ('dog_bark/truncated.flac', *[f'error:{ERR_READ}'] * 4),
    'fifo':              ('dog_bark/pipe.wav', *['error:not a regular file'] * 4),
    'dangling_link':     ('dog_bark/dangling.wav', *['error:dangling symlink'] * 4),
    'symlink_loop':      ('dog_bark/loop', *['error:symlink loop: leads back to'] * 4),
    'self_link':         ('dog_bark/self.wav', *['error:symlink loop (too many levels'] * 4),
    'm4a':               ('dog_bark/tune.m4a', *['error:unsupported format .m4a'] * 3, 'error:not a sound file'),
    'aiff':              ('dog_bark/tune.aiff', *['error:unsupported format .aiff'] * 3, 'error:not a sound file'),
    'unreadable_file':   ('dog_bark/locked.wav', *['error:permission denied'] * 4),
    'unreadable_folder': ('dog_bark/private', *['error:permission denied: folder cannot be listed'] * 4),
    # ------------------------------------------------------------------ not audio: left out without a word
    'notes_txt':         ('dog_bark/notes.txt', 'ignored', 'ignored', 'ignored', 'error:not a sound file'),
    'hidden_name':       ('dog_bark/.hidden.wav', *['ignored'] * 4),
}
# bad manifest lines — importer (JSON lines, manifests/import.jsonl): kind -> (line, outcome of that line)
IMPORT_LINES = {
    'line_good':         ('{"audio_filepath": "clips/m_good.wav", "label": "speech"}', 'ok'),
    'line_offset_text':  ('{"audio_filepath": "clips/m_good.wav", "label": "speech", "offset": "x"}',
                          "error:offset must be a number of seconds, got 'x'"),
    'line_duration_text': ('{"audio_filepath": "clips/m_good.wav", "label": "speech", "duration": "abc"}',
                           "error:duration must be a number of seconds, got 'abc'"),
    'line_negative_offset': ('{"audio_filepath": "clips/m_good.wav", "label": "speech", "offset": -1}',
                             'error:negative offset -1.0 s'),
    'line_negative_duration': ('{"audio_filepath": "clips/m_good.wav", "label": "speech", "duration": -2}',
                               'error:duration must be > 0 s, got -2.0'),
    'line_duplicate':    ('{"audio_filepath": "clips/m_good.wav", "label": "speech"}', 'error:duplicate of line 1'),
    'line_not_json':     ('{"audio_filepath": "clips/m_good.wav", "label": ', 'error:not valid JSON'),
    'line_no_path':      ('{"label": "speech"}', "error:each line needs 'audio_filepath' and 'label'"),
    'line_bad_split':    ('{"audio_filepath": "clips/m_good.wav", "label": "speech", "split": "later"}',
                          "error:unknown split 'later'"),
}
# bad manifest lines — evaluate (CSV, manifests/evaluate.csv): kind -> (path, label, outcome)
EVAL_LINES = {
    'csv_good':          ('clips/m_good.wav', 'speech', 'ok'),
    'csv_missing_file':  ('clips/gone.wav', 'speech', 'error:file not found'),
    'csv_unknown_label': ('clips/m_good.wav', 'parrot', "error:unknown label 'parrot'"),
    'csv_bad_audio':     ('../set/dog_bark/random.wav', 'dog_bark', 'error:not a readable sound file'),
    'csv_empty_path':    ('', 'speech', 'error:file not found'),
}
GOOD_PER_CLASS = {c: [f'{c}/{c}_{i}.wav' for i in range(3)] for c in ('speech', 'ambient', 'silence')}


# ---------------------------------------------------------------------------------------------------- the fixture
def _bark(n, sr=SR, seed=0, amp=0.3):
    "A bark-like burst: noise under a 0.3 s envelope in the middle of `n` samples (mono float32)."
    r = np.random.default_rng(seed); t = np.arange(n) / sr
    y = np.exp(-0.5 * ((t - t.mean()) / 0.08) ** 2) * r.standard_normal(n)
    return (amp * y / np.abs(y).max()).astype(np.float32)        # peak `amp`

def _write(path, x, sr=SR, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(os.fsencode(path), x, sr, **kw)

def _patch_rate(path, rate):
    "Overwrite a PCM WAV header's sample rate (and byte rate) in place."
    b = bytearray(path.read_bytes()); ch, bits = struct.unpack_from('<H', b, 22)[0], struct.unpack_from('<H', b, 34)[0]
    struct.pack_into('<II', b, 24, rate, min(rate * ch * bits // 8, 0xFFFFFFFF)); path.write_bytes(bytes(b))

def make_fixture(root:Path)->dict:
    "Write every kind of KINDS under root/set (plus the good clips of the other classes); kind -> path."
    s = root/'set'; d = s/'dog_bark'; d.mkdir(parents=True)
    p = {k: s/v[0] for k, v in KINDS.items()}
    x = _bark(SR)
    for c, files in GOOD_PER_CLASS.items():
        for i, f in enumerate(files): _write(s/f, _bark(SR, seed=10 + i, amp={'speech': .2, 'ambient': .02, 'silence': .001}[c]), subtype='PCM_16')
    _write(p['good'], x, subtype='PCM_16')
    for k, sub in (('pcm_u8', 'PCM_U8'), ('pcm_24', 'PCM_24'), ('pcm_32', 'PCM_32'), ('float32', 'FLOAT'), ('float64', 'DOUBLE')):
        _write(p[k], x, subtype=sub)
    _write(p['rate_8k'], _bark(8000, 8000), 8000)
    _write(p['rate_96k_6ch'], np.repeat(_bark(96000, 96000)[:, None], 6, 1), 96000)
    _write(p['channels_24'], np.repeat(x[:, None], 24, 1))
    _write(p['flac_44k_stereo'], np.repeat(_bark(44100, 44100)[:, None], 2, 1), 44100)
    _write(p['ogg_vorbis'], x, format='OGG', subtype='VORBIS')
    _write(p['mp3'], x, format='MP3', subtype='MPEG_LAYER_III')
    shutil.copy(p['mp3'], p['mp3_named_wav']); shutil.copy(p['good'], p['wav_named_mp3'])
    with sf.SoundFile(p['info_chunk'], 'w', SR, 1, 'PCM_16') as f: f.title = 'a LIST INFO chunk'; f.write(x)
    _write(p['very_quiet'], x * 0.003, subtype='PCM_16')
    _write(p['long_10min'], np.tile(_bark(8000 * 4, 8000), 150), 8000, subtype='PCM_16')       # 10 min at 8 kHz
    _write(p['short_0.1s'], x[7200:8800]); _write(p['one_sample'], x[8000:8001])
    _write(p['clipped'], np.clip(x * 20, -1, 1), subtype='PCM_16')
    _write(p['dc_offset'], x * 0.3 + 0.3, subtype='PCM_16')
    _write(p['over_full_scale'], x * 8, subtype='FLOAT')
    _write(p['digital_silence'], np.zeros(SR, np.float32), subtype='PCM_16')
    for k in ('name_spaces', 'name_quotes', 'name_unicode', 'name_non_utf8', 'name_upper_ext', 'name_leading_dash',
              'dir_named_wav', 'outside_class'): _write(p[k], x, subtype='PCM_16')
    p['symlink_to_file'].symlink_to('good.wav')
    # refused
    good = p['good'].read_bytes()
    p['truncated'].write_bytes(good[:len(good) // 2])
    p['random_bytes'].write_bytes(np.random.default_rng(1).bytes(20000))
    p['empty'].write_bytes(b'')
    _write(p['zero_frames'], np.zeros(0, np.float32), subtype='PCM_16')
    _write(p['nan'], np.where(np.arange(SR) == 500, np.nan, x).astype(np.float32), subtype='FLOAT')
    _write(p['inf'], np.where(np.arange(SR) == 500, np.inf, x).astype(np.float32), subtype='FLOAT')
    _write(p['absurd_rate'], x, subtype='PCM_16'); _patch_rate(p['absurd_rate'], 1)
    p['headerless'].write_bytes((x * 32767).astype('<i2').tobytes())
    p['text_named_wav'].write_text("this is a text file\n" * 50)
    p['corrupt_ogg'].write_bytes(b'OggS' + b'\0' * 200)
    _write(p['truncated_flac'], x, format='FLAC'); b = p['truncated_flac'].read_bytes(); p['truncated_flac'].write_bytes(b[:60])
    os.mkfifo(p['fifo'])
    p['dangling_link'].symlink_to(d/'nowhere.wav')
    p['symlink_loop'].symlink_to('..')                 # set/dog_bark/loop -> set/dog_bark/.. = set ... taken first
    p['self_link'].symlink_to('self.wav')
    p['m4a'].write_bytes(b'\0\0\0\x20ftypM4A ' + b'\0' * 100); p['aiff'].write_bytes(b'FORM\0\0\0\x04AIFF')
    _write(p['unreadable_file'], x, subtype='PCM_16')
    _write(p['unreadable_folder']/'inside.wav', x, subtype='PCM_16')
    p['notes_txt'].write_text('field notes\n'); _write(p['hidden_name'], x, subtype='PCM_16')
    m = root/'manifests'; _write(m/'clips'/'m_good.wav', _bark(SR, seed=3, amp=0.2), subtype='PCM_16')
    (m/'import.jsonl').write_text(''.join(line + '\n' for line, _ in IMPORT_LINES.values()))
    (m/'evaluate.csv').write_text('path,label\n' + ''.join(f"{a},{b}\n" for a, b, _ in EVAL_LINES.values()))
    return p


# ---------------------------------------------------------------------------------------------------- running
def snapshot(*roots)->dict:
    "Every path under `roots` (symlinks not followed): type, mode, size, mtime and content hash of regular files."
    out = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(os.fsencode(root)):
            for n in dirs + files:
                q = os.path.join(dirpath, n); st = os.lstat(q)
                h = hashlib.sha1(Path(os.fsdecode(q)).read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else (
                    os.readlink(q) if stat.S_ISLNK(st.st_mode) else None)
                out[q] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns, h)
    return out

def as_user(*cmd, timeout=300)->subprocess.CompletedProcess:
    "Run a command (bytes output) as a user root's permission override does not apply to, when capsh allows."
    cmd = [str(c) for c in cmd]
    if AS_USER: cmd = [CAPSH, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", shlex.join(cmd)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, env=dict(os.environ, IN_TEST="1", TF_CPP_MIN_LOG_LEVEL="2"))
    r.seconds = time.perf_counter() - t0
    return r

def text(b:bytes)->str: return b.decode('utf-8', 'surrogateescape')     # names come back as os.fsdecode gives them

IMPORT = """import json, sys
from dataclasses import replace
from barkbook.data import build_dataset
from barkbook.params import smoke_params
from barkbook.run import Run
run = Run(sys.argv[2])
p = replace(smoke_params('01_generate_data'), classes=['dog_bark', 'speech', 'ambient', 'silence'], clips_per_class=0,
            n_jobs=1, imports=[dict(kind='folders', path=sys.argv[1])] + [dict(kind='manifest', path=m) for m in sys.argv[3:]])
build_dataset(run, p, progress=False)
w = run.read_warnings() if run.warnings_path.exists() else None
print(json.dumps(dict(rejected=run.read_rejected().values.tolist(), origins=sorted(set(run.read_manifest().origin)),
                      warnings=[] if w is None else w[['origin', 'warning']].values.tolist())))
"""

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    "The fixture folder, a copy of the tiny converted run, and the four commands' results (run once)."
    from barkbook.convert import tiny_converted
    root = tmp_path_factory.mktemp("bad").resolve()
    paths = make_fixture(root)
    run = root/'run'; shutil.copytree(tiny_converted().root, run, ignore=shutil.ignore_patterns('notebooks', 'checkpoint*'))
    if AS_USER: paths['unreadable_file'].chmod(0); paths['unreadable_folder'].chmod(0)
    else:
        paths.pop('unreadable_file').unlink(); shutil.rmtree(paths.pop('unreadable_folder'))  # need capsh + root
    before = snapshot(root/'set', root/'manifests', run)
    s = root/'set'; res = {}
    try:
        res['predict'] = as_user(BIN/'barkbook', 'predict', '--run', run, '--json', s)
        res['detect'] = as_user(BIN/'barkbook', 'detect', '--run', run, s)
        res['evaluate'] = as_user(BIN/'barkbook', 'evaluate', '--run', run, '--json', s)
        res['evaluate_manifest'] = as_user(BIN/'barkbook', 'evaluate', '--run', run, '--json', root/'manifests'/'evaluate.csv')
        res['import'] = as_user(sys.executable, '-c', IMPORT, s, root/'imported', root/'manifests'/'import.jsonl')
        after = snapshot(root/'set', root/'manifests', run)
    finally:
        if AS_USER: paths['unreadable_folder'].chmod(0o755); paths['unreadable_file'].chmod(0o644)
    yield dict(root=root, paths=paths, run=run, res=res, before=before, after=after)


# ---------------------------------------------------------------------------------------------------- outcomes
def _predict_outcomes(r)->dict:
    out = {}
    for line in text(r.stdout).splitlines():
        o = json.loads(line)
        out[o['path']] = (f"error:{o['error']}" if 'error' in o else
                          f"warn:{'; '.join(o['warnings'])}" if o.get('warnings') else 'ok')
    return out

def _detect_outcomes(r, paths)->dict:
    out = {}
    for line in text(r.stdout).splitlines():
        if not line.startswith(' ') and line.endswith(' bark(s)'): out[line.rsplit(': ', 1)[0]] = 'ok'
    err = text(r.stderr).splitlines()
    for p in map(str, paths):
        hit = [l for l in err if l.startswith(f"{p}: error: ")]
        if hit: out[p] = f"error:{hit[0][len(p) + 9:]}"
    return out

def _evaluate_outcomes(r, paths)->dict:
    o = json.loads(r.stdout)
    probs = {q['path']: f"error:{q['reason']}" for q in o['problems']}
    return {str(p): probs.get(str(p), 'ok') for p in paths}, o['n']

def _import_outcomes(r, paths)->dict:
    o = json.loads(text(r.stdout).strip().splitlines()[-1])
    rej = {p: f"error:{why}" for p, why in o['rejected']}
    used = {x.split('@')[0] for x in o['origins']}
    return {str(p): rej.get(str(p), 'ok' if str(p) in used else 'ignored') for p in paths}, o

def matches(want:str, got:str|None)->bool:
    if got is None: return want == 'ignored'
    if want in ('ok', 'ignored'): return got == want
    kind, _, txt = want.partition(':')
    return got.startswith(kind + ':') and txt in got


def observed(world)->dict:
    "kind -> (predict, detect, evaluate, import) outcome as seen in the commands' output."
    paths, res = world['paths'], world['res']
    pred = _predict_outcomes(res['predict'])
    det = _detect_outcomes(res['detect'], paths.values())
    ev, _ = _evaluate_outcomes(res['evaluate'], paths.values())
    imp, _ = _import_outcomes(res['import'], paths.values())
    return {k: (pred.get(str(p), 'ignored'), det.get(str(p), 'ignored'), ev[str(p)], imp[str(p)]) for k, p in paths.items()}


def test_matrix(world):
    "Each kind's outcome in predict, detect, evaluate and the importer is the one in KINDS."
    got, bad = observed(world), []
    for k, g in got.items():
        want = list(KINDS[k][1:])
        if want[2] == 'ignored' and g[2] == 'ok': want[2] = 'ok'    # evaluate lists refused clips only: see the count
        if not all(matches(w, o) for w, o in zip(want, g)): bad.append((k, tuple(want), g))
    print("\n" + "\n".join(f"{k:18s} " + " | ".join(o[:48].ljust(48) for o in g) for k, g in got.items()))
    for c, r in world['res'].items(): print(f"{c}: {r.seconds:.1f} s, exit {r.returncode}")
    assert not bad, "\n".join(map(str, bad))
    assert len(got) >= 40 + (0 if AS_USER else -2)


def test_every_other_file_got_its_result(world):
    "Exit codes say something failed; every good clip is classified, scored, counted and imported."
    res, paths, root = world['res'], world['paths'], world['root']
    assert [res[c].returncode for c in ('predict', 'detect', 'evaluate', 'evaluate_manifest', 'import')] == [1, 1, 1, 1, 0], \
        [text(res[c].stderr)[-2000:] for c in res]
    good = [root/'set'/f for fs in GOOD_PER_CLASS.values() for f in fs]
    pred, det = _predict_outcomes(res['predict']), _detect_outcomes(res['detect'], good)
    ev, n = _evaluate_outcomes(res['evaluate'], good)
    imp, raw = _import_outcomes(res['import'], good)
    for p in map(str, good): assert (pred[p], det[p], ev[p], imp[p]) == ('ok',) * 4, p
    in_class = [k for k, v in KINDS.items() if k in paths and v[0].startswith('dog_bark/') and v[3] == 'ok']
    assert n == len(in_class) + len(good)           # evaluate scored exactly the clips it did not refuse
    n_errors = sum(o.startswith('error') for o in _predict_outcomes(res['predict']).values())
    assert f"barkbook predict: {n_errors} path(s) could not be classified" in text(res['predict'].stderr)
    assert "Traceback" not in b"".join(r.stderr for r in res.values()).decode('utf-8', 'replace')


def test_nothing_outside_the_output_changed(world):
    "The fixture folder and the run the commands read are byte-for-byte, mode and mtime unchanged."
    before, after = world['before'], world['after']
    assert before.keys() == after.keys()
    assert {k: (before[k], after[k]) for k in before if before[k] != after[k]} == {}
    assert len(before) > 60


# ---------------------------------------------------------------------------------------------------- single issues
def _main(*argv)->tuple:
    "barkbook.cli.main in this process: (exit code, stdout, stderr)."
    import contextlib, io
    from barkbook.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def test_no_audio_files_found(world, tmp_path):
    "F9: an empty folder, a folder of only .m4a/.aiff, an empty folder named x.wav: 'no audio files found', exit != 0."
    (tmp_path/'empty').mkdir(); (tmp_path/'x.wav').mkdir()
    only = tmp_path/'only_unsupported'; (only/'speech').mkdir(parents=True)
    (only/'speech'/'a.m4a').write_bytes(b'\0' * 64); (only/'speech'/'b.aiff').write_bytes(b'FORM')
    dirs = [tmp_path/'empty', only, tmp_path/'x.wav']
    for cmd in ('predict', 'detect'):
        code, out, err = _main(cmd, '--run', world['run'], *dirs)
        assert code == 1 and out == '', (cmd, out)
        for d in dirs: assert f"{d}: error: no audio files found (.wav .flac .ogg .mp3)" in err.splitlines(), (cmd, err)
        assert f"{only/'speech'/'a.m4a'}: error: unsupported format .m4a" in err
        code, out, _ = _main(cmd, '--run', world['run'], '--json', tmp_path/'empty')
        assert code == 1 and json.loads(out) == {'path': str(tmp_path/'empty'),
                                                 'error': f"{tmp_path/'empty'}: no audio files found (.wav .flac .ogg .mp3)"}
    for d in dirs:
        code, out, err = _main('evaluate', '--run', world['run'], d)
        assert code == 2 and f"barkbook evaluate: error: {d}: no audio files found" in err and out == '', err
    assert "unsupported format .aiff" in _main('evaluate', '--run', world['run'], only)[2]


def test_text_output_names_and_warnings(world):
    "F3 + F10 in text mode: the non-UTF-8 name is written as its own bytes, warnings shown on the line."
    p = world['paths']
    r = as_user(BIN/'barkbook', 'predict', '--run', world['run'], p['name_non_utf8'], p['clipped'], p['short_0.1s'])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(os.fsencode(p['name_non_utf8']) + b'\t') and b'caf\xe9 \xff.wav' in lines[0]
    assert lines[1].startswith(os.fsencode(p['clipped']) + b'\t') and b'[warning: clipped: ' in lines[1]
    assert b'[warning: too short: 0.10 s, padded to 1.00 s]' in lines[2]
    # JSON: the undecodable bytes as escaped surrogates, which os.fsencode turns back into the name
    raw = [l for l in world['res']['predict'].stdout.splitlines() if b'caf' in l]
    assert len(raw) == 1 and b'caf\\udce9 \\udcff.wav' in raw[0]
    assert os.fsencode(json.loads(raw[0])['path']) == os.fsencode(p['name_non_utf8'])


def test_unreadable_file_in_the_middle_of_a_batch(world):
    "F1: the locked file's line names it and says 'permission denied'; the files before and after it are printed."
    if not AS_USER: pytest.skip("needs capsh and root to make a file unreadable")
    pred = _predict_outcomes(world['res']['predict'])
    order = [json.loads(l)['path'] for l in text(world['res']['predict'].stdout).splitlines()]
    i = order.index(str(world['paths']['unreadable_file']))
    assert pred[order[i]] == f"error:{order[i]}: permission denied"
    assert 0 < i < len(order) - 1 and pred[order[i - 1]] != 'ignored' and len(order) > 50
    assert f"{order[i]}: error: permission denied" in text(world['res']['detect'].stderr).splitlines()


def test_bad_classes_json_is_refused_by_predict_and_detect(world, tmp_path):
    "F11: a malformed classes.json and one with 3 names for the 4-output model: the same clear error, exit 2."
    from barkbook.run import Run
    run = Run(tmp_path/'run'); shutil.copytree(world['run'], run.root)
    good = world['paths']['good']
    run.write_classes(['dog_bark', 'speech', 'ambient'])
    for cmd in ('predict', 'detect'):
        code, out, err = _main(cmd, '--run', run.root, good)
        assert (code, out) == (2, '') and f"barkbook {cmd}: error:" in err and "differ from the run's classes" in err, err
    (run.features_dir/'classes.json').write_text('{"dog_bark": 0')
    for cmd in ('predict', 'detect'):
        code, out, err = _main(cmd, '--run', run.root, good)
        assert (code, out) == (2, '') and f"classes.json: not valid JSON" in err and 'Traceback' not in err, err
    # the model's output count is checked too (a conversion report without a class list)
    rep = json.loads(run.conversion_report_path.read_text()); rep['classes'] = []
    run.conversion_report_path.write_text(json.dumps(rep)); run.write_classes(['a', 'b', 'c'])
    for cmd in ('predict', 'detect'):
        code, _, err = _main(cmd, '--run', run.root, good)
        assert code == 2 and "model has 4 outputs but the run has 3 classes" in err, err


def test_bad_manifest_lines(world):
    "Each bad manifest line is refused with its line number (importer) or path (evaluate) and reason; the good one used."
    root = world['root']; m = root/'manifests'
    _, raw = _import_outcomes(world['res']['import'], [])
    rej = dict(map(tuple, raw['rejected'])); used = {x.split('@')[0] for x in raw['origins']}
    for i, (k, (_, want)) in enumerate(IMPORT_LINES.items(), 1):
        key = f"{m/'import.jsonl'}:{i}"
        got = f"error:{rej[key]}" if key in rej else 'ok' if str((m/'clips'/'m_good.wav').resolve()) in used else 'missing'
        assert matches(want, got), (k, want, got)
    o = json.loads(world['res']['evaluate_manifest'].stdout)
    probs = [(q['path'], q['reason']) for q in o['problems']]
    want_bad = [(str(m/p), w) for p, _, w in EVAL_LINES.values() if w != 'ok']
    assert len(probs) == len(want_bad) and o['n'] == 1, probs
    for (p, w), (gp, gr) in zip(sorted(want_bad), sorted(probs)): assert gp == p and matches(w, f"error:{gr}"), (p, w, gr)
