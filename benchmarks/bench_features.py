#!/usr/bin/env python
"""Front-end speed: a per-file librosa loop vs barkbook's batched log-mel, on the same clips.

(a) per-file loop: per file librosa.load + melspectrogram + power_to_db(ref=max), joblib over all cores — the
    usual GPU-less feature-extraction script (n_fft=512, hop 256, hamming; the cost is what matters here);
(b) barkbook: read the WAVs (a thread per core), then one batched `barkbook.features.logmel` call;
(c)/(d) the same two front-ends on arrays already in memory.
Usage: python benchmarks/bench_features.py [--clips 2000] [--quick]
"""
import argparse, os, sys, tempfile, time
from pathlib import Path
import numpy as np

def make_clips(n, seed=0):
    "n varied one-second clips (noise, tones, chirps, bursts at different levels), float32."
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    out = np.empty((n, 16000), np.float32)
    for i in range(n):
        kind = i % 4
        if kind == 0: x = rng.standard_normal(16000)
        elif kind == 1: x = np.sin(2 * np.pi * rng.uniform(100, 4000) * t)
        elif kind == 2: x = np.sin(2 * np.pi * np.cumsum(np.linspace(rng.uniform(100, 500), rng.uniform(1000, 7000), 16000)) / 16000)
        else: x = rng.standard_normal(16000) * (np.sin(2 * np.pi * 3 * t) > 0.7)
        out[i] = (x / (np.abs(x).max() + 1e-9) * 10 ** (rng.uniform(-50, -3) / 20)).astype(np.float32)
    return out

def loop_features(audio):
    import librosa
    m = librosa.feature.melspectrogram(y=audio, sr=16000, n_fft=512, hop_length=256, n_mels=40, fmin=0,
                                       fmax=8000, window="hamming")
    return librosa.power_to_db(m, ref=np.max)[:, :32].T

def loop_file(path):
    import librosa
    audio, _ = librosa.load(path, sr=16000, mono=True)
    return loop_features(audio)

def timed(fn, reps=1):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t0)
    return best

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="200 clips")
    a = ap.parse_args(argv)
    n = 200 if a.quick else a.clips
    from joblib import Parallel, delayed
    from barkbook.audio import save_wav, load_audio
    from barkbook.features import FeatureConfig, logmel
    cfg = FeatureConfig()   # the default front-end
    import soundfile as sf
    clips = make_clips(n)
    with tempfile.TemporaryDirectory() as d:
        paths = [str(Path(d) / f"{i:05d}.wav") for i in range(n)]
        for p, x in zip(paths, clips): save_wav(p, x)
        jobs = os.cpu_count()
        # warm up both paths (imports, numba/FFT plans) so the timings measure steady-state work
        Parallel(n_jobs=jobs)(delayed(loop_file)(p) for p in paths[:jobs * 2]); logmel(clips[:64], cfg)
        res = {}
        res["per-file loop, files"] = timed(lambda: Parallel(n_jobs=jobs)(delayed(loop_file)(p) for p in paths))
        from concurrent.futures import ThreadPoolExecutor
        def bb_files():   # read the WAVs on a thread per core (libsndfile releases the GIL), then one batched call
            with ThreadPoolExecutor(jobs) as ex:
                x = np.stack(list(ex.map(lambda p: sf.read(p, dtype="float32")[0], paths, chunksize=64)))
            return logmel(x, cfg)
        res["barkbook, files"] = timed(bb_files, 2)
        res["per-file loop, memory"] = timed(lambda: Parallel(n_jobs=jobs)(delayed(loop_features)(x) for x in clips))
        res["barkbook, memory"] = timed(lambda: logmel(clips, cfg), 3)
    print(f"\nFront-end on {n} one-second clips, {os.cpu_count()} cores")
    print(f"| path | clips/s | vs per-file loop |")
    print(f"|---|---:|---:|")
    for src in ("files", "memory"):
        base = res[f"per-file loop, {src}"]
        for who in ("per-file loop", "barkbook"):
            t = res[f"{who}, {src}"]
            print(f"| {who}, {src} | {n / t:,.0f} | {base / t:.1f}x |")
    return res

if __name__ == "__main__":
    main()
