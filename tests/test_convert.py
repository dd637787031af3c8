"""03_convert_tflite: int8 conversion checked in LiteRT and TFLite Micro, generated firmware files (round trips
through g++), all-or-nothing writes, budgets and bad input. One tiny trained model is shared by the session."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from barkbook.core import sha1_file, default_firmware_dir
from barkbook.features import FeatureConfig
from barkbook import convert as cv
from barkbook.runtime import Int8Model, model_ops

CLASSES = ["dog_bark", "speech", "ambient", "silence"]
CXX = shutil.which("g++")


def _features(root: Path, kind_rng, n_per_class: dict, cfg: FeatureConfig):
    "Tiny shards in the contract's format: class c lights up mel bands [10c, 10c+10) (silence stays on the floor)."
    fdir = root / "features"; fdir.mkdir(parents=True)
    cfg.save(fdir / "feature_config.json")
    (fdir / "classes.json").write_text(json.dumps(CLASSES))
    for split, n in n_per_class.items():
        y = np.repeat(np.arange(len(CLASSES)), n).astype(np.int64)
        x = kind_rng.normal(-85, 6, (len(y), *cfg.shape)).astype(np.float32)
        for i, c in enumerate(y):
            if c < 3: x[i, :, 10 * c:10 * c + 10] += kind_rng.uniform(35, 60)
            else: x[i] = kind_rng.normal(-117, 2, cfg.shape)
        x = np.clip(x, cfg.clamp_min, cfg.clamp_max)
        t = np.arange(16000) / 16000
        wave = np.stack([(0.3 * (c < 3) * np.sin(2 * np.pi * 300 * (c + 1) * t) + kind_rng.normal(0, 0.01, 16000)) for c in y])
        np.save(fdir / f"{split}_x.npy", x); np.save(fdir / f"{split}_y.npy", y)
        np.save(fdir / f"{split}_wave.npy", np.round(wave * 32767).astype(np.int16))
        pd.DataFrame(dict(path=[f"clips/{CLASSES[c]}/{i}.wav" for i, c in enumerate(y)], label=[CLASSES[c] for c in y],
                          group=np.arange(len(y)), source="test")).to_csv(fdir / f"{split}_meta.csv", index=False)
    return fdir


def _train(root: Path, kind: str, cfg: FeatureConfig):
    import keras
    keras.utils.set_random_seed(0)
    if kind == "logmel":
        inp = keras.Input(cfg.shape)
        x = keras.layers.Rescaling(1 / 40, offset=2.0)(inp)            # dB → about [-1, 2]
        x = keras.layers.Reshape((*cfg.shape, 1))(x)
        x = keras.layers.Conv2D(8, 3, strides=2, use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.7)(x); x = keras.layers.ReLU()(x)
        x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(12, 1, activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        xtr = np.load(root / "features/train_x.npy")
    else:
        inp = keras.Input((16000,))
        x = keras.layers.Reshape((16000, 1, 1))(inp)
        x = keras.layers.Conv2D(6, (64, 1), strides=(16, 1), activation="relu")(x)
        x = keras.layers.MaxPooling2D((4, 1))(x)
        x = keras.layers.Conv2D(8, (9, 1), strides=(2, 1), activation="relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        xtr = np.load(root / "features/train_wave.npy").astype(np.float32) / 32768
    out = keras.layers.Dense(len(CLASSES), activation="softmax")(x)
    m = keras.Model(inp, out)
    m.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(xtr, np.load(root / "features/train_y.npy"), epochs=8, batch_size=32, verbose=0)
    (root / "model").mkdir()
    m.save(root / "model/model.keras")
    tc = dict(family="test_" + kind, width=1.0, input_kind=kind, classes=CLASSES, feature_config_hash=cfg.hash,
              status="done", bark_index=0)
    (root / "model/train_config.json").write_text(json.dumps(tc))


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    "A tiny run: feature shards + a small trained log-mel model."
    root = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = FeatureConfig()
    _features(root, np.random.default_rng(0), dict(train=40, val=5, test=15), cfg)
    _train(root, "logmel", cfg)
    return root


@pytest.fixture(scope="session")
def converted(run, tmp_path_factory):
    "The tiny run converted, firmware files written to a scratch firmware/ folder."
    fw = tmp_path_factory.mktemp("fw") / "firmware"
    report = cv.convert_run(run, fw, n_representative=60, seed_model_data_h=True, verbose=False)
    return run, fw, report


def _snapshot(*dirs):
    return {p: p.read_bytes() for d in dirs for p in sorted(Path(d).rglob("*")) if p.is_file()}


def _cxx(*args, cwd):
    r = subprocess.run([CXX, "-std=c++17", "-Wall", "-Wextra", "-Werror", *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def test_report_and_quantisation(converted):
    run, fw, rep = converted
    on_disk = json.loads((run / "tflite/conversion_report.json").read_text())
    assert on_disk["sha1"] == sha1_file(run / "tflite/model_int8.tflite") == rep["sha1"]
    assert (run / "tflite/model_float32.tflite").stat().st_size == on_disk["float32_bytes"] > 0
    cfg = FeatureConfig()
    assert (on_disk["input"]["scale"], on_disk["input"]["zero_point"]) == (cfg.input_scale, cfg.input_zero_point)
    assert on_disk["input"]["dtype"] == on_disk["output"]["dtype"] == "int8"
    assert on_disk["input"]["shape"] == [1, 49, 40] and on_disk["input"]["kind"] == "logmel"
    assert on_disk["classes"] == CLASSES and on_disk["bark_class_index"] == 0
    acc = on_disk["accuracy"]
    assert acc["float"] >= 90, acc                      # the tiny task is easy: a real check that training + conversion work
    assert abs(acc["drop_points"]) <= max(1.0, 100 / acc["n_test"]), acc
    assert set(acc["per_class"]) == set(CLASSES) and all(v["n"] == 15 for v in acc["per_class"].values())
    assert on_disk["runtimes"]["tflm_max_step_diff"] <= 1
    assert on_disk["representative"]["per_class"] == {c: 15 for c in CLASSES}
    a = on_disk["arena"]
    assert 0 < a["measured_bytes"] < a["bytes"] and a["bytes"] == cv.arena_with_margin(a["measured_bytes"])
    assert all(b["passed"] for b in on_disk["budgets"])
    assert [b["name"] for b in on_disk["budgets"]] == ["model size", "tensor arena", "accuracy drop", "ESP32 latency (ESP-NN, estimate)"]
    lat = on_disk["latency_estimate"]
    assert 0 < lat["esp32_240mhz_esp_nn_ms"] < lat["esp32_240mhz_reference_ms"] and "ESTIMATE" in lat["note"]
    assert on_disk["macs"] == sum(l["macs"] for l in on_disk["layers"]) > 0


def test_arena_is_the_smallest_that_works(converted):
    run, _, rep = converted
    m = rep["arena"]["measured_bytes"]
    path = run / "tflite/model_int8.tflite"
    assert cv.arena_fits(path, m) and not cv.arena_fits(path, m - 16)


def test_tflm_and_litert_agree_on_every_test_clip(converted):
    run, _, rep = converted
    x, y = cv.load_split(run / "features", "test")
    lite, micro = Int8Model(run / "tflite/model_int8.tflite"), Int8Model(run / "tflite/model_int8.tflite", "tflm")
    assert micro.arena_size == rep["arena"]["bytes"]           # the TFLM backend reads the report's arena
    q = lite.quantize_input(x)
    a, b = lite.predict_int8(q), micro.predict_int8(q)
    assert a.shape == (len(y), 4) and np.abs(a.astype(int) - b).max() <= 1
    assert (lite.predict(x).argmax(1) == y).mean() * 100 == pytest.approx(rep["accuracy"]["converted"])


def test_model_cc_round_trip(converted, tmp_path):
    "g++ compiles the generated model.cc/model.h; the array holds exactly the .tflite bytes; constants match the report."
    run, fw, rep = converted
    nn = fw / "lib/neural_network"
    for f in ("model.h", "model.cc", "model_ops.h", "model_data.h"):
        first = (nn / f).read_text().splitlines()[0]
        assert first.startswith("// Generated by nbs/03_convert_tflite.ipynb") and "'tiny'" in first and rep["sha1"] in first
    (tmp_path / "dump.cc").write_text(
        '#include <stdio.h>\n#include "model.h"\n'
        'int main(int, char** argv) { FILE* f = fopen(argv[1], "wb"); fwrite(g_model, 1, g_model_len, f); fclose(f);\n'
        '  printf("%d %d %d %d %g %d %g %d %d %s %s %lu\\n", kTensorArenaSize, kNumClasses, kInputFrames, kInputMels, kInputScale,\n'
        '         kInputZeroPoint, kOutputScale, kOutputZeroPoint, kBarkClassIndex, kClassLabels[kBarkClassIndex], BARKBOOK_MODEL_SHA1,\n'
        '         (unsigned long)((unsigned long)g_model % 16)); }\n')
    _cxx(f"-I{nn}", "-o", "dump", "dump.cc", str(nn / "model.cc"), cwd=tmp_path)
    out = subprocess.run(["./dump", "back.tflite"], cwd=tmp_path, capture_output=True, text=True).stdout.split()
    assert (tmp_path / "back.tflite").read_bytes() == (run / "tflite/model_int8.tflite").read_bytes()
    o = rep["output"]
    assert out == [str(rep["arena"]["bytes"]), "4", "49", "40", "0.5", "112", f"{o['scale']:g}", str(o["zero_point"]), "0",
                   "dog_bark", rep["sha1"], "0"]


def test_seed_style_model_data_h(converted, tmp_path):
    run, fw, _ = converted
    (tmp_path / "seed.cc").write_text(
        '#include <stdio.h>\n#include "model_data.h"\n#ifndef BARK_DETECTOR_MODEL_DATA_AVAILABLE\n#error missing\n#endif\n'
        'int main(int, char** argv) { FILE* f = fopen(argv[1], "wb"); fwrite(g_model_data, 1, g_model_data_len, f); fclose(f); }\n')
    _cxx(f"-I{fw / 'lib/neural_network'}", "-o", "seed", "seed.cc", cwd=tmp_path)
    subprocess.run(["./seed", "back.tflite"], cwd=tmp_path, check=True)
    assert (tmp_path / "back.tflite").read_bytes() == (run / "tflite/model_int8.tflite").read_bytes()


def test_op_resolver_lists_exactly_the_model_ops(converted):
    run, fw, rep = converted
    text = (fw / "lib/neural_network/model_ops.h").read_text()
    ops = model_ops(run / "tflite/model_int8.tflite")
    assert cv.parse_registered_ops(text) == [cv.resolver_method(o) for o in ops] == rep["resolver"]
    assert f"static constexpr int kModelOpCount = {len(ops)};" in text
    assert "tflite::MicroMutableOpResolver<kModelOpCount>" in text and '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"' in text
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(ops)


def test_frontend_header_compiles_and_matches_model_h(converted, tmp_path):
    "The generated front-end constants compile next to model.h and quantise with the model's input parameters."
    _, fw, _ = converted
    (tmp_path / "fe.cc").write_text(
        '#include "frontend_config.h"\n#include "model.h"\n'
        'static_assert(fe::kInputScale == kInputScale, "scale"); static_assert(fe::kInputZeroPoint == kInputZeroPoint, "zero point");\n'
        'static_assert(fe::kNumFrames == kInputFrames && fe::kNumMels == kInputMels, "shape");\n'
        'int main() { return fe::kSampleRate == 16000 ? 0 : 1; }\n')
    _cxx(f"-I{fw / 'lib/audio_processor'}", f"-I{fw / 'lib/neural_network'}", "-o", "fe", "fe.cc", cwd=tmp_path)
    assert subprocess.run(["./fe"], cwd=tmp_path).returncode == 0


def test_failure_midway_leaves_previous_files(converted, monkeypatch):
    "A failure after everything is rendered and staged, or in the front-end generation, changes no file."
    run, fw, _ = converted
    before = _snapshot(run / "tflite", fw)
    real = cv.write_all
    def boom(): raise OSError("simulated crash after staging every file")
    monkeypatch.setattr(cv, "write_all", lambda files, before_commit=None: real(files, before_commit=boom))
    with pytest.raises(OSError, match="simulated crash"):
        cv.convert_run(run, fw, n_representative=20, also_float32=False, seed=1, verbose=False)
    monkeypatch.setattr(cv, "write_all", real)
    def fe_fails(cfg, fw): raise RuntimeError("front-end generation failed")
    monkeypatch.setattr(cv, "_frontend_header", fe_fails)
    with pytest.raises(RuntimeError, match="front-end"):
        cv.convert_run(run, fw, n_representative=20, also_float32=False, seed=1, verbose=False)
    assert _snapshot(run / "tflite", fw) == before
    assert not [p for p in list((run / "tflite").rglob("*")) + list(fw.rglob("*")) if p.name.endswith(".tmp")]


def test_over_budget_stops_with_the_figure(converted):
    run, fw, rep = converted
    before = _snapshot(run / "tflite", fw)
    with pytest.raises(cv.BudgetError, match=r"tensor arena .* KB is over the budget of 1 KB: shrink the activations"):
        cv.convert_run(run, fw, max_arena_kb=1, n_representative=20, also_float32=False, verbose=False)
    with pytest.raises(cv.BudgetError, match=r"model size .* KB is over the budget of 0.5 KB: .*width"):
        cv.convert_run(run, fw, max_model_kb=0.5, n_representative=20, also_float32=False, verbose=False)
    with pytest.raises(cv.BudgetError, match=r"ESP32 latency \(ESP-NN, estimate\) .* ms is over the budget of 0.01 ms: fewer MACs"):
        cv.convert_run(run, fw, max_latency_ms=0.01, n_representative=20, also_float32=False, verbose=False)
    assert _snapshot(run / "tflite", fw) == before


def test_default_firmware_dir_is_inside_the_run(converted):
    "firmware_dir=None writes run_dir/firmware and never the repository's shipped model.cc; float32 and dynamic write none."
    run, _, _ = converted
    shipped = default_firmware_dir() / "lib/neural_network/model.cc"
    before = shipped.read_bytes() if shipped.exists() else None
    rep = cv.convert_run(run, None, quantization="float32", also_float32=False, n_representative=20, verbose=False)
    assert rep["firmware_dir"] is None and not (run / "firmware").exists()     # float32: no firmware files
    assert Int8Model(run / "tflite/model_float32.tflite", "tflm").predict(np.full((1, 49, 40), -60.0)).shape == (1, 4)
    rep = cv.convert_run(run, None, quantization="dynamic", also_float32=False, n_representative=20, verbose=False)
    assert rep["runtimes"] == {"checked_in_tflm": False} and rep["arena"]["bytes"] is None and rep["firmware_dir"] is None
    assert rep["accuracy"]["converted"] >= 90 and (run / "tflite/model_dynamic.tflite").exists() and not (run / "firmware").exists()
    rep = cv.convert_run(run, None, also_float32=False, n_representative=20, verbose=False)
    assert Path(rep["firmware_dir"]) == run / "firmware"
    assert not (run / "firmware/lib/neural_network/model_data.h").exists()      # only on request
    assert (run / "firmware/lib/neural_network/model.cc").exists() and (run / "firmware/lib/audio_processor/frontend_config.h").exists()
    assert (shipped.read_bytes() if shipped.exists() else None) == before


def test_waveform_model(tmp_path):
    "A raw-waveform model converts too: int8 input on its own scale, kInputSamples in model.h, no front-end header."
    root = tmp_path / "wave"
    cfg = FeatureConfig()
    _features(root, np.random.default_rng(1), dict(train=16, val=2, test=6), cfg)
    _train(root, "wave", cfg)
    rep = cv.convert_run(root, None, n_representative=16, also_float32=False, max_acc_drop=None, verbose=False)
    assert rep["input"]["kind"] == "wave" and rep["input"]["shape"] == [1, 16000]
    assert rep["input"]["scale"] == pytest.approx(2 / 256, rel=0.01)
    assert rep["runtimes"]["tflm_max_step_diff"] <= 1
    h = (root / "firmware/lib/neural_network/model.h").read_text()
    assert "kInputSamples = 16000;" in h and "kInputFrames" not in h
    assert not (root / "firmware/lib/audio_processor").exists()
    m = Int8Model(root / "tflite/model_int8.tflite")
    assert m.input_kind == "wave"


def test_bad_inputs(run, tmp_path):
    with pytest.raises(cv.ConvertError, match="model.keras: trained model not found"):
        cv.convert_run(tmp_path / "empty", verbose=False)
    bad = tmp_path / "bad"; shutil.copytree(run, bad)
    tc = json.loads((bad / "model/train_config.json").read_text())
    (bad / "model/train_config.json").write_text(json.dumps({**tc, "feature_config_hash": "0123456789ab"}))
    with pytest.raises(cv.ConvertError, match="trained on features 0123456789ab"):
        cv.load_trained(bad)
    (bad / "model/train_config.json").write_text(json.dumps({**tc, "status": "training"}))
    with pytest.raises(cv.ConvertError, match="not 'done'"):
        cv.load_trained(bad)
    (bad / "model/train_config.json").write_text("{not json")
    with pytest.raises(cv.ConvertError, match="train_config.json: not valid JSON"):
        cv.load_trained(bad)
    (bad / "features/test_y.npy").unlink()
    with pytest.raises(cv.ConvertError, match="test_y.npy: feature shard not found"):
        cv.load_split(bad / "features", "test")
    with pytest.raises(cv.ConvertError, match="unknown quantization"):
        cv.convert_run(run, quantization="int4", verbose=False)


def test_runtime_does_not_import_tensorflow():
    code = "import sys, barkbook.runtime; print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
