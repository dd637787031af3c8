"""The whole device path on real TensorFlow Lite Micro, against the Python path.

The host app (barkbook.firmware.build_host_app) is the firmware's own C++ — AudioProcessor, NeuralNetwork on
esp-tflite-micro, BarkDetector through its public `initialize(config)` — fed 16 kHz WAV files. The Python path is
barkbook.inference.Classifier with the TFLM backend and barkbook.detector.postprocess. Both run the shipped model
(recovered from firmware/lib/neural_network/model.cc) on the tiny run's test clips, on all its clips back to back and
on a three-minute stream scene built from them — and, when runs/default exists here, on up to 300 of its test clips
back to back (the default run's data is not in the repository; the tiny run's clips come from the same generator). Skipped, with the reason, when the TFLM sources are absent (see firmware/README.md)."""
import wave
from pathlib import Path
import numpy as np
import pytest

from barkbook import firmware as fwm
from barkbook.detector import postprocess
from barkbook.features import logmel

REASON = fwm.missing_tree("tflm", "esp_nn")
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"TFLite Micro sources not available: {REASON}")
FW = fwm.default_firmware_dir() if REASON is None else None


def report(line):
    print(f"\nPARITY {line}")


def to16(x):
    return np.clip(np.round(np.asarray(x, np.float64) * 32768), -32768, 32767).astype(np.int16)


def write_wav(path, x16):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(np.asarray(x16, "<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def shipped():
    return fwm.read_firmware(FW)


@pytest.fixture(scope="module")
def build_dir():
    "Project objects are cached by content (like TFLM's), so a warm run links and goes."
    return fwm.cache_dir() / "host-app"


@pytest.fixture(scope="module")
def app(build_dir):
    return fwm.build_host_app(build_dir, "reference")


@pytest.fixture(scope="module")
def app_esp_nn(build_dir):
    return fwm.build_host_app(build_dir, "esp_nn")


@pytest.fixture(scope="module")
def classifier(shipped, tmp_path_factory):
    "The Python path: Classifier on the shipped model with TFLite Micro's kernels, on the device's grid."
    from barkbook.runtime import Int8Model
    from barkbook.inference import Classifier
    path = tmp_path_factory.mktemp("model") / "model_int8.tflite"
    path.write_bytes(shipped["model"])
    model = Int8Model(path, backend="tflm", arena_size=shipped["arena_bytes"])
    return Classifier(model, shipped["cfg"], shipped["classes"], shipped["det_cfg"].grid(shipped["cfg"]))


@pytest.fixture(scope="module")
def signals(shipped, tmp_path_factory):
    "WAV files: the tiny run's test clips (one file each) and a one-minute stream scene built from them."
    from barkbook.run import Run
    from barkbook.train import tiny_run
    from barkbook.audio import read_audio
    from barkbook.scenes import build_scene
    run = Run(tiny_run())
    m = run.read_manifest()
    test = m[m.split == "test"]
    d = tmp_path_factory.mktemp("wav")
    clips = [to16(read_audio(run.clip_path(p), target_sr=16000)) for p in test.path]
    out = {f"clip{i:03d}_{lab}": write_wav(d / f"clip{i:03d}.wav", c) for i, (c, lab) in enumerate(zip(clips, test.label))}
    every = [to16(read_audio(run.clip_path(p), target_sr=16000)) for p in m.path]   # all 3 splits, back to back
    out["all_clips"] = write_wav(d / "all_clips.wav", np.concatenate(every))
    waves = np.stack([c[:16000] for c in every if len(c) >= 16000]).astype(np.float32) / 32768
    labels = [lab for c, lab in zip(every, m.label) if len(c) >= 16000]
    scene = build_scene(waves, labels, minutes=3.0, seed=3, name="scene")
    out["scene"] = write_wav(d / "scene.wav", to16(scene.audio))
    default = Run.named("default")              # the shipped model's own run, when this machine has it
    if default.manifest_path.exists():
        dm = default.read_manifest()
        paths = list(dm[dm.split == "test"].path)[:300]
        out["default_test_clips"] = write_wav(d / "default_test.wav", np.concatenate(
            [to16(read_audio(default.clip_path(p), target_sr=16000)) for p in paths]))
    return out


def python_path(clf, det_cfg, wav):
    "Int8 windows, raw int8 outputs and per-step post-processing of the Python path, on the device's steps."
    from barkbook.audio import read_audio
    x = read_audio(wav, target_sr=16000)
    n = clf.grid.n_steps(len(x))                      # complete windows only, as the device runs them
    m, _ = clf.model_inputs(x)
    q = clf.model.quantize_input(m[:n])
    out = clf.model.predict_int8(q) if n else np.zeros((0, len(clf.classes)), np.int8)
    post = postprocess(clf.model.dequantize_output(out), det_cfg) if n else None
    return q, out, post


@pytest.fixture(scope="module")
def both_paths(app, classifier, shipped, signals):
    "C++ (BarkDetector::initialize(config) on TFLM) and Python results for every signal."
    det_cfg = shipped["det_cfg"]
    res = {}
    for name, wav in signals.items():
        steps, win, info = fwm.detect_wav_cpp(wav, det_cfg, app, seed=len(name))
        q, out, post = python_path(classifier, det_cfg, wav)
        res[name] = dict(steps=steps, win=win, info=info, q=q, out=out, post=post)
    return res


def test_int8_inputs(both_paths):
    """The int8 windows the C++ front-end hands the model equal the Python path's, except for values whose log-mel
    lies on a rounding boundary (the FFTs differ in the last float bits): at most 1 step, at most 1 in 10,000."""
    total = diff = worst = steps = 0
    for name, r in both_paths.items():
        assert len(r["win"]) == len(r["q"]), f"{name}: C++ ran {len(r['win'])} steps, Python {len(r['q'])}"
        d = np.abs(r["win"].astype(int) - r["q"].astype(int))
        total += d.size; diff += int((d > 0).sum()); worst = max(worst, int(d.max(initial=0))); steps += len(d)
        assert r["info"]["allocs_init"] == 0 and r["info"]["allocs_run"] == 0, r["info"]
    report(f"int8 inputs: {len(both_paths)} signals, {steps} windows, {diff} of {total:,} int8 values differ "
           f"(largest difference {worst} step)")
    assert steps > 200 and worst <= 1 and diff <= total // 10000


def test_model_outputs_bit_identical(app, classifier, both_paths):
    "For identical int8 inputs, the C++ NeuralNetwork (esp-tflite-micro) and Python's TFLM give identical int8 outputs."
    win = np.concatenate([r["win"] for r in both_paths.values()])
    q = np.concatenate([r["q"] for r in both_paths.values()])
    cpp_on_cpp, info = fwm.model_outputs_cpp(win, app)
    np.testing.assert_array_equal(cpp_on_cpp, classifier.model.predict_int8(win))
    cpp_on_py, _ = fwm.model_outputs_cpp(q, app)
    np.testing.assert_array_equal(cpp_on_py, np.concatenate([r["out"] for r in both_paths.values()]))
    report(f"model outputs: {len(win)} C++ windows and {len(q)} Python windows, C++ TFLM == Python TFLM bit for bit "
           f"({info['us_per_inference']:.0f} us per inference on the host)")


def test_detections_identical(both_paths):
    "BarkDetector::initialize(config) on TFLM gives the Python path's decisions at every step, on clips and on the scene."
    dets = 0
    for name, r in both_paths.items():
        if r["post"] is None: continue
        np.testing.assert_array_equal(r["steps"]["is_bark"].astype(bool), r["post"].is_bark.values, err_msg=name)
        np.testing.assert_array_equal(r["steps"]["detected_class"], r["post"].detected_class.values, err_msg=name)
        same = (r["win"] == r["q"]).all(axis=(1, 2))      # where inputs agree, the scores agree bit for bit
        np.testing.assert_array_equal(r["steps"]["bark_score"][same & np.r_[True, same[1:]]],
                                      r["post"].bark_score.values[same & np.r_[True, same[1:]]].astype(np.float32), err_msg=name)
        dets += int(r["post"].is_bark.sum())
    scene = both_paths["scene"]
    report(f"detections: identical on {sum(n.startswith('clip') for n in both_paths)} test clips, all clips back to back"
           f"{', the default run test clips' if 'default_test_clips' in both_paths else ''} and a {len(scene['steps'])}-step scene "
           f"({dets} detections, {int(scene['post'].is_bark.sum())} in the scene)")
    assert int(scene["post"].is_bark.sum()) > 0


def test_esp_nn_kernels_match_reference(app, app_esp_nn, both_paths):
    "ESP-NN's C kernels (what the ESP32 runs) give the reference kernels' int8 outputs on the same windows."
    win = np.concatenate([r["win"] for r in both_paths.values()])
    ref, _ = fwm.model_outputs_cpp(win, app)
    nn, info = fwm.model_outputs_cpp(win, app_esp_nn)
    d = np.abs(ref.astype(int) - nn.astype(int))
    report(f"ESP-NN vs reference kernels: {len(win)} windows, {int((d > 0).sum())} of {d.size} outputs differ "
           f"(largest {int(d.max())} step); arena used {info['arena_used_bytes']:.0f} B with ESP-NN")
    np.testing.assert_array_equal(nn, ref)


def test_arena_32_and_64_bit(shipped, m32_links):
    "The firmware's arena need, measured by NeuralNetwork::initialize on 64-bit and 32-bit hosts, fits the shipped size."
    a64 = fwm.arena_used_bytes(shipped["model"], shipped["cfg"], shipped["classes"], bits=64)
    if not m32_links: pytest.skip("g++ -m32 cannot link here (apt-get install g++-multilib)")
    a32 = fwm.arena_used_bytes(shipped["model"], shipped["cfg"], shipped["classes"], bits=32)
    report(f"arena: {a64} B on x86-64, {a32} B with 32-bit pointers; shipped kTensorArenaSize {shipped['arena_bytes']} B "
           f"({100 * (shipped['arena_bytes'] / max(a32, a64) - 1):.0f} % over the larger)")
    assert a32 < a64 <= shipped["arena_bytes"]


def test_bad_wav_is_named(app, tmp_path):
    "A WAV the device path cannot take fails with the file named."
    bad = tmp_path / "stereo.wav"
    with wave.open(str(bad), "wb") as w:
        w.setnchannels(2); w.setsampwidth(2); w.setframerate(16000); w.writeframes(b"\0" * 400)
    with pytest.raises(fwm.FirmwareError, match="stereo.wav: need 16 kHz mono 16-bit PCM"):
        fwm.detect_wav_cpp(bad, fwm.read_firmware(FW)["det_cfg"], app)
    (tmp_path / "junk.wav").write_bytes(b"hello")
    with pytest.raises(fwm.FirmwareError, match="junk.wav: not a RIFF/WAVE file"):
        fwm.detect_wav_cpp(tmp_path / "junk.wav", fwm.read_firmware(FW)["det_cfg"], app)
