"""`barkbook monitor` and the firmware's serial protocol, end to end without hardware.

The firmware's serial side (firmware/host_test/monitor_host.cpp: main.cpp's loop around SerialMonitor and the real
BarkDetector on TensorFlow Lite Micro with the shipped model) plays a scene of generated clips and talks over a
pseudo-terminal; barkbook.monitor drives it through pyserial. Checked: the protocol's lines, threshold/rule changes
taking effect at the step the device names (events = barkbook.detector.postprocess on the device's own scores,
segment by segment), and the captured windows saved as WAV files equal to the audio the model heard. Also the C++
unit test beside lib/serial_protocol under sanitizers, and the library on a bare Xtensa compiler."""
import dataclasses, re, shutil, subprocess, sys, time, wave
from pathlib import Path
import numpy as np
import pytest

from barkbook import firmware as fwm
from barkbook import monitor as mon_mod
from barkbook.detector import postprocess

FW = fwm.default_firmware_dir()
LIBS = [FW / "lib" / d for d in ("audio_processor", "bark_detector", "neural_network", "serial_protocol")]
REASON = fwm.missing_tree("tflm")


def test_serial_protocol_unit_test_sanitized(tmp_path):
    "lib/serial_protocol/test (no Python): strict flags, AddressSanitizer + UBSan."
    if shutil.which("g++") is None: pytest.skip("g++ not installed")
    srcs = [FW / "lib/serial_protocol/test/serial_protocol_test.cpp", FW / "lib/serial_protocol/serial_protocol.cpp",
            *fwm.portable_sources(FW)]
    exe = tmp_path / "serial_protocol_test"
    cmd = ["g++", *fwm.HOST_FLAGS, *fwm.SANITIZE_FLAGS, "-O1", *(f"-I{d}" for d in [*LIBS, FW / "host_test"]),
           *map(str, srcs), "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]


def test_serial_protocol_builds_for_xtensa(tmp_path):
    "The protocol library is portable: C headers only, no heap, compiles for a bare Xtensa core (picolibc)."
    tc = fwm.xtensa_toolchain()
    if tc is None:
        pytest.skip("Xtensa toolchain not installed (apt-get install gcc-xtensa-lx106 picolibc-xtensa-lx106-elf)")
    src = FW / "lib/serial_protocol/serial_protocol.cpp"
    tu = tmp_path / "app.cpp"   # main.cpp's static SerialMonitor: zero-initialised, so .bss (no flash image)
    tu.write_text('#include "serial_protocol.h"\nSerialMonitor g_monitor;\n'
                  'void f(const int16_t* x, size_t n) { g_monitor.process(x, n); }\n')
    for s, o in [(src, tmp_path / "sp.o"), (tu, tmp_path / "app.o")]:
        cmd = [tc["cxx"], *fwm.XTENSA_FLAGS, f"-specs={tc['specs']}", *(f"-I{d}" for d in LIBS), "-c", str(s), "-o", str(o)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
    size = subprocess.run([tc["size"], str(tmp_path / "sp.o"), str(tmp_path / "app.o")], capture_output=True, text=True)
    (code, _, _), (_, data, bss) = [list(map(int, l.split()[:3])) for l in size.stdout.splitlines()[1:]]
    print(f"\nMONITOR xtensa-lx106 -Os: serial_protocol text {code} B; static SerialMonitor bss {bss} B, data {data} B")
    assert code < 12 * 1024 and data == 0 and bss < 72 * 1024
    text = src.read_text() + (src.parent / "serial_protocol.h").read_text()
    includes = set(re.findall(r'#include [<"]([^>"]+)[>"]', text))
    assert includes <= {"serial_protocol.h", "bark_detector.h", "stdarg.h", "stdio.h", "stdlib.h", "string.h",
                        "stddef.h", "stdint.h"}, includes


def scene(path, labels, seed=3):
    from barkbook.synth import synth_clip
    x = np.concatenate([np.clip(np.round(synth_clip(l, 0, seed, i)[0] * 32768), -32768, 32767).astype("<i2")
                        for i, l in enumerate(labels)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(x.tobytes())
    return x


def read_until(dev, pred, got, timeout=60):
    "Read messages into `got` until pred(msg); returns that message."
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msg = dev.read(1.0)
        if msg is None:
            assert not dev.closed, "the device hung up"
            continue
        got.append(msg)
        if pred(msg): return msg
    raise AssertionError("timed out")


@pytest.mark.skipif(REASON is not None, reason=f"TFLite Micro sources not available: {REASON}")
def test_monitor_end_to_end(tmp_path):
    "Real firmware on a pty: lines, a threshold raise removing events, a rule change adding them, captures saved."
    t0 = time.time()
    exe = mon_mod.build_monitor_host()
    labels = ["dog_bark", "ambient", "speech", "dog_bark", "silence", "dog_bark", "ambient", "dog_bark"] * 2
    x = scene(tmp_path / "scene.wav", labels)
    loops = 4
    audio = np.tile(x, loops)
    shipped = fwm.read_firmware(FW)["det_cfg"]
    got, caps = [], []
    with mon_mod.host_device(tmp_path / "scene.wav", baud=921600, loops=loops, exe=exe) as dev:
        hello = dev.handshake()
        assert hello["labels"] == list(fwm.read_firmware(FW)["classes"]) and hello["hop_ms"] == 240
        assert dev.config["confidence_threshold"] == pytest.approx(shipped.confidence_threshold)
        read_until(dev, lambda m: m["tag"] == "STEP" and m["step"] >= 5, got)
        s1 = dev.threshold(1.0)["step"]                              # above every int8 score (max 255/256)
        with pytest.raises(mon_mod.MonitorError, match="rejected by the detector"): dev.threshold(1.5)
        with pytest.raises(mon_mod.MonitorError, match="unknown key"): dev.set(hop_ms=480)
        read_until(dev, lambda m: m["tag"] == "STEP" and m["step"] >= s1 + 70, got)   # a whole loop (67 steps)
        s2 = dev.set(threshold=0.5, average_window=1, capture="events")["step"]
        read_until(dev, lambda m: m["tag"] == "STATS", got)
    assert "allocs_run=0" in dev.host_log, dev.host_log   # no heap in the app loop (protocol, detector, TFLM)
    steps = [m for m in got if m["tag"] == "STEP"]
    assert [m["step"] for m in steps] == list(range(len(steps))) and len(steps) == (len(audio) - 15872) // 3840 + 1
    assert all(m["t_ms"] == 240 * m["step"] for m in steps)
    scores = np.array([m["scores"] for m in steps], np.float32)
    events = [m["step"] for m in got if m["tag"] == "EVENT"]
    # Each segment is the Python detector on the device's own scores, its history starting at the change.
    low = dataclasses.replace(shipped, confidence_threshold=0.5, average_window=1)
    expect = []
    for a, b, cfg in [(0, s1, shipped), (s1, s2, dataclasses.replace(shipped, confidence_threshold=1.0)),
                      (s2, len(steps), low)]:
        expect += [a + int(i) for i in np.flatnonzero(postprocess(scores[a:b], cfg)["is_bark"].to_numpy())]
    assert events == expect
    assert not [e for e in events if s1 <= e < s2] and len([e for e in events if e >= s2]) >= 6, (s1, s2, events)
    # Captures: saved as WAV in class folders, each exactly the 1-s window of its event's step.
    saved = []
    for m in got:
        if m["tag"] == "CAPTURE":
            path = mon_mod.save_capture(m["capture"], tmp_path / "captures", session="devT")
            saved.append((m["capture"].meta, path))
    stats = [m for m in got if m["tag"] == "STATS"][-1]
    assert len(saved) == stats["captures"] >= 3 and stats["captures"] + stats["captures_dropped"] >= len(events) - 3
    for meta, path in saved:
        assert meta["kind"] == "event" and meta["step"] in events and path.parent.name == "dog_bark"
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (16000, 1, 16000)
            np.testing.assert_array_equal(np.frombuffer(w.readframes(16000), "<i2"),
                                          audio[meta["step"] * 3840:][:16000])
    print(f"\nMONITOR {len(steps)} steps, {len(events)} events, threshold raised at step {s1}, lowered at {s2}, "
          f"{len(saved)} captures saved ({stats['captures_dropped']} dropped), {time.time() - t0:.1f} s")


@pytest.mark.skipif(REASON is not None, reason=f"TFLite Micro sources not available: {REASON}")
def test_monitor_cli(tmp_path):
    "`barkbook monitor --port` (a subprocess) against the firmware on a pty: JSON lines, the change, WAV captures."
    import json, os
    exe = mon_mod.build_monitor_host()
    x = scene(tmp_path / "scene.wav", ["dog_bark", "ambient", "dog_bark", "speech", "dog_bark", "silence"])
    master, slave = os.openpty()
    host = subprocess.Popen([str(exe), "--wav", str(tmp_path / "scene.wav"), "--fd", str(master), "--baud", "921600",
                             "--speed", "8", "--loops", "0"], pass_fds=[master], stderr=subprocess.DEVNULL)
    os.close(master)
    try:
        cli = [str(Path(sys.executable).parent / "barkbook"), "monitor", "--port", os.ttyname(slave),
               "--baud", "921600", "--threshold", "0.5", "--set", "average_window=1", "--capture", "events", "--save",
               str(tmp_path / "caps"), "--label", "ambient", "--duration", "6", "--json"]
        r = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    finally:
        os.close(slave)                                   # the last holder of the slave: the program hangs up
        host.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    msgs = [json.loads(l) for l in r.stdout.splitlines()]
    ok = [m for m in msgs if m["tag"] == "OK" and m["cmd"] == "threshold"]
    cfg = [m for m in msgs if m["tag"] == "CFG"][-1]
    assert ok and cfg["confidence_threshold"] == 0.5 and cfg["average_window"] == 1 and cfg["capture"] == "events"
    assert any(m["tag"] == "EVENT" and m["step"] >= ok[0]["step"] for m in msgs)
    caps = [m for m in msgs if m["tag"] == "CAPTURE"]
    assert caps, [m["tag"] for m in msgs][-40:]
    for m in caps:
        p = Path(m["path"])
        assert p.parent == tmp_path / "caps" / "ambient" and m["capture"]["kind"] == "event"
        with wave.open(str(p)) as w: got = np.frombuffer(w.readframes(16000), "<i2")
        start = m["capture"]["step"] * 3840 % len(x)
        np.testing.assert_array_equal(got, np.tile(x, 2)[start:start + 16000])
