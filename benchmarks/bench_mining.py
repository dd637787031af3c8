#!/usr/bin/env python
"""What false-alarm mining does, paired over training seeds: the clip model and the models after the mining rounds
of the same training (the last round, and the round that training kept by its validation scenes), on the test
scenes (missed barks at <= 1 false alarm per hour, 5 h bark-free) and on a labelled real set (clip accuracy, bark
precision/recall/AP).

Each seed trains the default recipe (barkbook.params.TrainParams, `--train k=v` overrides) on the features of a
built run (default runs/default), in runs/_mining/s<seed>/ (data and features linked). The candidates are the
float Keras models (the int8 model follows within ~1 %), scored with the detector without averaging over
thresholds 0.3 ... 0.995 on the run's test split (04_stream's scenes: StreamParams defaults).

    python benchmarks/bench_mining.py --real PATH [--run runs/default] [--scenes-run RUN] [--seeds 0 1 2] [--train k=v ...]
                                      [--variant NAME --note TEXT]

`--variant` also records the result as entry NAME of benchmarks/results/mining_variants.json, its note ending with
the command that made it.

Not part of `make bench`: each seed trains a model (~5 min on 2 cores). Writes benchmarks/results/mining.json (`--out`).
"""
import argparse, json, shlex, sys, tempfile
from pathlib import Path
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ROOT/'benchmarks'/'results'/'mining_variants.json'
sys.path.insert(0, str(ROOT/'benchmarks'))
from bench_frontend import frontend_patch

def linked_run(src, dst):
    "A run folder sharing `src`'s data and features (symlinks)."
    from barkbook.run import Run
    dst.mkdir(parents=True, exist_ok=True)
    for d in ('data', 'features'):
        if not (dst/d).exists(): (dst/d).symlink_to((src/d).resolve(), target_is_directory=True)
    return Run(dst)

def checkpoint_evaluation(run, keras_file, path):
    "`barkbook.evaluate` (float) of one Keras checkpoint on a labelled set, through a view of the run with that model."
    from barkbook.evaluate import evaluate
    with tempfile.TemporaryDirectory() as d:
        view = linked_run(run.root, Path(d)/'view')
        view.keras_path.parent.mkdir(parents=True); view.keras_path.symlink_to(Path(keras_file).resolve())
        view.train_config_path.symlink_to(run.train_config_path.resolve())
        return evaluate(view, path, kind='float')

def real_figures(run, keras_file, real):
    "Clip figures of one Keras checkpoint on the real set."
    e = checkpoint_evaluation(run, keras_file, real).metrics
    return {k: e[k] for k in ('accuracy', 'bark_precision', 'bark_recall', 'bark_ap')}

def candidates(run)->list:
    "(round, checkpoint) of every candidate of a trained run: the clip model, then each mining round."
    fd = run.fit_dir()
    return [(r['round'], fd.checkpoint if r['round'] == 0 else fd.round(r['round']).checkpoint) for r in run.read_metrics().mining]

def test_scenes(run, p)->list:
    "[(scene without audio, model inputs of every step)] of the run's test scenes: built once, scored by every model."
    from barkbook.detector import DetectorConfig
    from barkbook.features import StreamGrid
    from barkbook.scenes import scene_inputs
    from barkbook.stream import scenes_from_split
    grid = StreamGrid.from_hop_ms(run.read_feature_config(), DetectorConfig().hop_ms)
    return [(sc.without_audio(), scene_inputs(sc.audio, grid)) for sc in scenes_from_split(run.open_split('test'), p)]

def scene_figures(run, model, scenes, p):
    "Missed barks at <= 1 FA/h and their mean latency on `test_scenes` (float model, detector without averaging)."
    from barkbook.detector import DetectorConfig
    from barkbook.scenes import sweep, choose_operating_point
    from barkbook.train import SELECT_THRESHOLDS
    from barkbook.convert import float_scorer
    cfg, classes = run.read_feature_config(), run.read_classes()
    score = float_scorer(model)
    scored = [(sc, score(x)) for sc, x in scenes]
    det = DetectorConfig(bark_class=classes.index(p.bark_label), enable_temporal_filter=False, average_window=1)
    r, _ = choose_operating_point(sweep(scored, det, cfg, SELECT_THRESHOLDS, ['default'], p.bark_label, p.tolerance_s), 'fa_per_hour<=1')
    return {k: float(r[k]) for k in ('threshold', 'miss_rate', 'fa_per_hour', 'latency_mean_s', 'n_barks', 'free_hours')}

def record_variant(result:dict, name:str, note:str, command:str, path:Path=VARIANTS):
    "Entry `name` of the variants file becomes `result`, its note ending with the command that measured it."
    entries = json.loads(path.read_text()) if path.exists() else {}
    entries[name] = dict(result, note=f"{note} Command: {command}" if note else f"Command: {command}")
    path.write_text(json.dumps(entries, indent=1) + '\n')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--real', required=True, help='labelled real set: class sub-folders or a manifest')
    ap.add_argument('--run', default=str(ROOT/'runs'/'default'), help='a run with data and features')
    ap.add_argument('--scenes-run', help='score on the test scenes of this run instead (default: --run), to compare data sets on one test')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--train', nargs='*', default=[], metavar='KEY=VALUE')
    ap.add_argument('--runs-dir', default=str(ROOT/'runs'/'_mining'))
    ap.add_argument('--out', default=str(ROOT/'benchmarks'/'results'/'mining.json'), help='where the results go (JSON)')
    ap.add_argument('--frontend', default='logmel', choices=('logmel', 'tflm'),
                    help="tflm: the TFLite Micro front-end everywhere (--run: bench_frontend.py's runs/_frontend/_features/tflm)")
    ap.add_argument('--variant', metavar='NAME', help=f'also record the result as entry NAME of {VARIANTS.name}')
    ap.add_argument('--note', default='', help='with --variant: what the entry measures and what it is paired with')
    argv = sys.argv[1:] if argv is None else argv
    a = ap.parse_args(argv)
    a.command = 'bench_mining.py ' + shlex.join(argv)
    with frontend_patch(a.frontend): return _main(a)

def _main(a):
    from barkbook.models import load_model
    from barkbook.params import StreamParams, TrainParams
    from barkbook.run import Run
    from barkbook.train import train_run
    over = {k: yaml.safe_load(v) for k, v in (kv.split('=', 1) for kv in a.train)}
    rows, out, sp = [], Path(a.out).resolve(), StreamParams()
    scenes_run = Path(a.scenes_run or a.run)
    scenes = test_scenes(Run(scenes_run), sp)              # every seed shares one test split: one set of scenes
    for s in a.seeds:
        run = linked_run(Path(a.run), Path(a.runs_dir)/f's{s}')
        p = TrainParams.from_overrides(dict(over, seed=s, verbose=0))
        done = run.train_config_path.exists() and run.read_train_config().status == 'done' and run.read_train_config().params == p.to_dict()
        m = run.read_metrics() if done else train_run(run, p)     # a seed trained before with these parameters is reused
        train_s = m.train_seconds
        pick = next(r['round'] for r in m.mining if r['selected'])
        ck = dict(candidates(run)); last = max(ck)
        cands = {'clip model': ck[0], 'after mining': ck[last], 'kept': ck[pick]}   # kept: the round train chose
        row = dict(seed=s, train_s=round(train_s, 1), selected_round=pick, validation=m.mining)
        done_figs = {}
        for name, f in cands.items():
            if f not in done_figs:
                done_figs[f] = dict(real=real_figures(run, f, a.real), scenes=scene_figures(run, load_model(f), scenes, sp))
            row[name] = done_figs[f]
            print(f"seed {s} {name}: {row[name]}", flush=True)
        rows.append(row)
        result = dict(real=str(a.real), run=str(a.run), scenes_run=str(scenes_run), frontend=a.frontend, train=over, seeds=rows)
        out.parent.mkdir(exist_ok=True); out.write_text(json.dumps(result, indent=1))
    print('\n| candidate | seeds | scenes: missed at <= 1 FA/h | latency (s) | real acc | bark precision | bark recall | bark AP |\n|---|---|---|---|---|---|---|---|')
    for name in ('clip model', 'after mining', 'kept'):
        f = lambda g, k: np.array([r[name][g][k] for r in rows], float)
        ms, lat = f('scenes', 'miss_rate'), f('scenes', 'latency_mean_s')
        print(f"| {name} | {len(rows)} | {ms.mean():.3f} ± {ms.std(ddof=1) if len(ms) > 1 else 0:.3f} (worst {ms.max():.3f}) | "
              f"{lat.mean():.2f} ± {lat.std(ddof=1) if len(lat) > 1 else 0:.2f} | "
              + ' | '.join(f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} (worst {v.min():.3f})"
                           for v in (f('real', k) for k in ('accuracy', 'bark_precision', 'bark_recall', 'bark_ap'))) + ' |')
    print(f"\nSaved {out}")
    if a.variant:
        record_variant(result, a.variant, a.note, a.command); print(f"Recorded as {a.variant!r} in {VARIANTS}")

if __name__ == '__main__':
    sys.exit(main())
