#!/usr/bin/env python
"""Does the validation check that keeps a mining round pick the round that is best on the test scenes?

02 keeps the candidate (the clip model, then each mining round) with the fewest missed barks at <= 1 false alarm
per hour on validation scenes (`TrainParams.val_scene_minutes`, half of them with barks). For every candidate of the
runs bench_mining.py trained (runs/_mining*/s<seed>/ by default, any `--runs`), this scores the validation scenes
at each length in `--minutes` and the test scenes (04_stream's, 5.6 h bark-free, ~380 barks), all with the float
model and the detector without averaging, and reports per length: how often the kept round is the test-best one,
the test misses of the kept round against the best one, and the Spearman rank correlation of validation and test
misses over all candidates.

    python benchmarks/bench_selection.py --runs runs/_spans [--minutes 40 120] [--out benchmarks/results/selection.json]

Not part of `make bench`: ~1 min per candidate on 2 cores (the test scenes are built once per feature store).
"""
import argparse, dataclasses, json, sys
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'benchmarks'))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--runs', nargs='+', required=True, help='folders of bench_mining.py seeds (s0, s1, ...)')
    ap.add_argument('--minutes', type=float, nargs='+', default=[40.0, 120.0], help='validation scene lengths')
    ap.add_argument('--out', default=str(ROOT/'benchmarks'/'results'/'selection.json'))
    a = ap.parse_args(argv)
    from scipy.stats import spearmanr
    from barkbook.models import load_model
    from barkbook.params import StreamParams, TrainParams
    from barkbook.run import Run
    from barkbook.train import kept_round, load_training_data, scene_material, stream_check
    from bench_mining import candidates, scene_figures, test_scenes
    rows, sp, scenes = [], StreamParams(), {}
    for d in a.runs:
        for s in sorted(Path(d).glob('s[0-9]*')):
            run = Run(s); rec = run.read_train_config()
            p = TrainParams.from_overrides(dict(rec.params, scene_minutes=1.0))   # the seed's own parameters
            data = load_training_data(run, p.family)
            feats = (run.root/'features').resolve()                          # bench seeds link one run's features:
            if feats not in scenes: scenes[feats] = test_scenes(run, sp)     # its test scenes are built once
            sms = {mn: scene_material(data, dataclasses.replace(p, val_scene_minutes=mn)) for mn in a.minutes}
            val_acc = {r['round']: r['val_accuracy'] for r in run.read_metrics().mining}
            for k, f in candidates(run):
                model = load_model(f)
                row = dict(run=str(s), round=k, test=scene_figures(run, model, scenes[feats], sp)['miss_rate'], val_accuracy=val_acc[k])
                for mn, sm in sms.items():
                    v = stream_check(model, sm, data, p)
                    row[f'val_{mn:g}'] = v['miss_rate']; row[f'ok_{mn:g}'] = v['within_budget']
                rows.append(row); print(row, flush=True)
    summary = {}
    for mn in a.minutes:
        picks, regret = 0, []
        by_run = {}
        for r in rows: by_run.setdefault(r['run'], []).append(r)
        for rs in by_run.values():
            kept = rs[kept_round([dict(r, within_budget=r[f'ok_{mn:g}'], miss_rate=r[f'val_{mn:g}']) for r in rs])]   # 02's rule
            best = min(rs, key=lambda r: r['test'])
            picks += kept is best; regret.append(kept['test'] - best['test'])
        rho = spearmanr([r[f'val_{mn:g}'] for r in rows], [r['test'] for r in rows])[0]
        summary[f'{mn:g} min'] = dict(runs=len(by_run), kept_is_test_best=picks, mean_regret=float(np.mean(regret)),
                                      worst_regret=float(np.max(regret)), spearman_val_test=float(rho))
        print(f"validation scenes {mn:g} min: kept round is the test-best in {picks} of {len(by_run)} runs; "
              f"test misses of the kept round above the best: mean {np.mean(regret):.3f}, worst {np.max(regret):.3f}; "
              f"Spearman(val, test) {rho:.2f} over {len(rows)} candidates")
    out = Path(a.out); out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(runs=a.runs, minutes=a.minutes, candidates=rows, summary=summary), indent=1))
    print(f"Saved {out}")

if __name__ == '__main__':
    sys.exit(main())
