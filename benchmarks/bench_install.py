"""Runtime install benchmark: disk size of `pip install barkbook` (no TensorFlow) against the full install, and the
cold start of `barkbook predict` in a fresh runtime venv.

    python benchmarks/bench_install.py [--run RUN_DIR] [--repeat 5] [--full-venv] [--json OUT]

- builds the wheel of this tree (`pip wheel --no-deps`), creates a fresh venv and `pip install`s the wheel alone
  (dependencies from the package index or pip's cache: the install time depends on the network);
- runtime size = that venv's site-packages on disk (pip and setuptools included, as in any venv);
- full size = the distributions `barkbook[train]` resolves to, summed from this (dev) venv's RECORD files (the same
  versions as installed here), or with --full-venv a second fresh venv with `pip install barkbook[train]` (~1 GB
  downloaded); the dev venv's whole site-packages (`.[dev]`, what `make test` installs) is listed too;
- cold `barkbook predict --run RUN one.wav --json`: wall and CPU time of the first invocation in the fresh runtime venv,
  then the median of --repeat more there and in the dev venv.
Uses runs/default when it has an int8 model (make pipeline), else the cached tiny run (barkbook.convert.tiny_converted).
"""
import argparse, email.parser, importlib.metadata as md, json, os, re, resource, shutil, statistics, subprocess, sys
import tempfile, time, venv, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def norm(name): return re.sub(r'[-_.]+', '-', name).lower()


def env_for(bin_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ('VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME')}
    return dict(env, PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", TF_CPP_MIN_LOG_LEVEL='2')


def build_wheel(out: Path) -> Path:
    "The wheel of this tree, built from a copy (no build/ or egg-info left in the tree)."
    src = out / 'src'; src.mkdir(parents=True)
    for f in ('pyproject.toml', 'README.md'): shutil.copy(ROOT / f, src / f)
    shutil.copytree(ROOT / 'barkbook', src / 'barkbook', ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w', str(out), str(src)], check=True,
                   capture_output=True)
    return next(out.glob('barkbook-*.whl'))


def fresh_venv(d: Path, spec: str) -> tuple:
    "A fresh venv at d with `pip install SPEC`; its bin folder and the install's wall time."
    venv.EnvBuilder(with_pip=True).create(d)
    b = d / 'bin'
    t0 = time.perf_counter()
    r = subprocess.run([b / 'python', '-m', 'pip', 'install', '-q', spec], capture_output=True, text=True, env=env_for(b))
    if r.returncode: raise SystemExit(f"pip install {spec} failed:\n{r.stderr[-3000:]}")
    return b, time.perf_counter() - t0


def disk_bytes(path: Path) -> int:
    "Bytes on disk (allocated blocks) under path; hard links counted once."
    seen, total = set(), 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            if (st.st_dev, st.st_ino) in seen: continue
            seen.add((st.st_dev, st.st_ino)); total += st.st_blocks * 512
    return total


def site_packages(bin_dir: Path) -> Path:
    out = subprocess.run([bin_dir / 'python', '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                         capture_output=True, text=True, check=True, env=env_for(bin_dir)).stdout.strip()
    return Path(out)


def wheel_requires(whl: Path) -> list:
    with zipfile.ZipFile(whl) as z:
        name = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
        return email.parser.Parser().parsestr(z.read(name).decode()).get_all('Requires-Dist') or []


def closure(reqs: list, extras: set) -> dict:
    "Installed distributions (this venv) that requirement strings resolve to with the given extras: name -> Distribution."
    from packaging.requirements import Requirement
    todo, out = [(Requirement(r), extras) for r in reqs], {}
    while todo:
        r, ex = todo.pop()
        if r.marker and not any(r.marker.evaluate({'extra': e}) for e in (ex or {''})): continue
        n = norm(r.name)
        if n == 'barkbook': todo += [(Requirement(q), set(r.extras)) for q in reqs]; continue
        try: d = md.distribution(r.name)
        except md.PackageNotFoundError: continue   # e.g. a platform-only dependency
        new = n not in out
        out[n] = d
        if new or r.extras: todo += [(Requirement(q), set(r.extras)) for q in (d.requires or [])]
    return out


def dists_bytes(dists: dict) -> int:
    "On-disk bytes of the distributions' files (their RECORD)."
    seen, total = set(), 0
    for d in dists.values():
        for f in d.files or []:
            p = Path(d.locate_file(f))
            try: st = p.lstat()
            except OSError: continue
            if (st.st_dev, st.st_ino) in seen: continue
            seen.add((st.st_dev, st.st_ino)); total += st.st_blocks * 512
    return total


def cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wall(cmd, bin_dir: Path, repeat: int) -> list:
    "(wall s, CPU s) of each of `repeat` runs: CPU time says more than wall time on a loaded machine."
    ts = []
    for _ in range(repeat):
        c0, t0 = cpu_children(), time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env_for(bin_dir))
        ts.append((time.perf_counter() - t0, cpu_children() - c0))
        if r.returncode: raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr[-2000:]}")
    return ts


def med(ts: list) -> tuple: return tuple(statistics.median(t[i] for t in ts) for i in (0, 1))


def pick_run(arg):
    if arg: return Path(arg)
    default = ROOT / 'runs' / 'default'
    from barkbook.run import Run
    if Run(default).tflite_path('int8').exists(): return default
    from barkbook.convert import tiny_converted
    print('using the tiny run (built once, cached under runs/_tiny) ...', flush=True)
    return tiny_converted().root


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run', help='run directory (default: runs/default, else the tiny run)')
    ap.add_argument('--repeat', type=int, default=5, help='warm predict start-ups to take the median of')
    ap.add_argument('--full-venv', action='store_true', help='measure the full install in a fresh venv too (~1 GB download)')
    ap.add_argument('--quick', action='store_true', help='accepted for make bench: 3 repeats')
    ap.add_argument('--json', default=str(ROOT / 'benchmarks' / 'results' / 'bench_install.json'), help='write results here')
    a = ap.parse_args()
    repeat = 3 if a.quick else a.repeat
    run = pick_run(a.run)
    import numpy as np
    from barkbook.audio import save_wav
    from barkbook.run import Run
    res, rows = {'run': str(run), 'load_avg_1min_at_start': os.getloadavg()[0], 'cpus': os.cpu_count()}, []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        save_wav(d / 'one.wav', np.asarray(Run(run).open_split('test').wave[0]))
        whl = build_wheel(d / 'wheel')
        req = wheel_requires(whl)
        rt, t_install = fresh_venv(d / 'rt', str(whl))
        rt_sp = site_packages(rt)
        n_rt = len(list(rt_sp.glob('*.dist-info')))
        res.update(runtime_mb=disk_bytes(rt_sp) / 2**20, runtime_dists=n_rt, runtime_install_s=t_install)
        biggest = sorted(((disk_bytes(p) / 2**20, p.name) for p in rt_sp.iterdir() if p.is_dir()), reverse=True)[:6]
        res['runtime_largest_mb'] = {n: round(s, 1) for s, n in biggest}
        has_tf = subprocess.run([rt / 'python', '-c', 'import tensorflow'], capture_output=True,
                                env=env_for(rt)).returncode == 0
        res['runtime_imports_tensorflow'] = has_tf
        train = closure(req, {'train'})
        res.update(full_mb_from_dev_venv=dists_bytes(train) / 2**20, full_dists=len(train),
                   runtime_mb_from_dev_venv=dists_bytes(closure(req, set())) / 2**20,
                   dev_venv_site_packages_mb=disk_bytes(site_packages(BIN)) / 2**20)
        cmd = lambda b: [b / 'barkbook', 'predict', '--run', str(run), str(d / 'one.wav'), '--json']
        first, warm, dev = wall(cmd(rt), rt, 1)[0], med(wall(cmd(rt), rt, repeat)), med(wall(cmd(BIN), BIN, repeat))
        res.update(cold_predict_first_s=first[0], cold_predict_first_cpu_s=first[1], predict_runtime_median_s=warm[0],
                   predict_runtime_median_cpu_s=warm[1], predict_dev_median_s=dev[0], predict_dev_median_cpu_s=dev[1])
        if a.full_venv:
            full, t_full = fresh_venv(d / 'full', f'{whl}[train]')
            res.update(full_venv_mb=disk_bytes(site_packages(full)) / 2**20, full_install_s=t_full)
            shutil.rmtree(d / 'full')
    rows += [('runtime install: site-packages of a fresh venv (`pip install barkbook`)',
              f"{res['runtime_mb']:.0f} MB, {n_rt} distributions (pip install took {t_install:.0f} s)"),
             ('  largest folders', ', '.join(f'{n} {s:.0f} MB' for s, n in biggest)),
             ('  `import tensorflow` in the runtime venv', 'works' if has_tf else 'fails (not installed)'),
             ('runtime set, sized from this venv (same versions as the full set)',
              f"{res['runtime_mb_from_dev_venv']:.0f} MB"),
             ('full install `barkbook[train]`, sized from this venv',
              f"{res['full_mb_from_dev_venv']:.0f} MB, {len(train)} distributions")]
    if a.full_venv:
        rows.append(('full install: site-packages of a fresh venv (`pip install barkbook[train]`)',
                     f"{res['full_venv_mb']:.0f} MB (pip install took {res['full_install_s']:.0f} s)"))
    rows += [('dev venv site-packages (`.[dev]`: make test / make pipeline)',
              f"{res['dev_venv_site_packages_mb']:.0f} MB"),
             ('cold `barkbook predict --run RUN one.wav --json`, first run in the fresh runtime venv',
              f'{first[0]:.2f} s wall, {first[1]:.2f} s CPU'),
             (f'  then median of {repeat} in the runtime venv', f'{warm[0]:.2f} s wall, {warm[1]:.2f} s CPU'),
             (f'  median of {repeat} in the dev venv (TensorFlow installed, not imported)',
              f'{dev[0]:.2f} s wall, {dev[1]:.2f} s CPU')]
    w = max(len(k) for k, _ in rows)
    print(f"run: {run}  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: timings grow with it)\n")
    print("| measurement".ljust(w + 2) + " | result |\n|" + "-" * (w + 2) + "|---|")
    for k, v in rows: print(f"| {k.ljust(w)} | {v} |")
    out = Path(a.json); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}, indent=2) + '\n')


if __name__ == '__main__':
    main()
