#!/usr/bin/env python
"""Ablation of data-engine ingredients on a labelled real set: one line per variant, several training seeds each.

For each variant (data parameters over the defaults) the data set is built once (runs/_ablation/<variant>/),
then the default model is trained with each seed (runs/_ablation/<variant>_s<seed>/, data and features linked)
and scored on the real set with `barkbook.evaluate` (the float model: the int8 model follows it within ~1 %).
Prints mean ± std and the worst seed of accuracy, bark recall/precision and bark AP, and the synthetic test
accuracy beside them; writes benchmarks/results/ablation_<name>.json.

    python benchmarks/ablation.py --real PATH [--seeds 0 1 2] [--variant NAME key=value ...]...

Not part of `make bench` (each variant trains len(seeds) models: ~3 min each on 2 cores).
Example: --variant default --variant rooms augment_copies=1
"""
import argparse, json, os, sys, time
from pathlib import Path
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]

def parse_variants(items):
    "[['name', 'k=v', ...], ...] -> {name: {k: yaml value}}."
    out = {}
    for name, *kvs in items:
        out[name] = {k: yaml.safe_load(v) for k, v in (kv.split('=', 1) for kv in kvs)}
    return out or {'default': {}}

def seed_run(base, name, seed):
    "A run folder for one seed sharing the variant's data and features (symlinks)."
    from barkbook.run import Run
    r = Run(base.root.parent/f"{name}_s{seed}"); r.root.mkdir(parents=True, exist_ok=True)
    for d in ('data', 'features'):
        link = r.root/d
        if not link.exists(): link.symlink_to(base.root/d, target_is_directory=True)
    return r

def one_variant(name, over, seeds, real, runs_dir, train_over):
    from barkbook.run import Run
    from barkbook.params import DataParams, TrainParams
    from barkbook.data import build_dataset
    from barkbook.train import train_run
    from barkbook.evaluate import evaluate
    base = Run(runs_dir/name); base.root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    build_dataset(base, DataParams.from_overrides(over), progress=False)
    t_data = time.perf_counter() - t0
    rows = []
    for s in seeds:
        r = seed_run(base, name, s)
        t1 = time.perf_counter()
        m = train_run(r, TrainParams.from_overrides(dict(train_over, seed=s, verbose=0)))
        ev = evaluate(r, real, kind='float')
        e = ev.metrics
        rows.append(dict(seed=s, accuracy=e['accuracy'], bark_recall=e['bark_recall'],
                         bark_precision=e['bark_precision'], bark_ap=e['bark_ap'],
                         synth_test_acc=m.test['accuracy'], train_s=round(time.perf_counter() - t1, 1),
                         per_class={c: e['per_class'][c] for c in e['per_class']} if 'per_class' in e else None))
        print(f"  {name} seed {s}: acc {e['accuracy']:.3f} R {e['bark_recall']:.3f} P {e['bark_precision']:.3f} "
              f"AP {e['bark_ap']:.3f} (synthetic test {m.test['accuracy']:.3f})", flush=True)
    return dict(variant=name, overrides=over, data_s=round(t_data, 1), seeds=rows)

def line(v):
    "One markdown table row: mean ± std (worst seed) per figure."
    cells = [v['variant'], str(len(v['seeds']))]
    for k in ('accuracy', 'bark_recall', 'bark_precision', 'bark_ap', 'synth_test_acc'):
        a = np.array([r[k] for r in v['seeds']], float)
        cells.append(f"{a.mean():.3f} ± {a.std(ddof=1) if len(a) > 1 else 0:.3f} ({a.min():.3f})")
    return '| ' + ' | '.join(cells) + ' |'

HEADER = ('| variant | seeds | real acc | bark recall | bark precision | bark AP | synthetic test acc |\n'
          '|---|---|---|---|---|---|---|')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--real', required=True, help='labelled real set: class sub-folders or a manifest')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--variant', nargs='+', action='append', default=[], metavar=('NAME', 'KEY=VALUE'))
    ap.add_argument('--train', nargs='*', default=[], metavar='KEY=VALUE', help='training overrides for all variants')
    ap.add_argument('--name', default='ablation', help='results file name: benchmarks/results/<name>.json')
    ap.add_argument('--runs-dir', default=str(ROOT/'runs'/'_ablation'))
    a = ap.parse_args(argv)
    variants = parse_variants(a.variant)
    train_over = {k: yaml.safe_load(v) for k, v in (kv.split('=', 1) for kv in a.train)}
    out, res_path = [], ROOT/'benchmarks'/'results'/f"{a.name}.json"
    for name, over in variants.items():
        print(f"{name}: {over or 'defaults'}", flush=True)
        out.append(one_variant(name, over, a.seeds, a.real, Path(a.runs_dir), train_over))
        res_path.parent.mkdir(exist_ok=True)
        res_path.write_text(json.dumps(dict(real=str(a.real), train=train_over, variants=out), indent=1))
    print('\n' + HEADER); [print(line(v)) for v in out]
    print(f"\nSaved {res_path.relative_to(ROOT)}")

if __name__ == '__main__':
    sys.exit(main())
