#!/usr/bin/env python
"""Which figure the pipeline can compute without real audio ranks models the way a real labelled set does?

Reads the models already trained and scored by bench_mining.py (benchmarks/results/mining*.json: for each recipe and
training seed the clip model and the model after the mining rounds, with their validation figures from training and
their figures on the real set) and bench_frontend.py (results/frontend.json: clip models with log-mel and PCEN
front-ends, their synthetic test accuracy and real figures). Trains nothing and scores nothing again: every number
below was measured by those benchmarks.

For each signal (synthetic validation clip accuracy, missed barks at <= 1 FA/h on the validation scenes, the same on
the synthetic test scenes, synthetic test clip accuracy) it reports the Spearman rank correlation with real clip
accuracy and real bark AP, over all models and within groups of similar models (only clip models, only mined models),
where a selection rule has to work. A useful signal correlates positively (accuracy) or negatively (miss rates).
It also reports what keeping one of k trained seeds by the validation scenes gives over training one (02 with
`n_seeds` k, `train.mine_seeds`): the kept seed against the mean of the k, over every recipe and subset.

    python benchmarks/transfer_signals.py [--results benchmarks/results] [--out benchmarks/results/transfer_signals.json]
"""
import argparse, json, re, sys
from pathlib import Path
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SIGNALS = {'val_accuracy': 'validation clip accuracy', 'val_scene_miss': 'validation scenes: missed at <= 1 FA/h',
           'test_scene_miss': 'test scenes: missed at <= 1 FA/h', 'test_accuracy': 'synthetic test clip accuracy'}
TARGETS = {'real_accuracy': 'real clip accuracy', 'real_ap': 'real bark AP'}

def mining_models(path:Path)->list:
    "One row per distinct model in a bench_mining.py result: the clip model and the last round's."
    from barkbook.params import TrainParams
    d = json.loads(path.read_text())
    entries = [(k, v) for k, v in d.items() if k != 'note'] if 'seeds' not in d else [(' '.join(f'{k}={v}' for k, v in d['train'].items()) or 'defaults', d)]
    rows = []
    for recipe, e in entries:
        m = re.search(r'(?<![\w])epochs=(\d+)', recipe)
        epochs = int(m.group(1)) if m else TrainParams().epochs
        for s in e['seeds']:
            val = s['validation']
            for cand, r in (('clip model', val[0]), ('after mining', val[-1])):
                m = s[cand]
                rows.append(dict(source=path.name, recipe=recipe if cand == 'after mining' else f'clip, {epochs} epochs',
                                 group=cand, seed=s['seed'], val_accuracy=r['val_accuracy'], val_scene_miss=r['miss_rate'],
                                 val_within_budget=r['within_budget'], clip_val_accuracy=val[0]['val_accuracy'],
                                 test_scene_miss=m['scenes']['miss_rate'], test_accuracy=np.nan,
                                 real_accuracy=m['real']['accuracy'], real_ap=m['real']['bark_ap']))
    return rows

def frontend_models(path:Path)->list:
    "One row per clip model of bench_frontend.py (no validation scenes there)."
    d = json.loads(path.read_text())
    return [dict(source=path.name, recipe=f"clip, {r['frontend']}", group='clip model', seed=r['seed'], val_accuracy=np.nan,
                 val_scene_miss=np.nan, test_scene_miss=np.nan, test_accuracy=r['test']['accuracy'],
                 real_accuracy=r['real']['accuracy'], real_ap=r['real']['bark_ap']) for r in d['rows']]

def kept_by_scenes(s:pd.DataFrame):
    "The index of the seed 02 keeps among the rows `s`: `train.kept_round` on their validation-scene figures."
    from barkbook.train import kept_round
    return s.index[kept_round([dict(within_budget=bool(s.at[i, 'val_within_budget']), miss_rate=s.at[i, 'val_scene_miss'],
                                    val_accuracy=s.at[i, 'val_accuracy']) for i in s.index])]

RULES = {'validation scenes (02 now)': kept_by_scenes,
         'clip val accuracy (02 before)': lambda s: s['clip_val_accuracy'].idxmax()}

def seed_selection(t:pd.DataFrame, ks=(2, 3))->pd.DataFrame:
    """What keeping one of k trained seeds gives over training one, by two rules: 02's (`train.kept_round` over the
    seeds' mined models: within the false-alarm budget on the validation scenes, fewest missed barks there, then best
    validation accuracy) and the one 02 used before (best validation accuracy of the clip model, before mining). For
    every recipe with >= 3 mined seeds and every k of them: the kept seed's test-scene misses and real figures minus
    the mean of those k seeds'. One row per rule and k: the mean difference over all recipes and subsets."""
    from itertools import combinations
    g = t[(t.group == 'after mining') & t.val_within_budget.notna()]
    out = []
    for rule, key in RULES.items():
        for k in ks:
            d = []
            for _, r in g.groupby(['source', 'recipe']):
                if len(r) < 3: continue
                for idx in combinations(r.index, k):
                    s = r.loc[list(idx)]
                    keep = key(s)
                    d.append({c: s.at[keep, c] - s[c].mean() for c in ('test_scene_miss', 'real_accuracy', 'real_ap')})
            d = pd.DataFrame(d)
            if d.empty: continue
            out.append(dict(rule=rule, k=k, subsets=len(d),
                            **{f'{c} (kept - mean)': round(float(d[c].mean()), 4) for c in ('test_scene_miss', 'real_accuracy', 'real_ap')},
                            **{f'{c}: share better': round(float((d[c] < 0 if c == 'test_scene_miss' else d[c] > 0).mean()), 3)
                               for c in ('test_scene_miss', 'real_accuracy')}))
    return pd.DataFrame(out)

def correlations(t:pd.DataFrame)->pd.DataFrame:
    "Spearman rho (and its p-value) of every signal with every real figure, over all models and per group."
    from scipy.stats import spearmanr
    out = []
    for name, g in [('all models', t), *((f'only {k}', v) for k, v in t.groupby('group'))]:
        for s in SIGNALS:
            for y in TARGETS:
                ok = g[[s, y]].dropna()
                if len(ok) < 4 or ok[s].nunique() < 2: continue
                rho, p = spearmanr(ok[s], ok[y])
                out.append(dict(models=name, signal=SIGNALS[s], real=TARGETS[y], n=len(ok), rho=round(float(rho), 3), p=round(float(p), 4)))
    return pd.DataFrame(out)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--results', default=str(ROOT/'benchmarks'/'results'))
    ap.add_argument('--out', default=str(ROOT/'benchmarks'/'results'/'transfer_signals.json'))
    a = ap.parse_args(argv)
    res = Path(a.results); rows = []
    for f in sorted(res.glob('mining*.json')): rows += mining_models(f)
    if (res/'frontend.json').exists(): rows += frontend_models(res/'frontend.json')
    if not rows: sys.exit(f"{res}: no bench_mining.py or bench_frontend.py results")
    t = pd.DataFrame(rows)
    # the clip model of a seed is the same in every mining recipe with its clip epochs: count it once
    t = t.drop_duplicates(['recipe', 'seed', 'val_accuracy', 'real_accuracy']).reset_index(drop=True)
    c = correlations(t)
    pd.set_option('display.width', 200)
    print(t.groupby('recipe')[[*SIGNALS, *TARGETS]].mean().round(3).to_string(), '\n')
    print(c.to_string(index=False))
    sel = seed_selection(t)
    print('\nKeeping one of k seeds by the validation scenes (02 with n_seeds = k), against one seed:')
    print(sel.to_string(index=False))
    Path(a.out).write_text(json.dumps(dict(models=t.to_dict('records'), correlations=c.to_dict('records'),
                                           seed_selection=sel.to_dict('records')), indent=1))
    print(f"\nSaved {a.out}")

if __name__ == '__main__':
    sys.exit(main())
