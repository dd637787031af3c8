#!/usr/bin/env python
"""Streaming evaluation speed: one hour of continuous audio through the device's front-end and the int8 model.

(a) barkbook: `barkbook.stream.stream_scores` — log-mel computed once over the recording (chunked on the frame
    grid), int8 windows every 240 ms taken as strided views, batched through LiteRT (one invoke per 512 windows);
(b) naive: per inference step, log-mel of that step's 1-s window and one interpreter call for one window (what a
    Python port of the firmware loop does) — timed on a slice and extrapolated to the same audio;
(c) the detector sweep of 04_stream's defaults (StreamParams: thresholds × detector rules) on the hour's scores,
    post-processing only the stretches where the detector is not at rest (`sweep_events`), and (c') the same sweep
    over every step (`events_from_scores`), on a tenth of the settings, extrapolated;
(d) `StreamScorer`: the same scores fed in 30-s blocks (what `barkbook detect` does with a file), checked equal to (a).
The audio is a scene built from the run's test split, as 04_stream builds them.
Requirements: (a)+(c) < 120 s per hour, and scoring (a) and (d) at least 100× real time.
Usage: python benchmarks/bench_stream.py [--run RUN_DIR] [--minutes 60] [--quick]
"""
import argparse, os, sys, time
from pathlib import Path
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S_PER_HOUR = 120.0
MIN_REALTIME = 100.0

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="run folder with tflite/model_int8.tflite (default: runs/default, "
                                                "else the cached tiny run)")
    ap.add_argument("--minutes", type=float, default=60.0, help="minutes of audio to stream")
    ap.add_argument("--naive-steps", type=int, default=300, help="steps timed for the naive per-window loop")
    ap.add_argument("--quick", action="store_true", help="6 minutes of audio, figures extrapolated to one hour")
    a = ap.parse_args(argv)
    if a.quick: a.minutes, a.naive_steps = 6.0, 100
    from barkbook import stream, scenes
    from barkbook.detector import DetectorConfig
    from barkbook.features import logmel, quantize_features
    from barkbook.params import StreamParams
    from barkbook.run import Run
    run = Run(a.run if a.run else ROOT/"runs/default")
    if not run.tflite_path("int8").exists():
        if a.run: sys.exit(f"{run.tflite_path('int8')}: not found")
        from barkbook.convert import tiny_converted
        run = tiny_converted()                                   # the cached tiny run with its int8 model
    d = stream.load_detector(run)
    model, cfg, classes = d.model, d.cfg, d.classes
    det = DetectorConfig(bark_class=classes.index("dog_bark") if "dog_bark" in classes else 0)
    grid = det.grid(cfg)
    sp = run.open_split("test")
    t0 = time.perf_counter()
    sc = scenes.build_scene(sp.wave, sp.meta["label"].astype(str).values, classes[det.bark_class], minutes=a.minutes, seed=0)
    build_s = time.perf_counter() - t0
    hours = sc.duration / 3600

    t0 = time.perf_counter(); scores = stream.stream_scores(model, sc.audio, grid); fast_s = time.perf_counter() - t0

    n = min(a.naive_steps, len(scores)); hop = grid.hop_samples
    model.batch_size = 1
    t0 = time.perf_counter()
    naive = np.concatenate([model.dequantize_output(model.predict_int8(quantize_features(logmel(sc.audio[hop * i:hop * i + cfg.clip_samples], cfg), cfg)[None]))
                            for i in range(n)])
    naive_s = (time.perf_counter() - t0) * len(scores) / n
    agree = float(np.abs(naive - scores[:n]).max())

    t0 = time.perf_counter()
    p = StreamParams()
    table = stream.sweep([(sc, scores)], det, cfg, p.thresholds, p.detector_rules, classes[det.bark_class], p.tolerance_s)
    sweep_s = time.perf_counter() - t0
    settings = stream.detector_settings(det, p.thresholds, p.detector_rules)[::10]
    t0 = time.perf_counter()
    for _, dc in settings:      # the same metrics with the post-processing run over every step
        scenes.scene_metrics(scenes.events_from_scores(scores, dc, cfg, sc.duration), sc, classes[det.bark_class], p.tolerance_s)
    full_s = (time.perf_counter() - t0) * len(table) / len(settings)

    t0 = time.perf_counter()
    scorer, blk, parts = stream.StreamScorer(model, grid), int(30 * cfg.sample_rate), []
    for i in range(0, len(sc.audio), blk): parts.append(scorer.push(sc.audio[i:i + blk]))
    parts.append(scorer.finish())
    block_s = time.perf_counter() - t0
    assert np.array_equal(np.concatenate([q for q in parts if q.size]), scores), "block-streamed scores differ"

    per_h = lambda s: s / hours
    print(f"run: {run.root}  model: {model.path.name} {model.input_shape}  classes: {classes}")
    print(f"audio: {sc.duration / 60:.1f} min scene from the test split ({len(sc.barks(classes[det.bark_class]))} barks), "
          f"{len(scores):,} inference steps; scene built in {build_s:.1f} s")
    print(f"{'method':<58}{'seconds':>10}{'s per hour':>12}{'× real time':>13}")
    for name, s in [("(a) barkbook stream_scores (log-mel once, batched int8)", fast_s),
                    (f"(b) per-window log-mel + 1 invoke/window (from {n} steps)", naive_s),
                    (f"(c) detector sweep, {len(table)} settings (sweep_events)", sweep_s),
                    (f"(c') the same sweep over every step (from {len(settings)})", full_s),
                    ("(d) StreamScorer, 30-s blocks (= (a) bit for bit)", block_s),
                    ("(a)+(c) evaluation", fast_s + sweep_s)]:
        print(f"{name:<58}{s:>10.2f}{per_h(s):>12.1f}{sc.duration / s:>13.0f}")
    print(f"max |score difference| (a) vs (b) on the first {n} steps: {agree:.4f}")
    ok = per_h(fast_s + sweep_s) < LIMIT_S_PER_HOUR and sc.duration / max(fast_s, block_s) >= MIN_REALTIME
    print(f"streaming evaluation of one hour: {per_h(fast_s + sweep_s):.1f} s "
          f"({'<' if ok else '>='} {LIMIT_S_PER_HOUR:.0f} s requirement{', extrapolated' if hours < 1 else ''}); "
          f"speed-up over the per-window loop: {naive_s / fast_s:.1f}×; scoring {sc.duration / fast_s:.0f}× / "
          f"{sc.duration / block_s:.0f}× real time (whole / blocks; requirement ≥ {MIN_REALTIME:.0f}×)")
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
