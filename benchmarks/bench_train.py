"""Training benchmark: examples/s of training on CPU for `cnn` and `dscnn` (training steps only, median over the
epochs after the first), next to the throughput of the tf.data input pipeline alone (memory-mapped shards,
shuffle, batch, SpecAugment, prefetch; no model) — training must not be input-bound.

Runs `barkbook.train.train_run` on a run whose features are random log-mels (4,096 training clips; --quick: 1,024)
or a real run's features (--features DIR, e.g. runs/default/features).

    python benchmarks/bench_train.py [--quick] [--features DIR] [--json OUT]
"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
import numpy as np


def random_features(run, n_train: int, seed: int = 0):
    "Fill `run`'s features with random log-mels (throughput does not depend on the values; waveforms are silence)."
    import pandas as pd
    from barkbook.features import FeatureConfig
    from barkbook.train import write_shards
    cfg = FeatureConfig(); rng = np.random.default_rng(seed); classes = ["dog_bark", "speech", "ambient", "silence"]
    run.write_feature_config(cfg); run.write_classes(classes)
    for split, n in (("train", n_train), ("val", n_train // 8), ("test", n_train // 8)):
        x = np.clip(rng.normal(-70, 20, (n, *cfg.shape)), cfg.clamp_min, cfg.clamp_max).astype(np.float32)
        y = np.arange(n) % 4
        meta = pd.DataFrame(dict(path=[f"clips/{split}_{i}.wav" for i in range(n)], label=[classes[c] for c in y],
                                 group=np.arange(n), source="random"))
        write_shards(run, split, x, y, np.zeros((n, cfg.clip_samples), np.int16), meta)
    return run


def pipeline_only(run, batch_size: int, spec_augment: bool) -> float:
    from barkbook.train import make_dataset, pipeline_throughput, Augment
    sd = run.open_split("train")
    ds = make_dataset(sd.x, sd.y, len(sd.classes), batch_size, training=True, augment=Augment(spec_augment=spec_augment))
    pipeline_throughput(ds, max_batches=2)           # warm up
    return pipeline_throughput(ds)


def run_on(features: Path, d: Path):
    "A run folder `d` whose features/ is (a link to) `features`."
    from barkbook.run import Run
    run = Run(d); d.mkdir(parents=True, exist_ok=True)
    os.symlink(features.resolve(), run.features_dir)
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,024 training clips, 2 epochs")
    ap.add_argument("--features", type=Path, help="a real run's features folder instead of random log-mels")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    a = ap.parse_args(argv)
    from barkbook.params import TrainParams
    from barkbook.run import Run
    from barkbook.train import train_run
    n_train, epochs = (1024, 2) if a.quick else (4096, 3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = run_on(a.features, Path(tmp) / "src") if a.features else random_features(Run(Path(tmp) / "src"), n_train)
        n = len(src.open_split("train"))
        for aug in (False, True):
            rows.append(dict(what=f"input pipeline alone (SpecAugment {'on' if aug else 'off'})", examples=n,
                             examples_per_s=round(pipeline_only(src, a.batch_size, aug))))
        for family in ("cnn", "dscnn"):
            t0 = time.perf_counter()
            m = train_run(run_on(src.features_dir, Path(tmp) / family),
                          TrainParams(family=family, epochs=epochs, batch_size=a.batch_size, patience=100, verbose=0, mine_rounds=0))
            rows.append(dict(what=f"training {family} ({m.model['params']:,} params, {m.model['macs'] / 1e6:.1f} M MACs)",
                             examples=n, examples_per_s=round(m.throughput["train_examples_per_s"]),
                             pipeline_alone=round(m.throughput["pipeline_examples_per_s"]),
                             wall_s=round(time.perf_counter() - t0, 1)))
    cols = ["what", "examples", "examples_per_s"]
    w = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    print(f"batch {a.batch_size}, {os.cpu_count()} CPU cores, {epochs} epochs per model\n")
    print("  ".join(c.ljust(w[c]) for c in cols)); print("  ".join("-" * w[c] for c in cols))
    for r in rows: print("  ".join(str(r.get(c, "")).ljust(w[c]) for c in cols))
    if a.json: a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
