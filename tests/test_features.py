"""barkbook.features outside the lesson: the package imports from anywhere (a fresh process, another cwd).
The front-end's unit tests (fast path vs librosa, level, int8 mapping, config, grid) live in nbs/12_features.ipynb."""
import subprocess, sys


def test_import_from_installed_package():
    code = ("import barkbook.features as f, barkbook; cfg = f.FeatureConfig(); "
            "print(barkbook.__version__, cfg.hash, f.StreamGrid.from_hop_ms(cfg, 240).hop_frames)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[1:] == ["dfcc89ef4853", "12"]     # the default front-end's hash never changes
