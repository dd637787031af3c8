"""Does the same seed train the same model bytes on another processor? A short training of the default cnn
(barkbook.models, seeded like 02) on fixed random log-mels, repeated in fresh processes under settings that change
which CPU code TensorFlow runs; each prints the SHA-256 of the trained weights.

    python benchmarks/bench_determinism.py [--epochs 2] [--json OUT]

- `host`, twice: the same machine and settings must give the same hash (barkbook's per-machine determinism);
- `ONEDNN_MAX_CPU_ISA=AVX2`: oneDNN's kernels as on a processor without AVX-512 (a change means the instruction set
  changes the rounding, so another processor trains another model);
- `TF_ENABLE_ONEDNN_OPTS=0`, alone and with the AVX2 cap: whether turning oneDNN's custom ops off makes training
  independent of the processor;
- with `qemu-x86_64` installed (Debian's `qemu-user`): the same under an emulated Intel Haswell (AVX2, other caches).
Not part of `make bench` (the emulated runs take ~1.5 min each). Writes benchmarks/results/determinism.json.
"""
import argparse, json, os, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TRAIN = """
import hashlib, sys, numpy as np, keras
sys.path.insert(0, {root!r})
from barkbook.models import build_model
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(-60, 15, (512, 49, 40)).astype('float32'); y = rng.integers(0, 4, 512)
m = build_model('cnn', (49, 40), 4, width=0.75, dropout=0.1)
m.compile(keras.optimizers.AdamW(0.003), 'sparse_categorical_crossentropy')
m.fit(x, y, batch_size=64, epochs={epochs}, verbose=0, shuffle=False)
print(hashlib.sha256(b''.join(w.astype('float32').tobytes() for w in m.get_weights())).hexdigest())
"""

SETTINGS = [('host', {}, False), ('host, again', {}, False), ('ONEDNN_MAX_CPU_ISA=AVX2', {'ONEDNN_MAX_CPU_ISA': 'AVX2'}, False),
            ('TF_ENABLE_ONEDNN_OPTS=0', {'TF_ENABLE_ONEDNN_OPTS': '0'}, False),
            ('TF_ENABLE_ONEDNN_OPTS=0, again', {'TF_ENABLE_ONEDNN_OPTS': '0'}, False),
            ('TF_ENABLE_ONEDNN_OPTS=0 ONEDNN_MAX_CPU_ISA=AVX2', {'TF_ENABLE_ONEDNN_OPTS': '0', 'ONEDNN_MAX_CPU_ISA': 'AVX2'}, False),
            ('qemu -cpu Haswell', {}, True), ('qemu -cpu Haswell, TF_ENABLE_ONEDNN_OPTS=0', {'TF_ENABLE_ONEDNN_OPTS': '0'}, True)]


def weights_hash(env: dict, emulate: bool, epochs: int) -> str:
    "SHA-256 of the weights trained in a fresh process with `env` added (under qemu's Haswell when `emulate`)."
    cmd = [sys.executable, '-c', TRAIN.format(root=str(ROOT), epochs=epochs)]
    if emulate: cmd = ['qemu-x86_64', '-cpu', 'Haswell'] + cmd
    r = subprocess.run(cmd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', **env), capture_output=True, text=True)
    if r.returncode: sys.exit(f"{' '.join(cmd[:4])} failed:\n{r.stderr[-2000:]}")
    return r.stdout.split()[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--json', default=str(ROOT / 'benchmarks' / 'results' / 'determinism.json'))
    a = ap.parse_args()
    qemu = shutil.which('qemu-x86_64') is not None
    if not qemu: print('qemu-x86_64 not found (Debian: apt install qemu-user): the emulated runs are left out')
    rows = []
    for name, env, emulate in SETTINGS:
        if emulate and not qemu: continue
        rows.append(dict(setting=name, sha256=weights_hash(env, emulate, a.epochs)))
        print(f"{name:50s} {rows[-1]['sha256'][:16]}", flush=True)
    base = rows[0]['sha256']
    for r in rows: r['same_as_host'] = r['sha256'] == base
    cpu = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines()
                if l.startswith('model name')), 'unknown')
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(dict(cpu=cpu, epochs=a.epochs, runs=rows), indent=1) + '\n')
    print(f"wrote {a.json}")


if __name__ == '__main__': main()
