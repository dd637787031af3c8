#!/usr/bin/env python
"""Firmware front-end speed and size: the C++ log-mel front-end (lib/audio_processor) on the host, streaming vs
recomputing the whole second per inference, the cost of the double-precision wide-range path, and the Xtensa code
and data sizes of the portable libraries.

(a) C++ one-shot front-end over N minutes of noise-like audio (float32 path): µs per frame, frames/s, x real time;
(b) the same on full-scale tones (every frame takes the double path);
(c) barkbook.features.logmel (numpy, batched, 1 thread) on the same audio, for scale;
(d) per inference step: streaming computes 12 new frames, recomputing the 1-s window computes 49 (from (a));
(e) BarkDetector end-to-end (front-end + window copy + post-processing, model replayed) in random chunks;
(f) xtensa-lx106-elf-g++ -Os sizes (skipped when the toolchain is absent).
Host numbers are x86-64 and say nothing absolute about the ESP32; ratios carry over.
Usage: python benchmarks/bench_firmware.py [--minutes 10] [--quick]
"""
import argparse, sys, tempfile, time
from pathlib import Path
import numpy as np

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="minutes of audio per measurement")
    ap.add_argument("--quick", action="store_true", help="1 minute of audio")
    a = ap.parse_args(argv)
    if a.quick: a.minutes = 1.0
    from barkbook import firmware as fwm
    from barkbook.features import FeatureConfig, logmel
    from barkbook.detector import DetectorConfig
    from threadpoolctl import threadpool_limits
    n = int(a.minutes * 60 * 16000)
    rng = np.random.default_rng(0)
    t = np.arange(n) / 16000
    noise = np.clip(np.round(rng.normal(0, 0.1, n) * (1 + np.sin(2 * np.pi * 0.5 * t)) * 32768), -32768, 32767).astype(np.int16)
    tone = np.round(np.sin(2 * np.pi * 1000.7 * t) * 32767).astype(np.int16)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        t0 = time.perf_counter(); exe = fwm.build_host_driver(d / "build"); t_build = time.perf_counter() - t0
        res = {}
        for name, x in (("noise (float32 path)", noise), ("full-scale tone (double path)", tone)):
            db, q, info = fwm.frontend_cpp(x, exe)
            us = info["us"] / info["frames"]
            res[name] = us
            rows.append((f"C++ front-end, {name}", f"{us:.2f} µs/frame", f"{1e6 / us:,.0f} frames/s = {1e6 / us / 50:,.0f}x real time"))
        with threadpool_limits(1):
            x = noise.astype(np.float32) / 32768
            logmel(x[:16000], FeatureConfig(), workers=1)   # warm-up: imports, cached window and filterbank
            t0 = time.perf_counter(); logmel(x, FeatureConfig(), workers=1); dt = time.perf_counter() - t0
        nf = 1 + (n - 512) // 320
        rows.append(("barkbook.features.logmel (numpy, 1 thread)", f"{dt / nf * 1e6:.2f} µs/frame", f"{nf / dt:,.0f} frames/s"))
        us = res["noise (float32 path)"]
        rows.append(("per inference step: streaming (12 new frames)", f"{12 * us:.1f} µs", "what the firmware does"))
        rows.append(("per inference step: recompute the 1-s window (49 frames)", f"{49 * us:.1f} µs", f"{49 / 12:.1f}x the work"))
        steps = DetectorConfig().grid(FeatureConfig()).n_steps(n)
        sc = rng.dirichlet([1, 1, 1, 1], steps).astype(np.float32)
        (d / "x.i16").write_bytes(noise.tobytes()); sc.tofile(d / "s.f32")
        t0 = time.perf_counter()
        out = fwm.run_driver(exe, "detector", "1", d / "x.i16", str(steps), "4", d / "s.f32", d / "st.bin", d / "w.i8",
                             d / "c.bin", *fwm._cfg_args(DetectorConfig()), timeout=600)
        wall = time.perf_counter() - t0
        info = fwm._info(out)
        rows.append(("BarkDetector.process, model replayed", f"{info['avg_frame_us']:.2f} µs/frame, step {info['avg_latency_ms'] * 1000:.1f} µs",
                     f"{steps} steps, {wall:.2f} s wall incl. file I/O; heap allocations {int(info['allocs_run'])}"))
        print(f"# firmware front-end on the host ({a.minutes:g} min of audio; build {t_build:.1f} s)\n")
        print("| measurement | time | note |\n|---|---:|---|")
        for r in rows: print(f"| {r[0]} | {r[1]} | {r[2]} |")
        if fwm.xtensa_toolchain() is not None:
            sizes = fwm.xtensa_sizes(d / "xtensa")
            print("\n# xtensa-lx106-elf-g++ -Os (bytes)\n")
            print("| object | text | data | bss |\n|---|---:|---:|---:|")
            for r in sizes.itertuples(): print(f"| {r.object} | {r.text:,} | {r.data:,} | {r.bss:,} |")
        else:
            print("\n(xtensa toolchain not installed: sizes skipped)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
