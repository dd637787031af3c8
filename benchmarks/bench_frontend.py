#!/usr/bin/env python
"""Does a gain-robust front-end beat today's log-mel? PCEN (librosa.pcen on the mel power of the log-mel's own frames,
window and filterbank) and the TFLite Micro audio front-end (pymicro-features: the one micro_speech and microWakeWord
use, with its noise reduction and PCAN gain control; every second 10 ms frame, so frames start where the log-mel's do)
against the log-mel in dB, paired over training seeds: synthetic test accuracy, and on a labelled real set clip
accuracy, bark precision/recall (argmax) and AP, also with every real clip scaled by -20 dB and +10 dB.

Both front-ends train the same recipe (barkbook.params.TrainParams, default mine_rounds=0: the clip model only) on
features built from the waveforms of a run (default runs/default), in runs/_frontend/<frontend>_s<seed>/ (data linked,
features in runs/_frontend/_features/<frontend>/). The real set is only scored, never trained on.

    python benchmarks/bench_frontend.py --real PATH [--run runs/default] [--seeds 0 1 2] [--train k=v ...]

Not part of `make bench`: each seed and front-end trains a model (~3 min on 2 cores). Writes
benchmarks/results/frontend.json (`--out`).
"""
import argparse, itertools, json, sys, time
from importlib.metadata import version
from contextlib import contextmanager
from pathlib import Path
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
FRONTENDS = ('logmel', 'pcen', 'tflm')
GAINS_DB = (-20.0, 10.0)
# librosa.pcen defaults; power is taken of int32-scaled samples (librosa's advice for its eps), the filter starts
# in the steady state of each clip's first frame (librosa's default state, 1, would add an onset transient to every clip)
PCEN = dict(gain=0.98, bias=2.0, power=0.5, time_constant=0.4, eps=1e-6, scale=2.0 ** 62, zi='first_frame')

def mel_power(x, cfg):
    "Mel power (N, frames, mels), float64, of clips `x` (N, samples): logmel's frames, window and filterbank."
    import scipy.fft
    from barkbook.features import fft_window, mel_filterbank
    fr = np.lib.stride_tricks.sliding_window_view(np.asarray(x, np.float64), cfg.n_fft, axis=-1)[:, ::cfg.hop_length]
    spec = scipy.fft.rfft(fr[:, :cfg.n_frames] * fft_window(cfg, np.float64), axis=-1)
    return (spec.real ** 2 + spec.imag ** 2) @ mel_filterbank(cfg).astype(np.float64).T

def pcen(x, cfg, chunk=256):
    "PCEN (N, frames, mels), float32, of clips `x` (N, samples) in [-1, 1]."
    import librosa, scipy.signal
    t_frames = PCEN['time_constant'] * cfg.sample_rate / cfg.hop_length
    b = (np.sqrt(1 + 4 * t_frames ** 2) - 1) / (2 * t_frames ** 2)           # librosa's default smoothing coefficient
    z1 = scipy.signal.lfilter_zi([b], [1, b - 1])[0]
    out = np.empty((len(x), *cfg.shape), np.float32)
    for s in range(0, len(x), chunk):
        S = np.swapaxes(mel_power(x[s:s + chunk], cfg) * PCEN['scale'], 1, 2)   # (n, mels, frames): time last
        out[s:s + chunk] = np.swapaxes(librosa.pcen(S, sr=cfg.sample_rate, hop_length=cfg.hop_length, gain=PCEN['gain'],
            bias=PCEN['bias'], power=PCEN['power'], time_constant=PCEN['time_constant'], eps=PCEN['eps'],
            b=b, zi=z1 * S[..., :1]), 1, 2)
    return out

def tflm(x, cfg):
    "TFLite Micro front-end (N, frames, 40), float32, of clips `x` (N, samples) in [-1, 1] (each as `tflm_stream`)."
    return np.stack([tflm_stream(c, cfg) for c in np.asarray(x)])

def tflm_stream(x, cfg):
    """TFLite Micro front-end (frames, 40), float32, of a clip or long recording `x` (n,) in [-1, 1]: one front-end over
    all of it, every second 10 ms frame (the log-mel's grid). Its noise estimate and gain control adapt over time, and a
    device's are always warm, so the front-end first hears `x`'s first second (for a one-second clip: itself)."""
    from pymicro_features import MicroFrontend
    from barkbook.audio import float_to_int16
    from barkbook.features import n_frames_for
    if cfg.sample_rate != 16000 or cfg.hop_length != 320 or cfg.win_length != 480 or cfg.n_mels != 40:
        raise SystemExit(f"the TFLM front-end is 16 kHz, 30 ms windows every 10 ms, 40 channels; the run's is {cfg}")
    skip = min(len(x), cfg.clip_samples) // cfg.hop_length      # warm-up frames on our grid (whole 20 ms hops)
    pcm = float_to_int16(x).astype('<i2', copy=False)
    b = np.concatenate([pcm[:skip * cfg.hop_length], pcm]).tobytes()
    fe, nf, step = MicroFrontend(), n_frames_for(len(x), cfg), 320     # 160 samples (10 ms) per call, as bytes
    frames = (f for f in (fe.process_samples(b[o:o + step]).features for o in range(0, len(b) - step + 1, step)) if f)
    kept = list(itertools.islice(frames, 2 * skip, 2 * (skip + nf), 2))   # every second 10 ms frame after the warm-up
    if len(kept) != nf: raise SystemExit(f"the TFLM front-end gave {len(kept)} frames of {nf} for {len(x)} samples")
    return np.asarray(kept, np.float32).reshape(nf, cfg.n_mels)

@contextmanager
def frontend_patch(fe):
    """Benchmark only: every log-mel that training, scenes and scoring compute (barkbook.scenes, barkbook.inference)
    becomes front-end `fe` (clips: `tflm`; long recordings: `tflm_stream`)."""
    import barkbook.scenes as S, barkbook.inference as I
    if fe == 'logmel': yield; return
    if fe != 'tflm': raise SystemExit(f"no streaming version of front-end {fe!r}")
    saved = S.logmel, I.logmel
    S.logmel = I.logmel = lambda x, cfg, **kw: tflm_stream(x, cfg) if np.ndim(x) == 1 else tflm(x, cfg)
    try:
        with value_check(fe): yield
    finally: S.logmel, I.logmel = saved

def features(fe, x, cfg):
    "Front-end `fe` of float clips `x` (N, samples)."
    from barkbook.features import logmel
    x = np.asarray(x, np.float32)
    return {'logmel': logmel, 'pcen': pcen, 'tflm': tflm}[fe](x, cfg)

def check_alignment(cfg, wave):
    "The PCEN's mel power in dB must be the log-mel (same frames, window, filterbank): raise if not."
    from barkbook.features import logmel, ref_power
    x = np.asarray(wave, np.float32) / 32768
    db = np.clip(10 * np.log10(np.maximum(mel_power(x, cfg), 1e-30) / ref_power(cfg)), cfg.clamp_min, cfg.clamp_max)
    lm = logmel(x, cfg)
    err = float(np.abs(db - lm).max())
    if db.shape != lm.shape or err > 0.01: raise SystemExit(f"mel power does not match logmel: {db.shape} vs {lm.shape}, {err:.4f} dB")
    return err

def feature_store(src, root, fe, cfg):
    "A run folder holding front-end `fe` of `src`'s splits (built once; data linked); its Run."
    from barkbook.run import Run, SPLITS
    from barkbook.train import write_shards
    spec = dict(frontend=fe, pcen=PCEN if fe == 'pcen' else None, source=str(src.root.resolve()), cfg=cfg.hash)
    if fe == 'tflm': spec['tflm'] = f"pymicro-features {version('pymicro-features')}, second copy of each clip, log-mel grid"   # = tflm_stream
    run, mark = Run(root), root/'frontend.json'
    if mark.exists() and json.loads(mark.read_text()) == spec: return run, spec
    root.mkdir(parents=True, exist_ok=True)
    if not run.data_dir.exists(): run.data_dir.symlink_to(src.data_dir.resolve(), target_is_directory=True)
    run.write_classes(src.read_classes()); run.write_feature_config(cfg)
    for split in SPLITS:
        sd = src.open_split(split); t0 = time.perf_counter()
        write_shards(run, split, features(fe, np.asarray(sd.wave, np.float32) / 32768, cfg), sd.y, sd.wave, sd.meta)
        print(f"{fe} {split}: {len(sd.y)} clips ({time.perf_counter() - t0:.1f} s)", flush=True)
    mark.write_text(json.dumps(spec, indent=1))
    return run, spec

def linked_run(store, dst):
    "A run folder sharing `store`'s data and features (symlinks)."
    from barkbook.run import Run
    dst.mkdir(parents=True, exist_ok=True)
    for d in ('data', 'features'):
        if not (dst/d).exists(): (dst/d).symlink_to((store.root/d).resolve(), target_is_directory=True)
    return Run(dst)

@contextmanager
def value_check(fe):
    "PCEN and the TFLM front-end are not dB: for them, load_training_data's dB-range check becomes a finite-values check."
    import barkbook.train as T
    if fe == 'logmel': yield; return
    orig = T.check_values
    def finite(sd, cfg_path, chunk=4096):
        if not np.isfinite(np.asarray(sd.x)).all(): raise T.TrainError(f"{sd.path}: non-finite {fe} values")
    T.check_values = finite
    try: yield
    finally: T.check_values = orig

def load_real(path, classes, cfg):
    "The real set's clips (N, clip_samples) float32 and class ids."
    from barkbook.audio import load_audio, fix_length
    from barkbook.evaluate import read_labelled_set
    items, problems = read_labelled_set(path, classes)
    if len(problems): print(f"{path}: {len(problems)} clip(s) refused, e.g. {problems.values[0].tolist()}")
    x = np.stack([fix_length(load_audio(p, cfg.sample_rate), cfg.clip_samples) for p in items.path]).astype(np.float32)
    return x, np.array([classes.index(l) for l in items.label])

def figures(m):
    return {k: m[k] for k in ('accuracy', 'bark_precision', 'bark_recall', 'bark_ap')}

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--real', required=True, help='labelled real set: class sub-folders or a manifest')
    ap.add_argument('--run', default=str(ROOT/'runs'/'default'), help='a run with data and features (waveforms)')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--frontends', nargs='+', default=list(FRONTENDS), choices=FRONTENDS)
    ap.add_argument('--train', nargs='*', default=[], metavar='KEY=VALUE')
    ap.add_argument('--runs-dir', default=str(ROOT/'runs'/'_frontend'))
    ap.add_argument('--out', default=str(ROOT/'benchmarks'/'results'/'frontend.json'), help='where the results go (JSON)')
    a = ap.parse_args(argv)
    from barkbook.evaluate import clip_metrics
    from barkbook.models import load_model
    from barkbook.params import TrainParams
    from barkbook.run import Run
    from barkbook.train import bark_index, train_run
    t_start = time.perf_counter()
    src, runs_dir, out = Run(Path(a.run)), Path(a.runs_dir).resolve(), Path(a.out).resolve()
    cfg, classes = src.read_feature_config(), src.read_classes()
    over = dict({k: yaml.safe_load(v) for k, v in (kv.split('=', 1) for kv in a.train)}, verbose=0)
    over.setdefault('mine_rounds', 0)
    bark = bark_index(classes, TrainParams.from_overrides(over).bark_label)
    err = check_alignment(cfg, src.open_split('test').wave[:64])
    print(f"PCEN's mel power matches the log-mel within {err:.4f} dB ({cfg.n_frames} frames x {cfg.n_mels} mels)")
    real, real_y = load_real(a.real, classes, cfg)
    print(f"{a.real}: {len(real_y)} clips, {np.bincount(real_y, minlength=len(classes)).tolist()} per class {classes}")
    shifted = {0.0: real, **{g: np.clip(real * 10 ** (g / 20), -1, 1) for g in GAINS_DB}}
    res = dict(real=str(a.real), run=str(src.root), train=over, pcen=PCEN, gains_db=list(GAINS_DB), rows=[])
    old = json.loads(out.read_text()) if out.exists() else {}
    if all(old.get(k) == res[k] for k in ('real', 'run', 'train')):   # the other front-ends' rows of the same comparison stay
        res['rows'] = [r for r in old['rows'] if r['frontend'] not in a.frontends]
    for fe in a.frontends:
        store, spec = feature_store(src, runs_dir/'_features'/fe, fe, cfg)
        xr = {g: features(fe, x, cfg) for g, x in shifted.items()}
        for s in a.seeds:
            run = linked_run(store, runs_dir/f'{fe}_s{s}')
            p = TrainParams.from_overrides(dict(over, seed=s))
            mark = run.root/'frontend.json'
            done = (run.train_config_path.exists() and run.read_train_config().status == 'done'
                    and run.read_train_config().params == p.to_dict() and mark.exists() and json.loads(mark.read_text()) == spec)
            if not done:
                mark.unlink(missing_ok=True)
                with value_check(fe): train_run(run, p)
                mark.write_text(json.dumps(spec, indent=1))
            m = run.read_metrics()                                   # a seed trained before with these parameters is reused
            model = load_model(run.keras_path)
            test = clip_metrics(run.open_split('test').y, run.read_test_scores(), classes, bark, 0.5)
            real_m = {g: clip_metrics(real_y, model.predict(x, batch_size=256, verbose=0), classes, bark, 0.5)
                      for g, x in xr.items()}
            row = dict(frontend=fe, seed=s, train_s=round(m.train_seconds, 1), epochs=m.epochs_trained, best_epoch=m.best_epoch,
                       test=figures(test), real=figures(real_m[0.0]), real_confusion=real_m[0.0]['confusion'],
                       real_per_class=real_m[0.0]['per_class'],
                       real_gain={f'{g:+g}dB': figures(real_m[g]) for g in GAINS_DB})
            print(f"{fe} seed {s}: test acc {row['test']['accuracy']:.3f}, real {row['real']}, "
                  + ', '.join(f"{k} acc {v['accuracy']:.3f}" for k, v in row['real_gain'].items()), flush=True)
            res['rows'] = [r for r in res['rows'] if (r['frontend'], r['seed']) != (fe, s)] + [row]
            res['wall_s'] = round(time.perf_counter() - t_start, 1)
            out.parent.mkdir(exist_ok=True); out.write_text(json.dumps(res, indent=1))
    cols = [('synthetic test acc', lambda r: r['test']['accuracy']), ('real acc', lambda r: r['real']['accuracy']),
            ('bark P', lambda r: r['real']['bark_precision']), ('bark R', lambda r: r['real']['bark_recall']),
            ('bark AP', lambda r: r['real']['bark_ap'])]
    cols += [(f'real acc {g:+g} dB', lambda r, g=g: r['real_gain'][f'{g:+g}dB']['accuracy']) for g in GAINS_DB]
    ms = lambda v: f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} (worst {v.min():.3f})"
    print(f"\n| front-end | seeds | {' | '.join(c for c, _ in cols)} |\n|---|---|{'---|' * len(cols)}")
    by = {fe: sorted((r for r in res['rows'] if r['frontend'] == fe), key=lambda r: r['seed']) for fe in FRONTENDS}
    by = {fe: rows for fe, rows in by.items() if rows}
    for fe, rows in by.items():
        print(f"| {fe} | {len(rows)} | " + ' | '.join(ms(np.array([f(r) for r in rows])) for _, f in cols) + ' |')
    for fe in by:
        if fe == 'logmel' or 'logmel' not in by or [r['seed'] for r in by['logmel']] != [r['seed'] for r in by[fe]]: continue
        d = [np.array([f(q) - f(r) for q, r in zip(by[fe], by['logmel'])]) for _, f in cols]
        print(f"| {fe} − logmel (paired) | {len(d[0])} | " + ' | '.join(
            f"{v.mean():+.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} (min {v.min():+.3f})" for v in d) + ' |')
    res['wall_s'] = round(time.perf_counter() - t_start, 1)
    out.parent.mkdir(exist_ok=True); out.write_text(json.dumps(res, indent=1))
    print(f"\nwall {res['wall_s']:.0f} s; saved {out}")

if __name__ == '__main__':
    sys.exit(main())
