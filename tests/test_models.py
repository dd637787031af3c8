"""Every model family builds, trains one short epoch, converts to full int8 and runs in TFLite Micro (the converter
and the TFLM interpreter; the unit tests of barkbook.models are in nbs/19_models.ipynb)."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras
from barkbook.features import FeatureConfig
from barkbook.models import FAMILIES, build_model, input_kind_for, model_summary, fixed_batch

CFG = FeatureConfig()
RNG = np.random.default_rng(0)


def _inputs(family, n):
    "Float inputs the model takes: log-mel dB covering the whole clamp range, or samples in [-1, 1]."
    if input_kind_for(family) == 'wave':
        x = RNG.normal(0, 0.3, (n, CFG.clip_samples)).astype(np.float32)
        x[0, :2] = (-1.0, 1.0)
        return np.clip(x, -1, 1)
    x = RNG.uniform(-110, 0, (n, *CFG.shape)).astype(np.float32)
    x[0, 0, :2] = (CFG.clamp_min, CFG.clamp_max)     # the representative data span the fixed input range
    return x


def to_int8(model, rep):
    "Minimal full-int8 conversion (int8 input and output) from a batch-1 copy of `model`."
    conv = tf.lite.TFLiteConverter.from_keras_model(fixed_batch(model))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([r[None]] for r in rep)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


def tflm_predict(model_bytes, x):
    "Run float inputs `x` through the int8 model in TFLite Micro's interpreter; return float probabilities."
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(model_bytes, arena_size=600_000)
    qi, qo = it.get_input_details(0)['quantization_parameters'], it.get_output_details(0)['quantization_parameters']
    si, zi = float(qi['scales'][0]), int(qi['zero_points'][0])
    so, zo = float(qo['scales'][0]), int(qo['zero_points'][0])
    out = []
    for xi in x:
        q = np.clip(np.floor(xi / si + zi + 0.5), -128, 127).astype(np.int8)[None]
        it.set_input(q, 0); it.invoke()
        out.append((it.get_output(0).astype(np.float32) - zo) * so)
    return np.concatenate(out), (si, zi)


def _ops(model_bytes):
    from ai_edge_litert.interpreter import Interpreter
    return {o['op_name'] for o in Interpreter(model_content=model_bytes)._get_ops_details()}


@pytest.mark.parametrize("family", FAMILIES)
def test_family_trains_converts_and_runs_in_tflm(family):
    keras.utils.set_random_seed(0)
    m = build_model(family, n_classes=4, width=0.5 if family in ('dscnn', 'raw1d') else 1.0, cfg=CFG)
    x = _inputs(family, 48); y = np.eye(4, dtype=np.float32)[np.arange(48) % 4]
    m.compile(optimizer='adam', loss='categorical_crossentropy')
    h = m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(h.history['loss'][0])
    b = to_int8(m, x[:16])
    ops = _ops(b)
    assert not ops & {'DEQUANTIZE', 'QUANTIZE', 'COS', 'SHAPE', 'STRIDED_SLICE'}, f"{family}: not a clean int8 graph: {ops}"
    probs, (si, zi) = tflm_predict(b, x[16:24])
    if input_kind_for(family) == 'logmel':
        assert (round(si, 6), zi) == (CFG.input_scale, CFG.input_zero_point)   # the front-end's fixed int8 input
    ref = np.asarray(m.predict(x[16:24], verbose=0))
    assert probs.shape == ref.shape == (8, 4)
    assert np.abs(probs - ref).mean() < 0.08, f"{family}: int8 in TFLM differs from float by {np.abs(probs - ref).mean():.3f}"
    s = model_summary(m)
    assert s['params'] == m.count_params() and s['macs'] > 0
    assert 0.7 < len(b) / s['expected_int8_bytes'] < 1.35, (family, len(b), s['expected_int8_bytes'])

