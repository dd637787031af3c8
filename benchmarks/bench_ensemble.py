#!/usr/bin/env python
"""What several training seeds know together: the average of the class scores of the models that
`bench_mining.py` trained (each seed's kept round), against each model alone, on the same test scenes (missed barks
at <= 1 false alarm per hour, detector without averaging) and the same labelled real set.

An average of K models costs K times the MACs, so it is not a model for the device; it is the ceiling that
distilling the seeds into one model could reach, and the teacher such a distillation learns from. With
`--distil W`, each seed's kept model also trains on toward that teacher (`barkbook.train.distil_round`, the step
02 takes with `-p n_seeds K -p distil W`), and the student is scored beside its seed: paired students of one teacher.

    python benchmarks/bench_ensemble.py --real PATH --runs-dir runs/_mining [--run runs/default] [--scenes-run RUN]
                                        [--seeds 0 1 2] [--distil W] [--train k=v ...] [--variant NAME --note TEXT]

Reads the seeds' trained runs (`--runs-dir`/s<seed>, made by bench_mining.py with the same --run and --train);
trains only the students (~2 min each).
Writes benchmarks/results/ensemble.json (`--out`).
"""
import argparse, json, shlex, sys, tempfile
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'benchmarks'))
from bench_mining import candidates, real_figures, record_variant, scene_figures, test_scenes

def kept_checkpoint(run)->Path:
    "The checkpoint of the round a trained run kept (its validation scenes' pick)."
    pick = next(r['round'] for r in run.read_metrics().mining if r['selected'])
    return Path(dict(candidates(run))[pick])

def distilled(run, start:Path, seed:int, teacher, p)->Path:
    "The checkpoint of `train.distil_round` from `start` with `teacher` in `run` (trained once, then reused)."
    from barkbook.train import distil_round, load_training_data, scene_material, setup_devices
    fd = run.fit_dir().round(p.mine_rounds + 1)
    done = fd.root/'distil.json'
    if done.exists() and json.loads(done.read_text()) == dict(p.to_dict(), start=str(start)): return fd.checkpoint
    data = load_training_data(run, p.family)
    st, jit, _ = setup_devices(p.strategy, p.mixed_precision, p.jit_compile, p.threads)
    distil_round(fd, start, seed, teacher, data, p, scene_material(data, p), st, jit)
    done.write_text(json.dumps(dict(p.to_dict(), start=str(start))))
    return fd.checkpoint

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--real', required=True, help='labelled real set: class sub-folders or a manifest')
    ap.add_argument('--run', default=str(ROOT/'runs'/'default'), help='the run the seeds were trained on')
    ap.add_argument('--scenes-run', help='score on the test scenes of this run instead (default: --run)')
    ap.add_argument('--runs-dir', default=str(ROOT/'runs'/'_mining'), help="bench_mining.py's --runs-dir")
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--distil', type=float, help="train each seed's student toward the mean with this weight "
                    "(0: the control, one more round on the mean's mined windows with the labels alone)")
    ap.add_argument('--train', nargs='*', default=[], metavar='KEY=VALUE', help="bench_mining.py's --train (the seeds' recipe)")
    ap.add_argument('--out', default=str(ROOT/'benchmarks'/'results'/'ensemble.json'))
    ap.add_argument('--variant', metavar='NAME', help='also record the result in mining_variants.json as NAME')
    ap.add_argument('--note', default='')
    argv = sys.argv[1:] if argv is None else argv
    a = ap.parse_args(argv)
    import yaml
    from barkbook.models import load_model
    from barkbook.params import StreamParams, TrainParams
    from barkbook.run import Run
    from barkbook.train import mean_model
    over = {k: yaml.safe_load(v) for k, v in (kv.split('=', 1) for kv in a.train)}
    sp = StreamParams()
    runs = [Run(Path(a.runs_dir)/f's{s}') for s in a.seeds]
    files = [kept_checkpoint(r) for r in runs]
    scenes = test_scenes(Run(Path(a.scenes_run or a.run)), sp)
    rows = {}
    for s, r, f in zip(a.seeds, runs, files):
        rows[f'seed {s}'] = dict(real=real_figures(r, f, a.real), scenes=scene_figures(r, load_model(f), scenes, sp))
        print(f"seed {s}: {rows[f'seed {s}']}", flush=True)
    with tempfile.TemporaryDirectory() as d:
        avg = mean_model(files); avg.save(Path(d)/'average.keras')
        rows['average'] = dict(real=real_figures(runs[0], Path(d)/'average.keras', a.real),
                               scenes=scene_figures(runs[0], avg, scenes, sp))
    print(f"average of seeds {a.seeds}: {rows['average']}", flush=True)
    for s, r, f in zip(a.seeds, runs, files) if a.distil is not None else ():
        p = TrainParams.from_overrides(dict(over, seed=s, verbose=0, distil=a.distil))
        ck = distilled(r, f, s, avg, p)
        rows[f'student {s}'] = dict(real=real_figures(r, ck, a.real), scenes=scene_figures(r, load_model(ck), scenes, sp))
        print(f"student {s}: {rows[f'student {s}']}", flush=True)
    print('\n| models | missed at <= 1 FA/h | real acc | bark precision | bark AP |\n|---|---|---|---|---|')
    for kind in ('seed', 'average', 'student'):
        got = [v for k, v in rows.items() if k.split()[0] == kind]
        if not got: continue
        f = lambda g, k: np.array([v[g][k] for v in got], float)
        sd = lambda v: f' ± {v.std(ddof=1):.3f}' if len(v) > 1 else ''
        print(f"| {kind} ({len(got)}) | " + ' | '.join(f"{v.mean():.3f}{sd(v)}" for v in
              (f('scenes', 'miss_rate'), f('real', 'accuracy'), f('real', 'bark_precision'), f('real', 'bark_ap'))) + ' |')
    result = dict(real=str(a.real), run=str(a.run), runs_dir=str(a.runs_dir), seeds=a.seeds, train=over,
                  distil=a.distil, models=rows)
    out = Path(a.out); out.parent.mkdir(exist_ok=True); out.write_text(json.dumps(result, indent=1))
    print(f"Saved {out}")
    if a.variant: record_variant(result, a.variant, a.note, 'bench_ensemble.py ' + shlex.join(argv))

if __name__ == '__main__':
    sys.exit(main())
