#!/usr/bin/env python
"""Detector rules on a run's saved stream scenes: the fewest missed barks at zero false alarms, per rule family.

The run's int8 model scores the scenes 04_stream saved (stream/scenes/*.wav + labels) once; every setting of each
family is then post-processed with barkbook.detector.postprocess (the firmware's rules, bit-identical to the C++)
and matched to the labelled barks as 04_stream matches them (a detection's evidence starts `lookback_steps` before
its decision). Families: today's moving average; k of n (on the raw or 2-step average); peak hold + average; hysteresis + average;
k of n + hysteresis; peak hold + k of n + hysteresis. For each, the best setting with 0 false alarms over the
scenes' bark-free audio (fewest misses, then lowest mean latency) is printed, with the full table as CSV.
Usage: python benchmarks/bench_detector_rules.py [--run runs/default] [--csv out.csv] [--quick]
"""
import argparse, itertools, os, sys, time
from dataclasses import replace
from pathlib import Path
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93] + [k / 256 for k in range(243, 256)]  # int8 scores: k/256


def families(base, quick=False):
    "{family: [DetectorConfig, ...]} swept over THRESHOLDS."
    th = THRESHOLDS[::3] if quick else THRESHOLDS
    avg = lambda w: dict(average_window=w, enable_temporal_filter=w > 1)
    f = {"average (today)": [dict(**avg(w)) for w in (1, 2, 3, 4, 5, 6)],
         "k of n": [dict(**avg(w), vote_k=k, vote_n=n) for w in (1, 2) for k, n in
                    ((2, 2), (2, 3), (2, 4), (3, 3), (3, 4), (3, 5), (4, 5), (4, 6))],
         "peak hold + average": [dict(**avg(w), peak_window=m) for m in (2, 3, 4) for w in (2, 3, 4, 5, 6)],
         "hysteresis + average": [dict(**avg(w), enable_hysteresis=True, off_threshold=o)
                                  for w in (1, 2, 3) for o in (0.3, 0.5)],
         "k of n + hysteresis": [dict(**avg(1), vote_k=k, vote_n=n, enable_hysteresis=True, off_threshold=0.3)
                                 for k, n in ((2, 3), (2, 4), (3, 4), (3, 5))],
         "peak + k of n + hysteresis": [dict(**avg(w), peak_window=m, vote_k=k, vote_n=n, enable_hysteresis=True,
                                             off_threshold=0.3)
                                        for m, w, (k, n) in itertools.product((2, 3), (2, 3), ((2, 3), (3, 4)))]}
    out = {}
    for name, rules in f.items():
        out[name] = [replace(base, confidence_threshold=float(t), **r) for r in (rules[::2] if quick else rules)
                     for t in th]
    return out


def events(scores, det_cfg, grid):
    "Detections as 04_stream matches them: decision time and the first window the decision looked at."
    from barkbook.detector import postprocess
    d = np.flatnonzero(postprocess(scores, det_cfg).is_bark.to_numpy(bool))
    w0 = grid.start_s(np.maximum(0, d - det_cfg.lookback_steps + 1))
    return pd.DataFrame(dict(step=d, window_start_s=w0, start_s=w0, decision_s=grid.decision_s(d)))


def evaluate(scored, det_cfg, grid, bark_label, tol):
    from barkbook.scenes import scene_metrics
    ms = [scene_metrics(events(s, det_cfg, grid), sc, bark_label, tol) for sc, s in scored]
    nb, nf, fa = (sum(m[c] for m in ms) for c in ("n_barks", "n_found", "n_false"))
    lat = [l for m in ms for l in m["latencies"]]
    rules = {k: v for k, v in det_cfg.to_dict().items() if k not in ("hop_ms", "bark_class", "suppression_ms",
                                                                        "min_bark_duration_ms")}
    return dict(**rules, n_barks=nb, n_missed=nb - nf, miss_rate=(nb - nf) / nb, n_false=fa,
                free_hours=sum(m["free_s"] for m in ms) / 3600, latency_mean_s=float(np.mean(lat)) if lat else np.nan)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=str(ROOT / "runs" / "default"), help="run folder with stream/scenes and the model")
    ap.add_argument("--csv", default=None, help="write every setting's row here")
    ap.add_argument("--quick", action="store_true", help="a third of the thresholds, half the rules")
    a = ap.parse_args(argv)
    from barkbook.run import Run
    from barkbook.stream import load_detector, load_recording, stream_scores
    from barkbook.params import StreamParams
    run = Run(a.run)
    det = load_detector(run)
    wavs = sorted(run.stream_path("scenes").glob("*.wav"))
    if not wavs: sys.exit(f"{run.stream_path('scenes')}: no saved scenes (run 04_stream first)")
    t = time.perf_counter()
    scored = [(sc, stream_scores(det.model, sc.audio, det.grid)) for sc in map(load_recording, wavs)]
    t_score = time.perf_counter() - t
    p = StreamParams()
    label, tol = det.classes[det.det_cfg.bark_class], p.tolerance_s
    base = replace(det.det_cfg, suppression_ms=p.suppression_ms, min_bark_duration_ms=p.min_bark_duration_ms)
    rows, t = [], time.perf_counter()
    for fam, cfgs in families(base, a.quick).items():
        rows += [dict(family=fam, **evaluate(scored, c, det.grid, label, tol)) for c in cfgs]
    table = pd.DataFrame(rows)
    hours = sum(sc.duration for sc, _ in scored) / 3600
    print(f"{len(wavs)} scenes, {hours:.2f} h scored in {t_score:.1f} s; {len(table)} settings in "
          f"{time.perf_counter() - t:.0f} s; shipped: {det.det_cfg.to_dict()}")
    ok = table[table.n_false == 0].sort_values(["miss_rate", "latency_mean_s"], kind="stable")
    best = ok.groupby("family", sort=False).head(1).set_index("family")
    cols = ["confidence_threshold", "average_window", "peak_window", "vote_k", "vote_n", "enable_hysteresis",
            "off_threshold", "n_missed", "n_barks", "miss_rate", "n_false", "free_hours", "latency_mean_s"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("best setting per family at 0 false alarms:")
        print(best[cols].round(3).to_string())
    if a.csv: table.to_csv(a.csv, index=False); print(f"wrote {a.csv}")
    return table


if __name__ == "__main__":
    main()
