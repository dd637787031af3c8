"""Data-generation benchmark: synthetic clips per second (per class, 1 and 2 workers) and the peak-memory growth
of `barkbook.data.build_dataset` when the data set grows ten-fold (2,000 -> 20,000 clips; --quick: 200 -> 2,000).

Each memory point runs in a fresh subprocess: peak RSS from resource.getrusage (the process itself and its
worker processes) and the peak of Python-level allocations from tracemalloc.

    python benchmarks/bench_data.py [--quick] [--json OUT]
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ['dog_bark', 'speech', 'ambient', 'silence']


def child(n_clips: int, out: str) -> dict:
    "Build a synthetic data set of `n_clips` clips in this process and report time and memory."
    import tracemalloc
    tracemalloc.start()
    from barkbook.data import build_dataset
    from barkbook.params import DataParams
    from barkbook.run import Run
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    p = DataParams(classes=CLASSES, clips_per_class=n_clips // len(CLASSES), clips_per_group=4, n_jobs=2)
    m = build_dataset(Run(out), p, progress=False)
    dt = time.perf_counter() - t0
    _, tm_peak = tracemalloc.get_traced_memory()
    return dict(clips=len(m), seconds=round(dt, 1), clips_per_s=round(len(m) / dt, 1), cpu_s=round(_cpu(), 1),
                rss_at_start_mb=round(base / 1024, 1),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                peak_rss_workers_mb=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                tracemalloc_peak_mb=round(tm_peak / 2**20, 1),
                disk_mb=round(sum(f.stat().st_size for f in Path(out).rglob('*') if f.is_file()) / 2**20, 1))


def _cpu() -> float:
    "CPU seconds of this process and its finished children (eSpeak runs in forked children)."
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def throughput(n_per_class: int) -> list:
    "Clips per second of the generator, per class in this process, and all classes on 1 and 2 workers."
    from barkbook import synth
    rows = []
    synth.synth_clip('speech', 0, 0, 0)   # warm up (imports, eSpeak initialisation)
    for c in CLASSES:
        t0, c0 = time.perf_counter(), _cpu()
        for g in range(n_per_class): synth.synth_clip(c, 1, g, 0)
        rows.append(dict(what=f'{c} (1 process)', clips=n_per_class, clips_per_s=round(n_per_class / (time.perf_counter() - t0), 1),
                         clips_per_cpu_s=round(n_per_class / (_cpu() - c0), 1)))
    with tempfile.TemporaryDirectory() as d:
        for n_jobs in (1, 2):
            jobs = [(c, 2 + n_jobs, g, 0, Path(d)/f'{n_jobs}_{c}_{g}.wav') for g in range(n_per_class) for c in CLASSES]
            t0 = time.perf_counter()
            for _ in synth.render_clips(jobs, n_jobs=n_jobs, progress=False, min_parallel=0): pass
            rows.append(dict(what=f'render_clips, all classes, n_jobs={n_jobs} (incl. WAV write, worker start-up)', clips=len(jobs),
                             clips_per_s=round(len(jobs) / (time.perf_counter() - t0), 1), clips_per_cpu_s='-'))
    return rows


def table(rows, cols):
    w = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ['  '.join(c.ljust(w[c]) for c in cols), '  '.join('-' * w[c] for c in cols)]
    lines += ['  '.join(str(r[c]).ljust(w[c]) for c in cols) for r in rows]
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='small sizes (200 -> 2,000 clips)')
    ap.add_argument('--json', default=str(ROOT/'benchmarks'/'results'/'bench_data.json'), help='write results here')
    ap.add_argument('--child', nargs=2, metavar=('N_CLIPS', 'OUT_DIR'), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(int(a.child[0]), a.child[1]))); return

    small, large = (200, 2000) if a.quick else (2000, 20000)
    print(f"== bench_data: generation throughput ({os.cpu_count()} cores)")
    tp = throughput(10 if a.quick else 40)
    print(table(tp, ['what', 'clips', 'clips_per_s', 'clips_per_cpu_s']))
    print(f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall-clock rates drop when the machine is shared)")

    print(f"\n== bench_data: memory of build_dataset, {small} -> {large} clips (fresh subprocess each)")
    mem = []
    for n in (small, large):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, PYTHONWARNINGS='ignore')
            r = subprocess.run([sys.executable, __file__, '--child', str(n), d], capture_output=True, text=True, env=env)
            if r.returncode != 0: sys.exit(f"child run of {n} clips failed:\n{r.stderr[-3000:]}")
            mem.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(table(mem, ['clips', 'seconds', 'clips_per_s', 'cpu_s', 'peak_rss_mb', 'peak_rss_workers_mb', 'tracemalloc_peak_mb', 'disk_mb']))
    growth = round(mem[1]['peak_rss_mb'] - mem[0]['peak_rss_mb'], 1)
    growth_py = round(mem[1]['tracemalloc_peak_mb'] - mem[0]['tracemalloc_peak_mb'], 1)
    ok = growth < 200
    print(f"\npeak RSS growth {small} -> {large} clips: {growth} MB (tracemalloc: {growth_py} MB); "
          f"data on disk grew {round(mem[1]['disk_mb'] - mem[0]['disk_mb'])} MB -> {'OK (< 200 MB)' if ok else 'TOO MUCH (>= 200 MB)'}")
    out = Path(a.json); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(throughput=tp, memory=mem, rss_growth_mb=growth, tracemalloc_growth_mb=growth_py,
                                   quick=a.quick), indent=2) + '\n')
    if not ok: sys.exit(1)


if __name__ == '__main__':
    main()
