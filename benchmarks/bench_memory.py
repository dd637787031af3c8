"""Memory benchmark: peak RSS of one import worker and of `barkbook detect` on one long recording (issue 16, F5).

A 2-hour 8 kHz mono recording (mostly quiet room noise, a bark every ~3 minutes) is written once, then imported in a
fresh process by the worker function of the data step (`barkbook.importers._extract_batch`) — as an event class
(`dog_bark`: the loudest windows are searched over the whole file) and as a background class (`ambient`: windows back
to back). Peak RSS is the process's ru_maxrss (VmHWM); the baseline is the same process after its imports.
The importer streams the file in `BLOCK_S`-second blocks, so the peak must not depend on the file's length:
limit 300 MB per worker (before streaming: ~3.5 GB per hour of audio).

`barkbook detect` is measured the same way on a 2-hour 16 kHz recording (fresh process, `barkbook.stream.detect_file`
with the run's model and shipped detector): it reads and scores the file in `barkbook.stream.BLOCK_S`-second
blocks, so its peak must not depend on the file's length either: limit 300 MB (before streaming: 1.46 GB).
`--before` adds the whole-file path (load the recording, then score it) for comparison.

    python benchmarks/bench_memory.py [--quick] [--hours H] [--run RUN_DIR] [--before] [--detect-only] [--json OUT]
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 300.0


def make_recording(path: Path, hours: float, sr: int = 8000) -> float:
    "Write a long 16-bit WAV block by block (quiet noise, a 0.4 s bark-like burst every ~3 min); its length in s."
    import numpy as np, soundfile as sf
    rng = np.random.default_rng(0)
    n, block = int(hours * 3600 * sr), 60 * sr
    with sf.SoundFile(str(path), 'w', samplerate=sr, channels=1, subtype='PCM_16') as f:
        for s in range(0, n, block):
            x = 0.003 * rng.standard_normal(min(block, n - s))
            if (s // block) % 3 == 1:   # one burst per 3 minutes, at a random place in the minute
                t0 = int(rng.integers(0, len(x) - sr)); t = np.arange(int(0.4 * sr)) / sr
                x[t0:t0 + len(t)] += 0.5 * np.sin(2 * np.pi * 700 * t) * np.hanning(len(t))
            f.write(x.astype(np.float32))
    return n / sr


def child(path: str, label: str, out: str) -> dict:
    "Import `path` as `label` with the data step's worker function in this process; time and memory."
    from barkbook.importers import _extract_batch, MIN_EVENT_PEAK_DBFS, BLOCK_S
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    job = dict(path=path, label=label, group='g', split='', source='bench', offset=0.0, duration=float('nan'),
               out_stem=str(Path(out) / 'clip'))
    t0 = time.perf_counter()
    res = _extract_batch([job], 10, ('dog_bark', 'speech'), MIN_EVENT_PEAK_DBFS)
    dt = time.perf_counter() - t0
    bad = [r for k, r in res if k != 'ok']
    if bad: raise SystemExit(f"import rejected the recording: {bad}")
    return dict(label=label, windows=len(res), seconds=round(dt, 1), block_s=BLOCK_S,
                rss_after_imports_mb=round(base, 1),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                first_windows_s=[round(r['window_s'], 2) for _, r in res[:3]])


def make_recording_16k(path: Path, hours: float) -> float:
    "The same kind of recording at 16 kHz (what the device hears), written block by block; its length in s."
    return make_recording(path, hours, sr=16000)


def child_detect(path: str, run_dir: str, mode: str) -> dict:
    "Detect barks in `path` in this process: streamed (detect_file) or whole-file (load, then score); time and memory."
    from barkbook.stream import load_detector, detect_file, stream_scores, BLOCK_S
    from barkbook.scenes import events_from_scores
    from barkbook.audio import load_audio
    det = load_detector(run_dir)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if mode == 'stream': ev = detect_file(det, path)
    else:
        x = load_audio(path, target_sr=det.cfg.sample_rate)
        ev = events_from_scores(stream_scores(det.model, x, det.grid), det.det_cfg, det.cfg, len(x) / det.cfg.sample_rate)
    dt = time.perf_counter() - t0
    return dict(label=f'detect ({mode})', windows=len(ev), seconds=round(dt, 1),
                block_s=BLOCK_S if mode == 'stream' else 'whole file', rss_after_imports_mb=round(base, 1),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                first_windows_s=[round(float(t), 2) for t in ev.start_s[:3]])


def default_run() -> str:
    "The default run if it has an int8 model, else the cached tiny converted run."
    run = ROOT / 'runs' / 'default'
    if (run / 'tflite').is_dir() and any((run / 'tflite').glob('*int8*.tflite')): return str(run)
    from barkbook.convert import tiny_converted
    return str(tiny_converted().root)


def table(rows, cols):
    w = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ['  '.join(c.ljust(w[c]) for c in cols), '  '.join('-' * w[c] for c in cols)]
    return '\n'.join(lines + ['  '.join(str(r[c]).ljust(w[c]) for c in cols) for r in rows])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='accepted for make bench; the 2-hour file is the point, kept')
    ap.add_argument('--hours', type=float, default=2.0, help='length of the recording (default 2)')
    ap.add_argument('--json', default=str(ROOT / 'benchmarks' / 'results' / 'bench_memory.json'), help='write results here')
    ap.add_argument('--run', help='run whose model detect uses (default: runs/default, else the tiny run)')
    ap.add_argument('--before', action='store_true', help='also measure detect on the whole file at once')
    ap.add_argument('--detect-only', action='store_true', help='measure detect only (not the importer)')
    ap.add_argument('--child', nargs=3, metavar=('WAV', 'LABEL', 'OUT'), help=argparse.SUPPRESS)
    ap.add_argument('--child-detect', nargs=3, metavar=('WAV', 'RUN', 'MODE'), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(*a.child))); return
    if a.child_detect:
        print(json.dumps(child_detect(*a.child_detect))); return

    rows = []
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / 'long_8k.wav'
        t0 = time.perf_counter(); secs = make_recording(wav, a.hours)
        print(f"== bench_memory: importing one {secs / 3600:.1f}-hour 8 kHz recording "
              f"({wav.stat().st_size / 2**20:.0f} MB on disk, written in {time.perf_counter() - t0:.1f} s), fresh process each")
        for label in () if a.detect_only else ('dog_bark', 'ambient'):
            out = Path(d) / label; out.mkdir()
            env = dict(os.environ, PYTHONWARNINGS='ignore')
            r = subprocess.run([sys.executable, __file__, '--child', str(wav), label, str(out)], capture_output=True,
                               text=True, env=env)
            if r.returncode != 0: sys.exit(f"import of the {label} recording failed:\n{r.stderr[-3000:]}")
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        wav16 = Path(d) / 'long_16k.wav'; make_recording_16k(wav16, a.hours); wav.unlink()
        run_dir = a.run or default_run()
        print(f"== detect: the {a.hours:g}-hour recording at 16 kHz ({wav16.stat().st_size / 2**20:.0f} MB), model of {run_dir}")
        for mode in ['stream'] + (['whole'] if a.before else []):
            r = subprocess.run([sys.executable, __file__, '--child-detect', str(wav16), run_dir, mode], capture_output=True,
                               text=True, env=dict(os.environ, PYTHONWARNINGS='ignore', TF_CPP_MIN_LOG_LEVEL='2'))
            if r.returncode != 0: sys.exit(f"detect ({mode}) failed:\n{r.stderr[-3000:]}")
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(table(rows, ['label', 'windows', 'seconds', 'block_s', 'rss_after_imports_mb', 'peak_rss_mb', 'first_windows_s']))
    worst = max(r['peak_rss_mb'] for r in rows if r['label'] != 'detect (whole)')   # the whole-file row: before
    ok = worst <= LIMIT_MB
    print(f"\npeak RSS of one import worker or of detect on a {a.hours:g}-hour file: {worst} MB "
          f"-> {'OK' if ok else 'TOO MUCH'} (limit {LIMIT_MB:.0f} MB)")
    out = Path(a.json); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(hours=a.hours, rows=rows, peak_rss_mb=worst, limit_mb=LIMIT_MB), indent=2) + '\n')
    if not ok: sys.exit(1)


if __name__ == '__main__':
    main()
