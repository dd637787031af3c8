#!/usr/bin/env python
"""`make bench`: run every benchmarks/bench_*.py in turn, print their tables and keep a copy in benchmarks/results/.

Each benchmark is a standalone script (run one alone with `python benchmarks/bench_X.py`); extra arguments given
here (e.g. `--quick`) are passed to all of them.
"""
import datetime, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent

def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    out_dir = HERE / "results"; out_dir.mkdir(exist_ok=True)
    report = [f"# barkbook benchmarks, {datetime.datetime.now():%Y-%m-%d %H:%M}", ""]
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
        dt = time.perf_counter() - t0
        print(r.stdout, end=""); print(r.stderr[-3000:] if r.returncode else "", end="", file=sys.stderr)
        report += [f"## {script.name} ({dt:.0f} s){'  FAILED' if r.returncode else ''}", "", r.stdout.strip(), ""]
        if r.returncode: failed.append(script.name)
    path = out_dir / f"bench_{datetime.datetime.now():%Y%m%d_%H%M%S}.md"
    path.write_text("\n".join(report) + "\n")
    print(f"\nSaved {path.relative_to(HERE.parent)}")
    if failed: print(f"FAILED: {', '.join(failed)}"); return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
