"""`barkbook export arduino`: the zip's layout and library.properties, all of its src/ compiled with g++ against
esp-tflite-micro, and the BarkDetector example's setup()/loop() run on the host — through a stand-in for the Arduino
core (tests/arduino_host: Arduino.h and a main() feeding a WAV file instead of I2S) — printing the detections
barkbook.detector finds on the same audio. The run is runs/default (read-only) when
this machine has it, else the cached tiny run. Skipped, with the reason, when the TFLM sources are absent."""
import re, shutil, subprocess, wave, zipfile
from pathlib import Path
import numpy as np
import pytest

from barkbook import arduino
from barkbook import firmware as fwm
from barkbook.run import Run

HOST = Path(__file__).resolve().parent / "arduino_host"
REASON = fwm.missing_tree("tflm")
needs_tflm = pytest.mark.skipif(REASON is not None, reason=f"TFLite Micro sources not available: {REASON}")
LAYOUT = {"library.properties", "README.md", "examples/BarkDetector/BarkDetector.ino",
          "examples/BarkDetector/microphone.h", "examples/BarkDetector/microphone.cpp"} | {
    f"src/{n}" for n in ("barkbook.h", "model_settings.h", "model.cpp", "audio_input.h", "audio_processor.h",
                         "audio_processor.cpp", "score_model.h", "bark_postprocess.h", "bark_postprocess.cpp",
                         "bark_detector.h", "bark_detector.cpp", "bark_detector_tflm.cpp", "neural_network.h",
                         "neural_network.cpp")}


@pytest.fixture(scope="module")
def run():
    default = Run.named("default")
    if default.tflite_path("int8").exists() and default.manifest_path.exists():
        return default
    from barkbook.convert import tiny_converted
    return tiny_converted()


@pytest.fixture(scope="module")
def lib(run, tmp_path_factory):
    d = tmp_path_factory.mktemp("arduino")
    z = arduino.export_arduino(run, d / "lib.zip")
    with zipfile.ZipFile(z) as f:
        names = f.namelist()
        f.extractall(d / "unzipped")
    return d / "unzipped" / "barkbook", names


@pytest.fixture(scope="module")
def bark_wav(run, tmp_path_factory):
    "About 24 s of the run's test clips, barks between ambient and speech clips, as one 16 kHz WAV."
    import pandas as pd
    from barkbook.audio import read_audio
    from barkbook.run import RunError
    try: m = run.read_manifest()
    except RunError: m = pd.read_csv(run.manifest_path)           # written before a newer column: path, label, split do
    t = m[m.split == "test"]
    barks, others = list(t[t.label == "dog_bark"].path[:12]), list(t[t.label != "dog_bark"].path[:12])
    order = [p for pair in zip(others, barks) for p in pair]
    x = np.concatenate([read_audio(run.clip_path(p), target_sr=16000) for p in order])
    x = np.tile(x, -(-24 * 16000 // len(x)))                      # >= 24 s also from a small (tiny) run
    path = tmp_path_factory.mktemp("wav") / "barks.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
        w.writeframes(np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes())
    return path


def test_layout_and_properties(lib, run):
    root, names = lib
    assert {n.split("/", 1)[1] for n in names} == LAYOUT and all(n.startswith("barkbook/") for n in names)
    props = arduino.read_library_properties((root / "library.properties").read_text())
    assert props["name"] == "barkbook" and props["architectures"] == "esp32" and props["includes"] == "barkbook.h"
    assert props["depends"] == "TensorFlowLite_ESP32"
    assert props["category"] in ("Signal Input/Output", "Data Processing")
    assert re.fullmatch(r"\d+\.\d+\.\d+", props["version"]) and run.name in props["paragraph"]
    model = fwm.read_model_cc(root / "src" / "model.cpp")
    assert model == run.read_tflite("int8")                      # the run's int8 model, byte for byte
    for p in (root / "src").iterdir():                           # Arduino's flat src/: every project include resolves
        for inc in re.findall(r'#include "([^"]+)"', p.read_text()):
            assert inc.startswith("tensorflow/") or (root / "src" / inc).exists(), f"{p.name}: {inc}"


@needs_tflm
def test_tflm_dependency_only_without_core_tflm(lib, tmp_path):
    """barkbook.h pulls in TensorFlowLite_ESP32 (depends=) only where no TFLM is on the include path (the
    arduino-esp32 core >= 3.0 ships esp-tflite-micro): without TFLM the IDE is asked for the library's header."""
    root, _ = lib
    (tmp_path / "t.cpp").write_text('#include "barkbook.h"\n')
    base = ["g++", "-std=c++17", "-fsyntax-only", f"-I{root / 'src'}", str(tmp_path / "t.cpp")]
    r = subprocess.run(base, capture_output=True, text=True)
    assert r.returncode != 0 and "TensorFlowLite_ESP32.h: No such file" in r.stderr, r.stderr[-500:]
    r = subprocess.run([*base, *(f"-isystem{d}" for d in fwm._tflm_includes())], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


def _python_detections(run, wav):
    "Steps and detections of the Python path (Classifier on TFLM + barkbook.detector) on the device's steps."
    from barkbook.audio import read_audio
    from barkbook.detector import DetectorConfig, postprocess
    from barkbook.inference import Classifier
    from barkbook.runtime import Int8Model
    det_cfg = run.read_detector_config() if run.detector_config_path.exists() else DetectorConfig()   # as exported
    cfg = run.read_feature_config()
    model = Int8Model(run.tflite_path("int8"), backend="tflm", arena_size=run.read_conversion_report().arena["bytes"])
    clf = Classifier(model, cfg, run.read_classes(), det_cfg.grid(cfg))
    x = read_audio(wav, target_sr=16000)
    n = clf.grid.n_steps(len(x))
    m, _ = clf.model_inputs(x)
    scores = model.dequantize_output(model.predict_int8(model.quantize_input(m[:n])))
    return postprocess(scores, det_cfg)


@needs_tflm
def test_example_runs_on_the_host(lib, run, bark_wav, tmp_path):
    """All of src/ compiled with the strict host flags against esp-tflite-micro, the example sketch compiled as the
    Arduino builder does (Arduino.h first), linked with TFLM and run on a WAV: it prints barkbook.detector's
    detections."""
    root, _ = lib
    src, example = root / "src", root / "examples" / "BarkDetector"
    model = run.read_tflite("int8")
    tobjs = fwm.tflm_objects(fwm.model_facts(model)["ops"], "reference", "host64")
    flags = [*fwm.HOST_FLAGS, "-O2", "-DNDEBUG", "-DTF_LITE_STATIC_MEMORY",
             *(f"-isystem{d}" for d in fwm._tflm_includes())]     # TFLM as system headers, as for the firmware
    lib_objs = fwm.compile_objects(sorted(src.glob("*.cpp")), flags, [src, HOST])
    sketch = tmp_path / "BarkDetector.ino.cpp"                    # what the Arduino builder compiles
    sketch.write_text('#include <Arduino.h>\n#include "BarkDetector.ino"\n')
    app_objs = fwm.compile_objects([sketch, HOST / "host_main.cpp"], flags, [example, src, HOST])
    exe = tmp_path / "arduino_host"
    subprocess.run(["g++", *map(str, lib_objs + app_objs + tobjs), "-lm", "-o", str(exe)], check=True)
    out = subprocess.run([str(exe), str(bark_wav)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "ready: threshold" in text and "host: end of input" in text, text[:2000]
    steps = [(float(t), float(b)) for t, b in re.findall(r"^t=\s*([\d.]+)s class=\S+\s+conf=[\d.]+ bark=([\d.]+)$",
                                                          text, re.M)]
    printed = [(float(t), float(c)) for t, c in re.findall(r"^BARK DETECTED t=([\d.]+)s confidence ([\d.]+)$", text, re.M)]
    post = _python_detections(run, bark_wav)
    assert len(steps) == len(post) > 50
    close = np.abs(np.array([b for _, b in steps]) - post.bark_score.values) <= 0.005 + 1 / 256
    assert close.mean() >= 0.99, f"{(~close).sum()} of {len(close)} steps differ"
    expected = [(round(t, 2), c) for t, c in zip(post.time_s[post.is_bark], post.confidence[post.is_bark])]
    assert [t for t, _ in printed] == [t for t, _ in expected], (printed, expected)
    assert all(abs(c - e) <= 0.0051 for (_, c), (_, e) in zip(printed, expected))
    if run.name == "default":
        assert len(printed) >= 1, "the default run's model finds no bark in 12 bark clips"
    print(f"\nARDUINO {run.name}: {len(steps)} steps, detections at {[t for t, _ in printed]} s (Python: same)")


@pytest.mark.skipif(fwm.missing_tree("idf") is not None or fwm.xtensa_toolchain() is None
                    or not Path("/usr/include/newlib/sys/reent.h").exists(),
                    reason="ESP-IDF headers, the Xtensa compiler or newlib headers are missing")
def test_example_microphone_against_esp_idf(lib):
    "The example's I2S microphone code compile-checked against the ESP-IDF 5.3.1 headers (as the board layer is)."
    root, _ = lib
    idf = fwm.source_tree("idf") / "components"
    sysinc = fwm._xtensa_c_headers() + [a for d in [fwm.default_firmware_dir() / "host_test" / "idf",
                                                    *(idf / i for i in fwm.IDF_INCLUDES)] for a in ("-isystem", str(d))]
    cmd = ["xtensa-lx106-elf-g++", "-std=gnu++2b", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", *fwm.IDF_DEFINES,
           f"-I{root / 'src'}", *map(str, sysinc), str(root / "examples" / "BarkDetector" / "microphone.cpp")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def test_cli_export_arduino(run, tmp_path, capsys):
    "`barkbook export arduino --run RUN --out FILE` writes the zip; a run without a model is refused with exit 2."
    from barkbook.cli import main
    out = tmp_path / "lib.zip"
    assert main(["export", "arduino", "--run", str(run.root), "--out", str(out)]) == 0
    assert "Add .ZIP Library" in capsys.readouterr().out
    with zipfile.ZipFile(out) as z:
        assert "barkbook/library.properties" in z.namelist()
    assert main(["export", "arduino", "--run", str(tmp_path / "no_run"), "--out", str(tmp_path / "x.zip")]) == 2
    assert "model_int8.tflite: not found" in capsys.readouterr().err and not (tmp_path / "x.zip").exists()
    with pytest.raises(SystemExit):
        main(["export", "arduino"])                               # --run is required
