#!/usr/bin/env python
"""Which synthetic check ranks models the way real recordings do? Every trained model found is scored (float) on a
labelled real set and on a set of generator families its training never saw — ambient sound that holds a sound of
the hard-negative bank (`synth.HARD_NEGATIVES`: impacts, electronic sounds, human non-speech, machines, more animals)
and speech of one or two words said alone — and the Spearman rank correlation of each candidate signal with the real
figures is reported, next to the synthetic test accuracy 02 reports.

    python benchmarks/bench_transfer.py --real PATH [--models 'runs/_*/s*/model/model.keras'] [--out F]

Models whose data already used the bank (`hard_negatives` > 0 or `short_words` > 0 in 01) are left out: for them
those families are not new. Not part of `make bench`: it needs a real set and trained models (~5 s per model).
Writes benchmarks/results/transfer.json (`--out`).
"""
import argparse, glob, json, sys
from pathlib import Path
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'benchmarks'))
from bench_mining import checkpoint_evaluation

SEED = 7   # not a data-set seed any run here uses: other dogs, speakers and places

def novel_set(folder:Path, n_ambient:int, n_speech:int)->Path:
    "Render the never-trained families once into `folder`: a manifest (path, label, source = the kind)."
    from barkbook import synth
    man = folder/'manifest.csv'
    if man.exists(): return man
    (folder/'clips').mkdir(parents=True, exist_ok=True)
    jobs = [(lab, SEED, g, k, folder/'clips'/f'{lab}_{g:04d}_{k}.wav', opt)
            for lab, n, opt in (('ambient', n_ambient, dict(hard=1.0)), ('speech', n_speech, dict(words=1.0)))
            for g in range(n // 4) for k in range(4)]
    infos = list(synth.render_clips(jobs, n_jobs=2, progress=False))
    kind = lambda i: next((k for k in i.get('kinds', []) if k.startswith('hard:')), 'ambient: none')
    pd.DataFrame([dict(path=str(j[4]), label=j[0], source=kind(i) if j[0] == 'ambient' else 'speech: short words')
                  for j, i in zip(jobs, infos)]).to_csv(man, index=False)
    return man

def figures(run, keras_file, path)->dict:
    "Float figures of one Keras model on a labelled set."
    e = checkpoint_evaluation(run, keras_file, path); m = e.metrics
    return dict(accuracy=m['accuracy'], bark_precision=m['bark_precision'], bark_recall=m['bark_recall'],
                bark_ap=m['bark_ap'], bark_vs_rest=float((e.clips.label == 'dog_bark').eq(e.clips.pred == 'dog_bark').mean()),
                recall={c: v['recall'] for c, v in m['per_class'].items()})

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--real', required=True, help='labelled real set: class sub-folders or a manifest')
    ap.add_argument('--models', default=str(ROOT/'runs'/'_*'/'s*'/'model'/'model.keras'), help='glob of trained models')
    ap.add_argument('--set-dir', default=str(ROOT/'runs'/'_transfer_set'), help='where the never-trained families are rendered')
    ap.add_argument('--ambient', type=int, default=600); ap.add_argument('--speech', type=int, default=300)
    ap.add_argument('--out', default=str(ROOT/'benchmarks'/'results'/'transfer.json'))
    a = ap.parse_args(argv)
    from scipy.stats import spearmanr
    from barkbook.run import Run
    man = novel_set(Path(a.set_dir), a.ambient, a.speech)
    out = Path(a.out).resolve(); rows = json.loads(out.read_text())['models'] if out.exists() else {}
    for mk in sorted(str(Path(f).resolve()) for f in glob.glob(a.models)):   # absolute: one key per model
        run = Run(Path(mk).parents[1])
        dp = run.read_data_record().params
        if dp.get('hard_negatives', 0) or dp.get('short_words', 0) or mk in rows: continue
        rows[mk] = dict(real=figures(run, mk, a.real), novel=figures(run, mk, man),
                        synthetic_test_accuracy=run.read_metrics().test['accuracy'])
        print(f"{Path(mk).parents[1].relative_to(ROOT)}: real accuracy {rows[mk]['real']['accuracy']:.3f}, "
              f"new families {rows[mk]['novel']['accuracy']:.3f}", flush=True)
        out.parent.mkdir(exist_ok=True); out.write_text(json.dumps(dict(real=str(a.real), models=rows), indent=1))
    for mk, r in rows.items():   # what 02 selects by: missed barks at <= 1 FA/h on the validation scenes
        if 'validation_scene_miss' not in r and Path(mk).exists():
            r['validation_scene_miss'] = next(x['miss_rate'] for x in Run(Path(mk).parents[1]).read_metrics().mining if x['selected'])
    ks = list(rows)
    real = {k: np.array([rows[m]['real'][k] for m in ks]) for k in ('accuracy', 'bark_precision', 'bark_ap')}
    signals = {'synthetic test accuracy (02)': [rows[m]['synthetic_test_accuracy'] for m in ks],
               'validation scenes: missed at <= 1 FA/h (02), negated': [-rows[m]['validation_scene_miss'] for m in ks],
               'new families: accuracy': [rows[m]['novel']['accuracy'] for m in ks],
               'new families: share not called bark': [rows[m]['novel']['bark_vs_rest'] for m in ks],
               'new families: ambient recall': [rows[m]['novel']['recall']['ambient'] for m in ks],
               'new families: speech recall': [rows[m]['novel']['recall']['speech'] for m in ks]}
    print(f"\nSpearman rank correlation over {len(ks)} models\n\n| signal | real accuracy | real bark precision | real bark AP |\n|---|---|---|---|")
    table = {}
    for name, v in signals.items():
        table[name] = {k: float(spearmanr(v, r)[0]) for k, r in real.items()}
        print(f"| {name} | " + ' | '.join(f"{table[name][k]:+.2f}" for k in real) + ' |')
    out.write_text(json.dumps(dict(real=str(a.real), n_models=len(ks), spearman=table, models=rows), indent=1))
    print(f"\nSaved {out}")

if __name__ == '__main__':
    sys.exit(main())
