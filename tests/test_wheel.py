"""The light runtime install: `pip install barkbook` (no extras) runs predict, detect, evaluate and monitor without
TensorFlow; `barkbook[train]` (and `.[dev]`, which `make test` / `make pipeline` install) brings the training stack.

Fast (make test): build the wheel from the working tree (`pip wheel --no-deps`), read its Requires-Dist, entry point and
files; check that every third-party package the runtime modules import at module level is in the base set.
Slow (make test-all): a fresh venv with only the wheel installed (its dependencies from the package index or pip's
cache) gives the same `predict` (LiteRT and TFLM), `detect` and `evaluate` output as the dev venv on the tiny run's
int8 model, cannot import TensorFlow, and its `barkbook monitor` drives the firmware's host build over a pty.
"""
import ast, email.parser, importlib.metadata as md, json, os, re, shutil, subprocess, sys, venv, zipfile
from pathlib import Path
import numpy as np
import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The base install, as declared in pyproject.toml: a change to it must be deliberate (and measured: bench_install.py).
RUNTIME = {'numpy', 'scipy', 'soundfile', 'soxr', 'pandas', 'scikit-learn', 'pyyaml', 'fastcore', 'threadpoolctl',
           'ai-edge-litert', 'tflite-micro', 'pyserial'}
TRAIN_ONLY = {'tensorflow', 'keras', 'librosa', 'matplotlib', 'seaborn', 'papermill', 'ipykernel', 'audiomentations',
              'pyroomacoustics', 'espeakng-loader'}
# What the runtime commands load: the CLI, its predict/detect/evaluate/monitor handlers' modules and the int8 runtime.
RUNTIME_MODULES = ['cli', 'inference', 'runtime', 'stream', 'evaluate', 'monitor']


def norm(name): return re.sub(r'[-_.]+', '-', name).lower()


def build_wheel(out:Path)->Path:
    "The wheel of the working tree, built from a copy (the shared tree gets no build/ or egg-info)."
    src = out / 'src'
    src.mkdir(parents=True)
    for f in ('pyproject.toml', 'README.md'): shutil.copy(ROOT / f, src / f)
    shutil.copytree(ROOT / 'barkbook', src / 'barkbook', ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w', str(out), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = out.glob('barkbook-*.whl')
    return whl


@pytest.fixture(scope='module')
def wheel(tmp_path_factory)->Path: return build_wheel(tmp_path_factory.mktemp('wheel'))


def wheel_metadata(whl:Path):
    "The wheel's METADATA (parsed), its entry_points.txt text and its file names."
    with zipfile.ZipFile(whl) as z:
        dist = next(n.split('/')[0] for n in z.namelist() if n.endswith('.dist-info/METADATA'))
        meta = email.parser.Parser().parsestr(z.read(f'{dist}/METADATA').decode())
        return meta, z.read(f'{dist}/entry_points.txt').decode(), z.namelist()


def requires(meta)->dict:
    "extra ('' = base) -> {normalised name: Requirement}."
    out = {}
    for line in meta.get_all('Requires-Dist') or []:
        r = Requirement(line)
        extra = re.search(r'extra\s*==\s*"([^"]+)"', str(r.marker)).group(1) if r.marker else ''
        out.setdefault(extra, {})[norm(r.name)] = r
    return out


def test_wheel_dependency_sets(wheel):
    "Base = the runtime set, no TensorFlow; train has the training stack; dev = train + test tools; gpu kept."
    meta, entry_points, _ = wheel_metadata(wheel)
    req = requires(meta)
    assert set(req['']) == RUNTIME, f"base set changed: {sorted(set(req['']) ^ RUNTIME)}"
    assert not set(req['']) & TRAIN_ONLY
    assert TRAIN_ONLY - {'keras'} <= set(req['train'])        # keras comes with tensorflow
    assert 'barkbook' in req['dev'] and req['dev']['barkbook'].extras == {'train'}
    assert {'pytest', 'nbdev'} <= set(req['dev'])
    assert 'barkbook' in req['gpu'] and 'tensorflow' in req['gpu']
    assert re.search(r'^barkbook\s*=\s*barkbook\.cli:main$', entry_points, re.M)


def test_wheel_ships_every_module(wheel):
    "Every file under barkbook/ (modules and any package data) is in the wheel."
    names = set(wheel_metadata(wheel)[2])
    tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / 'barkbook').rglob('*')
            if p.is_file() and '__pycache__' not in p.parts and p.suffix != '.pyc'}
    assert tree - names == set()


def module_imports(path:Path)->tuple:
    "barkbook modules and third-party top-level packages imported when the module is imported (not in functions)."
    subs, third, todo = set(), set(), list(ast.parse(path.read_text()).body)
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)): continue
        todo.extend(ast.iter_child_nodes(n))
        if isinstance(n, ast.Import): mods = [(a.name, None) for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            mods = [(('barkbook.' if n.level else '') + (n.module or ''), [a.name for a in n.names])]
        else: continue
        for mod, names in mods:
            parts = mod.strip('.').split('.')
            if parts[0] != 'barkbook': third.add(parts[0])
            elif len(parts) > 1: subs.add(parts[1])
            else: subs.update(names or [])
    return subs, third - set(sys.stdlib_module_names) - {'__future__'}


def test_runtime_modules_import_only_the_base_set(wheel):
    "The runtime modules and the barkbook modules they import at module level need only base-set packages."
    base = set(requires(wheel_metadata(wheel)[0])[''])
    dists = md.packages_distributions()
    todo = [m for m in RUNTIME_MODULES if (ROOT / 'barkbook' / f'{m}.py').exists()]
    seen, third = set(), {}
    while todo:
        m = todo.pop()
        if m in seen or not (ROOT / 'barkbook' / f'{m}.py').exists(): continue
        seen.add(m)
        subs, tops = module_imports(ROOT / 'barkbook' / f'{m}.py')
        todo += subs
        for t in tops: third.setdefault(t, set()).add(m)
    assert {'cli', 'inference', 'runtime', 'core', 'run', 'features'} <= seen
    missing = {t: sorted(ms) for t, ms in third.items() if not {norm(d) for d in dists.get(t, [t])} & base}
    assert not missing, f"imported at module level by runtime modules but not in the base install: {missing}"


# --- the real thing: a fresh venv with the runtime install only -----------------------------------------------------

def clean_env(bin_dir:Path)->dict:
    env = {k: v for k, v in os.environ.items() if k not in ('VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME')}
    return dict(env, PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", TF_CPP_MIN_LOG_LEVEL='2')


def runtime_venv(d:Path, whl:Path)->Path:
    "A fresh venv at d with `pip install <wheel>` only (no extras); its bin folder."
    venv.EnvBuilder(with_pip=True).create(d)
    b = d / 'bin'
    r = subprocess.run([b / 'python', '-m', 'pip', 'install', '-q', str(whl)], capture_output=True, text=True,
                       env=clean_env(b), timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    return b


@pytest.fixture(scope='module')
def rt(tmp_path_factory, wheel)->Path: return runtime_venv(tmp_path_factory.mktemp('rtvenv') / 'venv', wheel)


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    "The tiny run (read-only), one clip, a long recording of test clips back to back, and a class-folder set."
    from barkbook.convert import tiny_converted
    from barkbook.audio import save_wav
    from barkbook.run import Run
    run = tiny_converted()
    d = tmp_path_factory.mktemp('inputs')
    split = Run(run.root).open_split('test')
    save_wav(d / 'one.wav', np.asarray(split.wave[0]))
    save_wav(d / 'long.wav', np.concatenate([np.asarray(split.wave[i]) for i in range(min(30, len(split)))]))
    for c, name in enumerate(split.classes):
        (d / 'set' / name).mkdir(parents=True)
        for k, i in enumerate(np.flatnonzero(np.asarray(split.y) == c)[:3]):
            save_wav(d / 'set' / name / f'{k}.wav', np.asarray(split.wave[i]))
    return run.root, d


def barkbook(bin_dir:Path, *args):
    r = subprocess.run([bin_dir / 'barkbook', *map(str, args)], capture_output=True, text=True, env=clean_env(bin_dir),
                       timeout=300)
    assert r.returncode == 0, f"{bin_dir}: barkbook {' '.join(map(str, args))}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.mark.slow
def test_runtime_venv_has_no_training_stack(rt):
    "TensorFlow, Keras and the rest of the training stack are absent; the runtime modules import."
    mods = ', '.join(f'barkbook.{m}' for m in RUNTIME_MODULES if (ROOT / 'barkbook' / f'{m}.py').exists())
    code = (f"import importlib.util, json, sys; import {mods}\n"
            f"print(json.dumps([m for m in {sorted(TRAIN_ONLY)!r} if importlib.util.find_spec(m.replace('-', '_'))]))")
    r = subprocess.run([rt / 'python', '-c', code], capture_output=True, text=True, env=clean_env(rt))
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout) == []
    r = subprocess.run([rt / 'python', '-c', 'import tensorflow'], capture_output=True, text=True, env=clean_env(rt))
    assert r.returncode != 0 and "No module named 'tensorflow'" in r.stderr


@pytest.mark.slow
def test_runtime_venv_gives_the_dev_venv_answers(rt, inputs):
    "predict (LiteRT and TFLM), detect and evaluate on the tiny run: same output as the full install."
    run, d = inputs
    for args in (['predict', '--run', run, d / 'one.wav', '--json'],
                 ['predict', '--run', run, d / 'one.wav', '--json', '--backend', 'tflm'],
                 ['detect', '--run', run, d / 'long.wav', '--json'],
                 ['evaluate', '--run', run, d / 'set', '--json']):
        got, want = barkbook(rt, *args), barkbook(BIN, *args)
        assert got == want, args
    pred = json.loads(barkbook(rt, 'predict', '--run', run, d / 'one.wav', '--json'))
    assert pred['label'] in pred['scores'] and 0 < pred['confidence'] <= 1


@pytest.mark.slow
def test_runtime_venv_monitors_the_host_firmware(rt, inputs):
    "`barkbook monitor` from the runtime venv on the firmware's host build over a pty: steps and a threshold change."
    from barkbook import firmware as fwm
    if (why := fwm.missing_tree('tflm')) is not None: pytest.skip(f"TFLite Micro sources not available: {why}")
    from barkbook.monitor import build_monitor_host
    exe = build_monitor_host()
    master, slave = os.openpty()
    host = subprocess.Popen([str(exe), '--wav', str(inputs[1] / 'long.wav'), '--fd', str(master), '--baud', '921600',
                             '--speed', '8', '--loops', '0'], pass_fds=[master], stderr=subprocess.DEVNULL)
    os.close(master)
    try:
        r = subprocess.run([rt / 'barkbook', 'monitor', '--port', os.ttyname(slave), '--baud', '921600',
                            '--threshold', '0.5', '--duration', '4', '--json'],
                           capture_output=True, text=True, env=clean_env(rt), timeout=60)
    finally:
        os.close(slave)                                   # the last holder of the slave: the program hangs up
        host.wait(timeout=30)
    assert r.returncode == 0, r.stderr[-3000:]
    msgs = [json.loads(l) for l in r.stdout.splitlines()]
    assert any(m['tag'] == 'OK' and m['cmd'] == 'threshold' for m in msgs)
    assert [m for m in msgs if m['tag'] == 'CFG'][-1]['confidence_threshold'] == 0.5
    assert sum(m['tag'] == 'STEP' for m in msgs) > 10
