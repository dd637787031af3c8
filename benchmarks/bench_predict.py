"""Start-up time and throughput of `barkbook predict` and of the library's Classifier.

    python benchmarks/bench_predict.py [--run RUN_DIR] [--files 400] [--repeat 5] [--float]

Measures, on this machine:
- `barkbook --version` (the bare console script) and `barkbook predict --run RUN one.wav --json` wall time
  (median of --repeat runs): the start-up a shell user sees;
- where a fresh interpreter spends it: import, Classifier.load, first prediction, and whether TensorFlow was imported;
- throughput of `barkbook predict` on a folder of --files one-second WAV files (files/s, end to end);
- Classifier.benchmark_speed: one clip per call (latency percentiles) and batches of 64 (int8; float with --float).
Uses runs/default when it exists (make pipeline), else the cached tiny run (barkbook.convert.tiny_converted).
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def wall(cmd, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter(); r = subprocess.run(cmd, capture_output=True, text=True, env=ENV); ts.append(time.perf_counter() - t0)
        if r.returncode not in (0, 1): raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr[-2000:]}")
    return statistics.median(ts), r


def tiny_run() -> Path:
    "The cached tiny trained run with its int8 model (barkbook.convert.tiny_converted)."
    from barkbook.convert import tiny_converted
    print("using the tiny run (built once, cached under runs/_tiny) ...", flush=True)
    return tiny_converted().root


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="run directory (default: runs/default, else a tiny run)")
    ap.add_argument("--files", type=int, default=400, help="WAV files for the folder throughput test")
    ap.add_argument("--repeat", type=int, default=5, help="repeats of each start-up measurement")
    ap.add_argument("--float", action="store_true", help="also benchmark the float Keras model")
    a = ap.parse_args()
    run = a.run or (ROOT / "runs" / "default" if (ROOT / "runs" / "default" / "tflite" / "model_int8.tflite").exists() else None)
    run = run or tiny_run()
    import numpy as np, pandas as pd
    from barkbook.audio import save_wav
    from barkbook.run import Run
    meta = Run(run).open_split("test").meta
    clip = Run(run).clip_path(meta.path[0])
    print(f"run: {run}  (one file: {clip.name})\n")

    rows = []
    t, _ = wall([BIN / "barkbook", "--version"], a.repeat)
    rows.append(("`barkbook --version`", f"{t:.2f} s"))
    t, r = wall([BIN / "barkbook", "predict", "--run", run, clip, "--json"], a.repeat)
    rows.append(("`barkbook predict --run RUN one.wav --json` (start-up + 1 file)", f"{t:.2f} s"))
    code = (f"import sys, time; t0 = time.perf_counter()\nfrom barkbook.inference import Classifier\nt1 = time.perf_counter()\n"
            f"c = Classifier.load({str(run)!r}); t2 = time.perf_counter()\nc.predict({str(clip)!r}); t3 = time.perf_counter()\n"
            f"c.predict({str(clip)!r}); t4 = time.perf_counter()\n"
            "print(t1-t0, t2-t1, t3-t2, t4-t3, any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))")
    parts = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True).stdout.split() for _ in range(a.repeat)]
    med = [statistics.median(float(p[i]) for p in parts) for i in range(4)]
    rows += [("  import barkbook.inference", f"{med[0]:.2f} s"), ("  Classifier.load (int8, LiteRT)", f"{med[1]:.3f} s"),
             ("  first predict (front-end constants built on first use)", f"{med[2]:.2f} s"), ("  second predict", f"{med[3] * 1000:.1f} ms"),
             ("  TensorFlow imported", parts[0][4])]

    with tempfile.TemporaryDirectory() as d:
        x = np.load(run / "features" / "test_wave.npy")
        for i in range(a.files): save_wav(Path(d) / f"{i:05d}.wav", x[i % len(x)])
        t0 = time.perf_counter()
        r = subprocess.run([BIN / "barkbook", "predict", "--run", run, d, "--json"], capture_output=True, text=True, env=ENV)
        t = time.perf_counter() - t0
        assert r.returncode == 0 and r.stdout.count("\n") == a.files, r.stderr[-2000:]
    rows.append((f"`barkbook predict` on a folder of {a.files} 1 s WAVs", f"{t:.2f} s = {a.files / t:.0f} files/s"))

    from barkbook.inference import Classifier
    kinds = ["int8"] + (["float"] if a.float else [])
    for kind in kinds:
        c = Classifier.load(run, kind=kind)
        b1, b64 = c.benchmark_speed(n=300, batch_size=1), c.benchmark_speed(n=2048, batch_size=64)
        lat = b1["latency_ms"]
        rows.append((f"{kind}: one clip per call (front-end + model)",
                     f"{b1['throughput_per_second']:.0f} clips/s; latency p50 {lat['p50']:.2f} / p90 {lat['p90']:.2f} / p99 {lat['p99']:.2f} ms"))
        rows.append((f"{kind}: batches of 64", f"{b64['throughput_per_second']:.0f} clips/s (model alone {b64['model_throughput_per_second']:.0f} clips/s)"))

    w = max(len(k) for k, _ in rows)
    print("| measurement".ljust(w + 2) + " | result |\n|" + "-" * (w + 2) + "|---|")
    for k, v in rows: print(f"| {k.ljust(w)} | {v} |")


if __name__ == "__main__":
    main()
