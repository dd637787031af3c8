"""Kills (issue 16 F7, F8): what a SIGKILLed `barkbook run` or set write leaves, and what the next start does.

Fast (make test): SIGKILL `barkbook run` while step 01's loky workers render clips -> a second run of the same
name is refused while it runs; after the kill every process it started (kernel, workers, reapers) is gone; the
next start marks the killed invocation and step 'interrupted' and removes the temporaries the kill left.
A set write (`core.write_file_set`, what 03 uses for tflite/ + firmware) SIGKILLed at every rename: a reader
sees the old set, the new set, or is told the set is incomplete and which files.
Slow (make test-all): the kill matrix — SIGKILL during 01, 02, 03 and 04 of a smoke run, re-running the same
command after each kill, then the result compared with an uninterrupted run."""
import json, os, pickle, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np
import pytest
from barkbook.core import FileSetError, check_file_set, clean_temporaries, sha1_file, stale_temporaries
from barkbook.run import Run

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SMOKE = ROOT / "configs" / "smoke.yaml"
ENV = dict(os.environ, IN_TEST="1", TF_CPP_MIN_LOG_LEVEL="2")


def barkbook(*args, timeout=900):
    return subprocess.run([str(BIN / "barkbook"), *map(str, args)], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def start(*args, log):
    return subprocess.Popen([str(BIN / "barkbook"), *map(str, args)], stdout=log, stderr=subprocess.STDOUT,
                            env=ENV)


# ---------------------------------------------------------------- processes

def _stat(pid):
    "(ppid, state, start time) of a process, or None when it is gone."
    try: s = Path(f"/proc/{pid}/stat").read_text()
    except OSError: return None
    f = s[s.rindex(")") + 2:].split()
    return int(f[1]), f[0], int(f[19])


def _cmdline(pid):
    try: return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError: return ""


def descendants(pid):
    "{pid: (start time, command line)} of every living process below `pid`."
    kids = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _stat(int(d.name))): kids.setdefault(st[0], []).append(int(d.name))
    out, todo = {}, [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            st = _stat(k)
            if st and st[1] != "Z": out[k] = (st[2], _cmdline(k)); todo.append(k)
    return out


def still_alive(procs):
    "The processes of `procs` ({pid: (start time, cmd)}) still running (same pid and start time, not a zombie)."
    return {p: c for p, (t, c) in procs.items() if (st := _stat(p)) and st[2] == t and st[1] != "Z"}


def wait_gone(procs, seconds=15):
    t0 = time.time()
    while (left := still_alive(procs)) and time.time() - t0 < seconds: time.sleep(0.2)
    return left


def wait_for(cond, seconds, what, proc=None):
    t0 = time.time()
    while time.time() - t0 < seconds:
        if (v := cond()): return v
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"barkbook run ended ({proc.returncode}) before {what}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def step_running(rd, step):
    def f():
        try: return json.loads((rd / "run.json").read_text())["steps"][step]["status"] == "running"
        except (OSError, ValueError, KeyError): return False
    return f


def loky_workers(pid, n):
    "The loky worker processes under `pid` once there are `n` of them (its resource tracker is not a worker), else None."
    w = {k: v for k, v in descendants(pid).items() if "loky" in v[1] and "resource_tracker" not in v[1]}
    return w if len(w) >= n else None


def temporaries(*folders):
    return [p for f in folders for p in stale_temporaries(f)]


# ---------------------------------------------------------------- fast: kill during 01 with its workers

def test_kill_during_01_lock_orphans_interrupted(tmp_path):
    "F7 end to end on a real run: lock, workers die with their parent, interrupted status, temporaries cleaned."
    rd = tmp_path / "runs" / "k"
    args = ("run", "--name", "k", "--runs-dir", tmp_path / "runs", "--config", SMOKE,
            "-p", "clips_per_class", "60", "--to", "01")     # 240 clips: rendered by 2 loky workers
    with open(tmp_path / "first.log", "w") as log:
        p = start(*args, log=log)
        try:
            wait_for(step_running(rd, "01_generate_data"), 120, "step 01 to start", p)
            second = barkbook(*args, timeout=120)                               # same name, while the first runs
            assert second.returncode != 0
            assert f"run 'k' is already running (pid {p.pid}, started" in second.stderr, second.stderr[-2000:]
            workers = wait_for(lambda: loky_workers(p.pid, 2), 180, "two loky workers in step 01", p)
            time.sleep(1.0)                                   # let them write clips (temporaries in flight)
            procs = descendants(p.pid)
        finally:
            p.send_signal(signal.SIGKILL); p.wait()
    assert len(workers) >= 2 and any("ipykernel" in c for _, c in procs.values()), procs
    left = wait_gone(procs, 15)
    assert not left, f"processes left after SIGKILL of barkbook run: {left}"
    rec = json.loads((rd / "run.json").read_text())
    assert rec["status"] == "running" and rec["history"][-1]["pid"] == p.pid      # what the kill left
    planted = rd / "data" / ".manifest.csv.zz9abc12.tmp"; planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text("half-written")                                           # a kill inside a write
    left_tmps = temporaries(rd)
    # the next start (refused: 01 never completed) marks the killed run and removes the temporaries
    r = barkbook("run", "--name", "k", "--runs-dir", tmp_path / "runs", "--config", SMOKE, "--from", "02", timeout=120)
    assert r.returncode != 0 and "step 01_generate_data has not completed in this run" in r.stderr, r.stderr[-2000:]
    assert f"removed {len(left_tmps)} temporaries left by an interrupted run" in r.stdout + r.stderr
    rec = Run(rd).read_record()
    assert rec.status == "interrupted"
    assert rec.history[-1]["status"] == "interrupted" and f"pid {p.pid}: the process ended" in rec.history[-1]["error"]
    assert rec.steps["01_generate_data"]["status"] == "interrupted"
    assert temporaries(rd) == [] and not planted.exists()
    print(f"killed with {len(procs)} processes below barkbook run ({len(workers)} loky workers); "
          f"{len(left_tmps)} temporaries (the kill's and one planted) removed at the next start")


def test_lock_is_released_by_a_kill(tmp_path):
    "A process holding run.lock and SIGKILLed releases it: the next run_lock succeeds at once."
    code = textwrap.dedent(f"""
        import time
        from barkbook.pipeline import run_lock
        from barkbook.run import Run
        with run_lock(Run({str(tmp_path / 'r')!r})): print('locked', flush=True); time.sleep(60)""")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    assert p.stdout.readline().strip() == "locked"
    from barkbook.pipeline import PipelineError, run_lock
    with pytest.raises(PipelineError, match=f"already running \\(pid {p.pid}"):
        with run_lock(Run(tmp_path / "r")): pass
    p.kill(); p.wait()
    with run_lock(Run(tmp_path / "r")): pass


# ---------------------------------------------------------------- fast: a set write killed at every rename

_WRITER = """
import os, pickle, signal, sys
from barkbook import core
files, n = pickle.load(open(sys.argv[1], 'rb')), int(sys.argv[2])
real, count = os.replace, [0]
def replace(a, b):
    if count[0] == n: os.kill(os.getpid(), signal.SIGKILL)      # a real SIGKILL just before the n-th rename
    count[0] += 1; real(a, b)
os.replace = replace
core.write_file_set(files)
print(count[0])
"""


def _fw_set(root, tag):
    "A firmware-like set in two folders (tflite/ and firmware/lib/neural_network/), contents tagged."
    return {root / "tflite" / "model_int8.tflite": f"{tag} model bytes".encode(),
            root / "tflite" / "conversion_report.json": f'{{"sha1": "{tag}"}}\n',
            root / "firmware" / "lib" / "neural_network" / "model.cc": f"// {tag} model.cc\n",
            root / "firmware" / "lib" / "neural_network" / "model_settings.h": f"// {tag} settings\n"}


def as_bytes(files): return [d.encode() if isinstance(d, str) else d for d in files.values()]


def test_set_write_killed_at_every_rename(tmp_path):
    "F8: SIGKILL before each rename of a set write: old set, new set, or 'incomplete' naming the old files."
    root = tmp_path / "w"
    from barkbook.core import write_file_set
    old, new = _fw_set(root, "old"), _fw_set(root, "new")
    (tmp_path / "new.pkl").write_bytes(pickle.dumps(new))
    full = subprocess.run([sys.executable, "-c", _WRITER, tmp_path / "new.pkl", "-1"], capture_output=True,
                          text=True, env=ENV)
    assert full.returncode == 0, full.stderr
    n_renames = int(full.stdout)            # journals (one per folder) + files
    assert n_renames == 2 + len(new)
    seen = []
    for n in range(n_renames):
        write_file_set(old)
        r = subprocess.run([sys.executable, "-c", _WRITER, tmp_path / "new.pkl", str(n)], capture_output=True,
                           env=ENV)
        assert r.returncode == -signal.SIGKILL
        have = [p.read_bytes() for p in new]
        state = "old" if have == as_bytes(old) else "new" if have == as_bytes(new) else "mixed"
        try:
            for d in (root / "tflite", root / "firmware"): check_file_set(d)
            verdict = "ok"
        except FileSetError as e: verdict = str(e)
        if state == "mixed": assert "incomplete set of generated files" in verdict, (n, verdict)
        else: assert verdict == "ok" or "incomplete" in verdict, (n, verdict)
        seen.append((n, state, verdict != "ok"))
        staged = temporaries(root)                            # staged files (and journal) the kill did not rename
        assert len(staged) == (len(new) + 1 if n < 2 else len(new) - (n - 2)), (n, staged)
        assert len(clean_temporaries(root)) == len(staged)    # what the next start of the step removes
        write_file_set(new)                                   # the next write completes the set and tidies up
        assert temporaries(root) == [] and not list(root.rglob(".barkbook-set.json"))
        for d in (root / "tflite", root / "firmware"): assert check_file_set(d) == []
    assert {s for _, s, _ in seen} >= {"old", "mixed"}, seen
    assert all(flagged for _, s, flagged in seen if s == "mixed")
    print("kill before rename n -> (reader sees, reader says incomplete):", seen)


# ---------------------------------------------------------------- slow: the kill matrix

STEPS4 = ("01_generate_data", "02_train", "03_convert_tflite", "04_stream")

_SET_KILLER = """
import dataclasses, os, signal, sys
from barkbook import convert, core
from barkbook.params import smoke_params
from barkbook.run import Run
real, count, armed = os.replace, [0], [False]
def replace(a, b):
    if armed[0]:
        if count[0] == int(sys.argv[2]): os.kill(os.getpid(), signal.SIGKILL)   # mid-way through the set's renames
        count[0] += 1
    real(a, b)
os.replace = replace
write = core.write_file_set
def armed_write(files, before_commit=None):
    armed[0] = True; return write(files, before_commit)
convert.write_file_set = armed_write
p = dataclasses.replace(smoke_params('03_convert_tflite'), arena_margin_bytes=2048)   # another model_settings.h
convert.convert_run(Run(sys.argv[1]), p, log=None)
"""


def _same_results(a: Run, b: Run):
    "The artefacts two runs of the same parameters must share, compared (names differ, bytes must not)."
    from barkbook import firmware as fwm
    from barkbook.convert import check_firmware_set
    assert a.read_manifest().equals(b.read_manifest())
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(np.asarray(a.open_split(split).x), np.asarray(b.open_split(split).x))
    assert a.read_metrics().test == b.read_metrics().test
    assert a.read_tflite("int8") == b.read_tflite("int8"), "int8 model bytes differ"
    assert fwm.read_model_cc(a.firmware_dir / fwm.MODEL_CC) == fwm.read_model_cc(b.firmware_dir / fwm.MODEL_CC)
    check_firmware_set(a.firmware_dir)
    for csv in sorted(p.name for p in b.stream_dir.glob("*.csv")):
        assert (a.stream_dir / csv).read_bytes() == (b.stream_dir / csv).read_bytes(), csv


@pytest.mark.slow
def test_kill_matrix(tmp_path):
    "SIGKILL during 01, 02, 03 and 04, the same command re-run after each; then a kill inside 03's set write."
    from barkbook.convert import check_firmware_set
    runs = tmp_path / "runs"
    cmd = ("run", "--runs-dir", runs, "--config", SMOKE)
    t0 = time.perf_counter()
    r = barkbook(*cmd, "--name", "base"); assert r.returncode == 0, r.stderr[-3000:]
    base = Run(runs / "base"); per_step = {s: v["seconds"] for s, v in base.read_record().steps.items()}
    timings = {"uninterrupted": round(time.perf_counter() - t0, 1)}
    rd, killed = runs / "m", []
    for step in STEPS4:
        t1 = time.perf_counter()
        with open(tmp_path / f"kill-{step}.log", "w") as log:
            p = start(*cmd, "--name", "m", log=log)
            def started():
                try: rec = json.loads((rd / "run.json").read_text())
                except (OSError, ValueError): return False
                s = rec["steps"].get(step, {})
                return (rec["history"][-1].get("pid") == p.pid and s.get("status") == "running"
                        and s["started"] >= rec["history"][-1]["started"])
            wait_for(started, 600, f"{step} to start", p)
            time.sleep(max(2.0, 0.5 * per_step[step]))           # half-way through the step (as long as it took)
            procs = descendants(p.pid)
            p.send_signal(signal.SIGKILL); p.wait()
        assert not wait_gone(procs, 15), f"orphans after a kill during {step}: {still_alive(procs)}"
        assert Run(rd).read_record().steps[step]["status"] == "running"     # until the next start
        killed.append((step, p.pid, len(procs), len(temporaries(rd))))
        timings[f"kill during {step}"] = round(time.perf_counter() - t1, 1)
    t1 = time.perf_counter()
    r = barkbook(*cmd, "--name", "m"); assert r.returncode == 0, r.stderr[-3000:]
    timings["re-run"] = round(time.perf_counter() - t1, 1)
    rec, m = Run(rd).read_record(), Run(rd)
    assert [h["status"] for h in rec.history] == ["interrupted"] * 4 + ["ok"]
    assert [h["pid"] for h in rec.history[:4]] == [k[1] for k in killed]
    assert rec.status == "ok" and all(s["status"] == "ok" for s in rec.steps.values())
    assert temporaries(rd) == [] and not list(rd.rglob(".barkbook-set.json"))
    _same_results(m, base)
    # a kill inside 03's multi-file write (journals and 1 file renamed): the reader says so; 03 again mends it
    t1 = time.perf_counter()
    k = subprocess.run([sys.executable, "-c", _SET_KILLER, rd, "3"], capture_output=True, text=True, env=ENV)
    assert k.returncode == -signal.SIGKILL, k.stderr[-2000:]
    with pytest.raises(FileSetError, match="incomplete set of generated files"): check_firmware_set(m.firmware_dir)
    assert temporaries(rd) != []
    r = barkbook(*cmd, "--name", "m", "--from", "03"); assert r.returncode == 0, r.stderr[-3000:]
    assert temporaries(rd) == [] and not list(rd.rglob(".barkbook-set.json"))
    _same_results(m, base)
    timings["kill in 03's set write + --from 03"] = round(time.perf_counter() - t1, 1)
    print("kill matrix:", killed, "seconds:", timings)
