#!/usr/bin/env python
"""The firmware's model on TensorFlow Lite Micro: host time per inference, arena, and what an Xtensa core needs.

(a) host ms per inference of the shipped model through the firmware's NeuralNetwork (host app, one process, N
    windows): reference kernels -O2 -DNDEBUG, reference kernels -O2 without NDEBUG (TFLM's debug checks on), ESP-NN's
    C kernels -O2 -DNDEBUG;
(b) arena_used_bytes after NeuralNetwork::initialize() on x86-64 and with 32-bit pointers (g++ -m32);
(c) Xtensa (xtensa-lx106-elf-g++ -O2 -DNDEBUG) code and data bytes per part of the whole firmware, ESP-NN kernels;
(d) lx106 instructions per inference and per front-end frame in qemu-system-xtensa (barkbook.firmware.qemu_counts).
Host numbers are x86-64 wall time on a shared machine; they are not ESP32 timings.
Usage: python benchmarks/bench_firmware_tflm.py [--windows 300] [--quick]
"""
import argparse, sys, tempfile, time
from pathlib import Path
import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=300, help="inferences per measurement")
    ap.add_argument("--quick", action="store_true", help="50 inferences")
    a = ap.parse_args(argv)
    if a.quick: a.windows = 50
    from barkbook import firmware as fwm
    reason = fwm.missing_tree("tflm", "esp_nn")
    if reason:
        print(f"(TFLite Micro sources not available: {reason})"); return 0
    s = fwm.read_firmware()
    rng = np.random.default_rng(0)
    win = rng.integers(-128, 60, (a.windows, 49, 40)).astype(np.int8)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for label, variant, opt in (("reference kernels, -O2 -DNDEBUG", "reference", ("-O2", "-DNDEBUG")),
                                    ("reference kernels, -O2 (debug checks on)", "reference", ("-O2",)),
                                    ("ESP-NN C kernels, -O2 -DNDEBUG", "esp_nn", ("-O2", "-DNDEBUG"))):
            t0 = time.perf_counter(); app = fwm.build_host_app(d / label.split(",")[0].replace(" ", "_"), variant, opt=opt)
            t_build = time.perf_counter() - t0
            fwm.model_outputs_cpp(win[:5], app)                      # warm-up
            best = min(fwm.model_outputs_cpp(win, app)[1]["us_per_inference"] for _ in range(3))
            rows.append((label, f"{best / 1000:.2f} ms", f"best of 3 x {a.windows} inferences; build {t_build:.0f} s"))
        print(f"# shipped model ({len(s['model']):,} B, sha1 {fwm.model_facts(s['model'])['sha1'][:12]}) on the host\n")
        print("| NeuralNetwork::predict on x86-64 | ms per inference | note |\n|---|---:|---|")
        for r in rows: print(f"| {r[0]} | {r[1]} | {r[2]} |")
        a64 = fwm.arena_used_bytes(s["model"], s["cfg"], s["classes"], bits=64)
        try: a32 = fwm.arena_used_bytes(s["model"], s["cfg"], s["classes"], bits=32)
        except fwm.FirmwareError as e: a32 = f"n/a ({str(e).splitlines()[0]})"
        print(f"\narena_used_bytes: {a64} B on x86-64, {a32} B with 32-bit pointers; shipped kTensorArenaSize {s['arena_bytes']} B")
        if fwm.xtensa_toolchain() is not None:
            sizes = fwm.xtensa_tflm_sizes(d / "xtensa", "esp_nn")
            print("\n# xtensa-lx106-elf-g++ -O2 -DNDEBUG, ESP-NN kernels (bytes)\n")
            print("| part | text | rodata | data | bss |\n|---|---:|---:|---:|---:|")
            for r in sizes.itertuples(): print(f"| {r.part} | {r.text:,} | {r.rodata:,} | {r.data:,} | {r.bss:,} |")
        else:
            print("\n(xtensa toolchain not installed: sizes skipped)")
        qemu(fwm, d)
    return 0


def qemu(fwm, d):
    "(d) instructions on the lx106 core of qemu-system-xtensa, ESP-NN and reference kernels."
    try:
        runs = [fwm.qemu_counts(d / "qemu", v) for v in ("esp_nn", "reference")]
    except fwm.FirmwareError as e:
        print(f"\n(lx106 instruction counts skipped: {str(e).splitlines()[0]})"); return
    print("\n# lx106 core in qemu-system-xtensa -M sim -icount shift=0 (instructions, from CCOUNT)\n")
    print("| kernels | one inference | NeuralNetwork::initialize | front-end frame (float path) | front-end frame (double path) |")
    print("|---|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['variant']} | {r['inference_instructions']:,} | {r['initialize_instructions']:,} | "
              f"{r['frontend_frame_instructions']:,} | {r['frontend_frame_square_instructions']:,} |")
    print("\nCaveats: lx106 (the ESP8266's core) has no FPU, no hardware divide and no windowed registers, so float, double"
          "\nand division run in software here (SoftFloat, C loops); the ESP32's LX6 has a single-precision FPU and hardware"
          "\ndivide. Instructions are not ESP32 cycles: loads, branches and multiplies take different cycle counts, and"
          "\nflash cache misses are not modelled. The int8 inference is integer code and carries over best; the front-end"
          "\nframe is float code and is far cheaper on the ESP32 than here.")


if __name__ == "__main__":
    sys.exit(main())
