"""03_convert_tflite end to end on a copy of the tiny trained run: generated firmware files through g++, the
accuracy rule and the TFLM reference check with injected failures (issue 16 F4, F13), all-or-nothing writes,
budgets wired into `convert_run`, a raw-waveform model and bad runs. Stage-level checks live in
nbs/23_convert.ipynb."""
import dataclasses, json, os, shutil, subprocess
from pathlib import Path
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from barkbook import convert as cv
from barkbook import firmware as fwm
from barkbook.core import default_firmware_dir, sha1_file
from barkbook.params import smoke_params
from barkbook.run import Run, RunError
from barkbook.runtime import Int8Model
from barkbook.train import tiny_run

ROOT = Path(__file__).resolve().parents[1]
CXX = shutil.which("g++")
P = smoke_params("03_convert_tflite")


def _copy_tiny(dest: Path) -> Run:
    "A private copy of the cached tiny trained run (the shared one stays untouched)."
    shutil.copytree(tiny_run(), dest, ignore=shutil.ignore_patterns("tflite", "firmware"))
    return Run(dest)


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    return _copy_tiny(tmp_path_factory.mktemp("runs") / "tiny")


@pytest.fixture(scope="session")
def converted(run, tmp_path_factory):
    "The tiny run converted, firmware files (with model_data.h) written to a scratch firmware/ folder."
    fw = tmp_path_factory.mktemp("fw") / "firmware"
    report = cv.convert_run(run, dataclasses.replace(P, firmware_dir=str(fw), model_data_h=True), log=None)
    return run, fw, report


def _snapshot(*dirs):
    return {p: p.read_bytes() for d in dirs for p in sorted(Path(d).rglob("*")) if p.is_file()}


def _cxx(*args, cwd):
    r = subprocess.run([CXX, "-std=c++17", "-Wall", "-Wextra", "-Werror", *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def test_report_and_files_on_disk(converted):
    run, fw, rep = converted
    assert run.read_conversion_report() == rep
    assert rep.sha1 == sha1_file(run.tflite_path("int8"))
    assert run.tflite_path("float32").stat().st_size == rep.float32_bytes > 0
    assert [b["name"] for b in rep.budgets] == ["model size", "tensor arena", "accuracy drop",
                                                "ESP32 latency (ESP-NN, estimate)"]
    assert rep.runtimes["checked_in_tflm"] and rep.runtimes["litert_vs_tflm"]["reference"] == "tflm"
    assert sorted(Path(p).name for p in rep.written) == sorted(
        ["model_int8.tflite", "model_float32.tflite", "conversion_report.json", "model.cc", "model_settings.h",
         "model_data.h"])
    assert all(Path(p).exists() for p in rep.written)
    got = fwm.read_firmware(fw)           # the firmware generator's own reader
    assert got["model"] == run.read_tflite("int8") and got["arena_bytes"] == rep.arena["bytes"]
    assert got["classes"] == rep.classes and got["cfg"] == run.read_feature_config()


@pytest.mark.skipif(CXX is None, reason="needs g++")
def test_generated_firmware_compiles_and_holds_the_model(converted, tmp_path):
    "g++ compiles model.cc with model_settings.h; the array is exactly the .tflite; constants match the report."
    run, fw, rep = converted
    nn = fw / "lib/neural_network"
    (tmp_path / "dump.cc").write_text(
        '#include <stdio.h>\n#include "model_settings.h"\n'
        'int main(int, char** argv) { FILE* f = fopen(argv[1], "wb");\n'
        '  fwrite(model::g_model, 1, model::g_model_len, f); fclose(f);\n'
        '  printf("%d %d %d %g %d %lu\\n", model::kTensorArenaSize, model::kInputFrames, model::kInputMels,\n'
        '         model::kInputScale, model::kInputZeroPoint, (unsigned long)((unsigned long)model::g_model % 16)); }\n')
    _cxx(f"-I{nn}", "-o", "dump", "dump.cc", str(nn / "model.cc"), cwd=tmp_path)
    out = subprocess.run(["./dump", "back.tflite"], cwd=tmp_path, capture_output=True, text=True).stdout.split()
    assert (tmp_path / "back.tflite").read_bytes() == run.read_tflite("int8")
    assert out == [str(rep.arena["bytes"]), "49", "40", "0.5", "112", "0"]


@pytest.mark.skipif(CXX is None, reason="needs g++")
def test_model_data_h(converted, tmp_path):
    run, fw, _ = converted
    (tmp_path / "one.cc").write_text(
        '#include <stdio.h>\n#include "model_data.h"\n#ifndef BARK_DETECTOR_MODEL_DATA_AVAILABLE\n#error missing\n#endif\n'
        'int main(int, char** argv) { FILE* f = fopen(argv[1], "wb"); fwrite(g_model_data, 1, g_model_data_len, f);'
        ' fclose(f); }\n')
    _cxx(f"-I{fw / 'lib/neural_network'}", "-o", "one", "one.cc", cwd=tmp_path)
    subprocess.run(["./one", "back.tflite"], cwd=tmp_path, check=True)
    assert (tmp_path / "back.tflite").read_bytes() == run.read_tflite("int8")


def _shifted_accuracy(real, drop):
    "accuracy_summary with the converted accuracy moved `drop` points below float."
    def fake(y, p_float, p_conv, classes, bark):
        r = real(y, p_float, p_conv, classes, bark)
        return {**r, "converted": r["float"] - drop, "drop_points": float(drop)}
    return fake


def test_f4_accuracy_rule_in_one_place_checked_before_any_file(converted, monkeypatch):
    "Issue 16 F4: int8 worse than the budget stops before anything is replaced; int8 better than float passes."
    run, fw, _ = converted
    p = dataclasses.replace(P, firmware_dir=str(fw), seed=1)
    before = _snapshot(run.tflite_dir, fw)
    real = cv.accuracy_summary
    monkeypatch.setattr(cv, "accuracy_summary", _shifted_accuracy(real, 60.0))
    with pytest.raises(cv.BudgetError, match=r"accuracy drop 60 points is over the budget of .*\(n_representative\)"):
        cv.convert_run(run, p, log=None)
    assert _snapshot(run.tflite_dir, fw) == before              # model.cc, settings, tflite, report: untouched
    monkeypatch.setattr(cv, "accuracy_summary", _shifted_accuracy(real, -30.0))
    rep = cv.convert_run(run, dataclasses.replace(p, firmware_dir=None), log=None)
    drop = next(b for b in rep.budgets if b["name"] == "accuracy drop")
    assert drop["value"] == -30.0 and drop["passed"]


def test_f4_pipeline_notebook_asserts_nothing_of_its_own():
    "The report notebook shows results; the rules live in barkbook.convert only."
    nb = json.loads((ROOT / "nbs/03_convert_tflite.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"]
                     if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", []))
    for word in ("assert", "test_eq", "test_fail", "max_acc_drop", "raise"):
        assert word not in code, word


def _perturbed(real, how):
    "runtime_outputs with LiteRT's int8 outputs changed on one clip."
    def fake(path, x, arena_size, tflm=True):
        out, lite = real(path, x, arena_size, tflm)
        q = out["litert"].astype(np.int16)
        i = int(np.argmax(q.max(1) <= 125))                 # a clip whose top score can grow by 2
        top = int(q[i].argmax())
        if how == "two_steps": q[i, top] += 2              # 2 output steps, same decision
        else: q[i, top], q[i, (top + 1) % q.shape[1]] = -128, 127   # another class wins
        return {**out, "litert": q.astype(np.int8)}, lite
    return fake


def test_f13_tflm_is_the_reference(converted, monkeypatch):
    "Issue 16 F13: a 2-step LiteRT difference with the same decisions passes and is reported; a changed decision fails."
    run, fw, _ = converted
    real = cv.runtime_outputs
    monkeypatch.setattr(cv, "runtime_outputs", _perturbed(real, "two_steps"))
    rep = cv.convert_run(run, dataclasses.replace(P, also_float32=False), log=None)
    cmp = rep.runtimes["litert_vs_tflm"]
    assert cmp["distribution"].get("2") == 1 and cmp["max_diff"] == 2 and cmp["changed_decisions"] == []
    assert rep.runtimes["tflm_max_step_diff"] == 2
    before = _snapshot(run.tflite_dir, run.root / "firmware")
    monkeypatch.setattr(cv, "runtime_outputs", _perturbed(real, "flip"))
    with pytest.raises(cv.ConvertError, match=r"choose different classes on 1 of \d+ test clips.*-p seed 1"):
        cv.convert_run(run, dataclasses.replace(P, also_float32=False), log=None)
    assert _snapshot(run.tflite_dir, run.root / "firmware") == before


def test_failure_midway_leaves_previous_files(converted, monkeypatch):
    "A crash after every file is rendered and staged changes no file and leaves no temporary."
    run, fw, _ = converted
    before = _snapshot(run.tflite_dir, fw)
    real = cv.write_all
    def boom(): raise OSError("simulated crash after staging every file")
    monkeypatch.setattr(cv, "write_all", lambda files, before_commit=None: real(files, before_commit=boom))
    with pytest.raises(OSError, match="simulated crash"):
        cv.convert_run(run, dataclasses.replace(P, firmware_dir=str(fw), also_float32=False, seed=1), log=None)
    assert _snapshot(run.tflite_dir, fw) == before
    assert not [p for p in [*run.tflite_dir.rglob("*"), *fw.rglob("*")] if p.name.endswith(".tmp")]


def test_over_budget_stops_with_the_figure(converted):
    run, fw, _ = converted
    before = _snapshot(run.tflite_dir, fw)
    p = dataclasses.replace(P, firmware_dir=str(fw), also_float32=False)
    with pytest.raises(cv.BudgetError, match=r"tensor arena .* KB is over the budget of 1 KB: shrink the activations"):
        cv.convert_run(run, dataclasses.replace(p, max_arena_kb=1.0), log=None)
    with pytest.raises(cv.BudgetError, match=r"model size .* KB is over the budget of 0.5 KB: .*width"):
        cv.convert_run(run, dataclasses.replace(p, max_model_kb=0.5), log=None)
    with pytest.raises(cv.BudgetError, match=r"ESP32 latency \(ESP-NN, estimate\) .* ms is over the budget of 0.01 ms"):
        cv.convert_run(run, dataclasses.replace(p, max_latency_ms=0.01), log=None)
    assert _snapshot(run.tflite_dir, fw) == before


def test_default_firmware_dir_is_inside_the_run(tmp_path):
    "firmware_dir=None writes run_dir/firmware, never the repository's model.cc; float32 and dynamic write none."
    run = _copy_tiny(tmp_path / "tiny")
    shipped = default_firmware_dir() / "lib/neural_network/model.cc"
    before = shipped.read_bytes() if shipped.exists() else None
    p = dataclasses.replace(P, also_float32=False)
    rep = cv.convert_run(run, dataclasses.replace(p, quantization="float32", max_arena_kb=1024.0, max_model_kb=1024.0), log=None)   # float32 of the default width is ~58 KB: over the int8 budget
    assert rep.firmware_dir is None and not (run.root / "firmware").exists()
    assert Int8Model(run.tflite_path("float32"), "tflm").predict(np.full((1, 49, 40), -60.0)).shape == (1, 4)
    rep = cv.convert_run(run, dataclasses.replace(p, quantization="dynamic"), log=None)
    assert rep.runtimes == {"checked_in_tflm": False} and rep.arena["bytes"] is None and rep.firmware_dir is None
    assert run.tflite_path("dynamic").exists() and not (run.root / "firmware").exists()
    rep = cv.convert_run(run, p, log=None)
    assert Path(rep.firmware_dir) == run.root / "firmware"
    assert (run.root / "firmware" / fwm.MODEL_CC).exists() and not (run.root / "firmware" / cv.MODEL_DATA_H).exists()
    assert (shipped.read_bytes() if shipped.exists() else None) == before


def test_waveform_model(tmp_path):
    "A raw-waveform model converts too: int8 input on its own scale, kInputSamples in the settings header."
    import keras
    run = _copy_tiny(tmp_path / "wave")
    tr = run.open_split("train")
    keras.utils.set_random_seed(0)
    inp = keras.Input((16000,))
    x = keras.layers.Reshape((16000, 1, 1))(inp)
    x = keras.layers.Conv2D(6, (64, 1), strides=(16, 1), activation="relu")(x)
    x = keras.layers.MaxPooling2D((4, 1))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    m = keras.Model(inp, keras.layers.Dense(len(tr.classes), activation="softmax")(x))
    m.compile("adam", "sparse_categorical_crossentropy")
    m.fit(np.asarray(tr.wave, np.float32) / 32768, tr.y, epochs=2, verbose=0)
    m.save(run.keras_path)
    run.write_train_config(dataclasses.replace(run.read_train_config(), input_kind="wave", input_shape=[16000],
                                               family="test_wave"))
    rep = cv.convert_run(run, dataclasses.replace(P, also_float32=False, max_acc_drop=None), log=None)
    assert rep.input["kind"] == "wave" and rep.input["shape"] == [1, 16000]
    assert rep.input["scale"] == pytest.approx(2 / 256, rel=0.01)
    h = (run.root / "firmware" / fwm.SETTINGS_H).read_text()
    assert "kInputSamples = 16000;" in h and "kInputFrames" not in h
    assert Int8Model(run.tflite_path("int8")).input_kind == "wave"


def test_bad_runs(run, tmp_path):
    with pytest.raises(cv.ConvertError, match="model.keras: trained model not found; run 02_train first"):
        cv.convert_run(Run(tmp_path / "empty"), P, log=None)
    bad = _copy_tiny(tmp_path / "bad")
    bad.train_config_path.write_text("{not json")
    with pytest.raises(RunError, match="train_config.json: not valid JSON"):
        cv.convert_run(bad, P, log=None)
    shutil.copy(run.train_config_path, bad.train_config_path)
    bad.shard_path("test", "y").unlink()
    with pytest.raises(RunError, match=r"test_y.npy: not found; run 01_generate_data first"):
        cv.convert_run(bad, P, log=None)
    with pytest.raises(cv.ConvertError, match="unknown quantization 'int4'"):
        cv.convert_run(run, dataclasses.replace(P, quantization="int4"), log=None)


@pytest.mark.skipif(fwm.missing_tree("tflm", "esp_nn") is not None, reason=str(fwm.missing_tree("tflm", "esp_nn")))
def test_device_figures_in_the_report(run, tmp_path, m32_links):
    """The conversion builds the firmware with the model: C++ arena on 64/32-bit under the shipped arena, Xtensa
    sizes per part and lx106 instructions in the report (issue 15)."""
    fw = tmp_path / "firmware"
    rep = cv.convert_run(run, dataclasses.replace(P, firmware_dir=str(fw), device_checks=True), log=None)
    dev = rep.firmware
    a = dev["arena"]
    if m32_links: assert a["64bit"] > a["32bit"] > 0 and rep.arena["bytes"] >= a["64bit"] and a["shipped_margin"] >= 0
    else: assert a["64bit"] > 0 and a["32bit_skipped"]   # no g++-multilib here: the report says why
    if fwm.xtensa_toolchain() is not None:
        total = [r for r in dev["xtensa_sizes"] if r["part"] == "total"][0]
        model = [r for r in dev["xtensa_sizes"] if r["part"].startswith("model")][0]
        assert model["rodata"] >= rep.bytes and total["text"] > 50_000
    if shutil.which("qemu-system-xtensa"):
        assert dev["lx106"]["inference_instructions"] > 1_000_000
    assert run.read_conversion_report().firmware == dev
