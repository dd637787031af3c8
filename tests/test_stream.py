"""Long-audio evaluation (`barkbook.stream`) with a model whose behaviour is known: detections land at the known bark
times, bark-free audio gives none at a strict threshold, the shipped operating point satisfies its rule,
`detect_file` scores and reads on the shipped detector's grid and rejects bad files clearly.

The run folder holds a hand-built int8 "loudness" model (P(bark) rises with a window's mean log-mel level),
converted by TFLite (needs TensorFlow) and run by LiteRT like any other model, so detection times can be asserted
exactly. The lesson nbs/24_stream.ipynb covers each stage on the tiny trained run; these tests do not repeat it."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from barkbook.audio import AudioError, save_wav, float_to_int16
from barkbook.core import BarkbookError
from barkbook.detector import DetectorConfig
from barkbook.features import FeatureConfig, logmel, quantize_features
from barkbook.params import StreamParams
from barkbook.run import Run
from barkbook import scenes, stream

CLASSES = ['dog_bark', 'ambient']
Z0_DB = -57.0   # mean log-mel level (dB) at which the loudness model says P(bark) = 0.5

def _toy_clips(n=8, sr=16000, seed=0):
    "'dog_bark': a 0.3-s noise burst 0.4 s into a silent clip; 'ambient': quiet noise (about -47 dBFS)."
    r = np.random.default_rng(seed); w = np.zeros((2 * n, sr), np.float32)
    w[:n, int(0.4 * sr):int(0.7 * sr)] = r.standard_normal((n, int(0.3 * sr))) * 0.3
    w[n:] = r.standard_normal((n, sr)) * 0.003
    return w, np.array(['dog_bark'] * n + ['ambient'] * n)

def _loudness_tflite(path, cfg, k=0.5, int8=True):
    "Convert a fixed-weight Keras model to int8 (or float): logit(bark) - logit(ambient) = 2k (mean dB - Z0_DB)."
    import tensorflow as tf, keras
    inp = keras.Input(cfg.shape)
    band = keras.layers.Dense(1, use_bias=False, name='band_mean')(inp)                    # mean over mels
    z = keras.layers.GlobalAveragePooling1D()(band)                                          # mean over frames
    out = keras.layers.Dense(2, activation='softmax', name='logits')(z)
    m = keras.Model(inp, out)
    m.get_layer('band_mean').set_weights([np.full((cfg.n_mels, 1), 1 / cfg.n_mels, np.float32)])
    m.get_layer('logits').set_weights([np.array([[k, -k]], np.float32), np.array([-k * Z0_DB, k * Z0_DB], np.float32)])
    rng = np.random.default_rng(0)
    def rep():
        for i in range(64):
            x = np.clip(rng.uniform(-110, 0) + rng.normal(0, 5, (1,) + cfg.shape), cfg.clamp_min, cfg.clamp_max).astype(np.float32)
            x.flat[0], x.flat[1] = cfg.clamp_min, cfg.clamp_max        # full input range: scale 0.5, zero point 112
            yield [x]
    c = tf.lite.TFLiteConverter.from_keras_model(m)
    if int8:
        c.optimizations = [tf.lite.Optimize.DEFAULT]; c.representative_dataset = rep
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = c.inference_output_type = tf.int8
    Path(path).parent.mkdir(parents=True, exist_ok=True); Path(path).write_bytes(c.convert())
    return Path(path)

@pytest.fixture(scope='session')
def loud_run(tmp_path_factory):
    "A run folder with the loudness model and a test split of toy clips, written through Run."
    run = Run(tmp_path_factory.mktemp('loud_run')); cfg = FeatureConfig()
    _loudness_tflite(run.tflite_path('int8'), cfg)
    run.features_dir.mkdir(parents=True)
    run.write_feature_config(cfg); run.write_classes(CLASSES)
    w, lab = _toy_clips()
    np.save(run.shard_path('test', 'x'), logmel(w, cfg))
    np.save(run.shard_path('test', 'y'), np.array([CLASSES.index(l) for l in lab], np.int64))
    np.save(run.shard_path('test', 'wave'), float_to_int16(w))
    pd.DataFrame(dict(path=[f'clips/{l}/{i}.wav' for i, l in enumerate(lab)], label=lab, group=[f'g{i}' for i in range(len(lab))],
                      source='toy')).to_csv(run.shard_path('test', 'meta'), index=False)
    return run

@pytest.fixture(scope='session')
def loud(loud_run):
    return stream.load_detector(loud_run)

def _params(**kw):
    "StreamParams at toy size (no plots, no scene files) with `kw` on top."
    return StreamParams.from_overrides({**dict(scene_minutes=1.0, n_bark_scenes=1, n_free_scenes=1, save_scenes=False), **kw})

def test_scores_are_the_devices_windows(loud):
    "Streaming scores = the model on each step's own 1-s window (samples [3840 i, 3840 i + 16000)), quantised alone."
    model, cfg, grid = loud.model, loud.cfg, loud.grid
    x = (np.random.default_rng(1).standard_normal(16000 * 6) * np.geomspace(1e-4, 0.3, 16000 * 6)).astype(np.float32)
    s = stream.stream_scores(model, x, grid)
    assert s.shape == (grid.n_steps(len(x)), 2)
    one = np.stack([quantize_features(logmel(x[3840 * i:3840 * i + 16000], cfg), cfg) for i in range(len(s))])
    ref = model.dequantize_output(model.predict_int8(one))
    assert np.abs(s - ref).max() <= 2 * model.output_scale
    assert s[:, 0].min() < 0.1 and s[:, 0].max() > 0.9        # the ramp crosses the model's decision level

def test_float_tflite_streams_too(loud, tmp_path):
    "A float .tflite of the same model gets float log-mel windows and gives the int8 model's scores up to quantisation."
    from barkbook.runtime import Int8Model
    fm = Int8Model(_loudness_tflite(tmp_path/'model_float32.tflite', loud.cfg, int8=False))
    assert not fm.quantized
    x = (np.random.default_rng(2).standard_normal(16000 * 4) * np.geomspace(1e-4, 0.3, 16000 * 4)).astype(np.float32)
    assert np.abs(stream.stream_scores(fm, x, loud.grid) - stream.stream_scores(loud.model, x, loud.grid)).max() < 0.05

def test_barks_detected_at_known_times(loud):
    "A scene with barks at known times gives one detection per bark, starting within the tolerance, and no other."
    w, lab = _toy_clips()
    sc = scenes.build_scene(w, lab, 'dog_bark', minutes=1.0, snrs_db=(30,), bark_gap_s=(3.0, 6.0), seed=3)
    barks = sc.barks('dog_bark'); assert len(barks) >= 6
    det = DetectorConfig(confidence_threshold=0.5, average_window=1, min_bark_duration_ms=240)
    ev = scenes.events_from_scores(stream.stream_scores(loud.model, sc.audio, det.grid(loud.cfg)), det, loud.cfg, sc.duration)
    assert len(ev) == len(barks)
    for (b0, b1), (e0, dec) in zip(barks[['start_s', 'end_s']].values, ev[['start_s', 'decision_s']].values):
        assert b0 - 0.5 <= e0 <= b1 + 0.5, (b0, e0)
        assert b0 < dec <= b1 + 1.0                             # reported after the bark starts, within a window
    m = scenes.scene_metrics(ev, sc, 'dog_bark', 0.5)
    assert (m['n_found'], m['n_false']) == (len(barks), 0)

def test_bark_free_audio_gives_no_detection(loud):
    "Bark-free audio: no detection at a strict threshold (and the same model does fire on a bark, see above)."
    w, lab = _toy_clips()
    sc = scenes.build_scene(w, lab, 'dog_bark', minutes=1.0, with_barks=False, seed=4)
    det = DetectorConfig(confidence_threshold=0.9, average_window=3)
    assert len(scenes.events_from_scores(stream.stream_scores(loud.model, sc.audio, det.grid(loud.cfg)), det, loud.cfg)) == 0

def test_operating_point_satisfies_its_rule(loud_run):
    """evaluate_run ships a point that satisfies the rule on the scenes it was chosen on, to JSON and headers; a generated
    model_settings.h gets the point's figures beside it."""
    from barkbook import firmware as fwm
    fw = loud_run.root/'fw_copy'
    fwm.write_firmware(fwm.firmware_files(loud_run.read_feature_config(), DetectorConfig(), loud_run.read_classes()), fw)
    res = stream.evaluate_run(loud_run, _params(firmware_dir=str(fw), snrs_db=[0, 10, 20], thresholds=[0.3, 0.5, 0.7, 0.9],
                                               detector_rules=['average_window=1', 'average_window=3'], rule='fa_per_hour<=0'),
                            plots=False)
    assert res.rule_satisfied
    ch, t = res.chosen, res.table
    assert ch.n_false == 0 and ch.fa_per_hour == 0
    assert ch.miss_rate == t[t.fa_per_hour <= 0].miss_rate.min()    # fewest misses among the allowed settings
    det = loud_run.read_detector_config()                           # re-measure the shipped config: same numbers
    assert (det.confidence_threshold, f'average_window={det.average_window}') == (ch.threshold, ch.rule)
    ms = [scenes.scene_metrics(scenes.events_from_scores(s, det, res.cfg, sc.duration), sc, 'dog_bark', 0.5) for sc, s in res.scored]
    assert sum(m['n_false'] for m in ms) == 0 and sum(m['n_barks'] - m['n_found'] for m in ms) == ch.n_missed
    assert f'{det.confidence_threshold:g}' in (loud_run.root/'firmware/lib/bark_detector/detector_config.h').read_text()
    got = fwm.read_firmware(fw)
    assert got['det_cfg'] == det and got['model'] is None
    op = got['operating_point']
    assert (op['rule'], op['n_barks'], op['fa_per_hour']) == ('fa_per_hour<=0', ch.n_barks, 0.0)
    assert op['miss_rate'] == round(ch.miss_rate, 4) and op['miss_ci_low'] <= op['miss_rate'] <= op['miss_ci_high']
    assert loud_run.stream_path('sweep.csv').exists() and loud_run.read_stream_report().rule_satisfied

def test_impossible_rule_is_reported(loud_run):
    "A rule no setting meets still ships the closest point, and says so."
    with pytest.warns(UserWarning, match='no swept setting'):
        res = stream.evaluate_run(loud_run, _params(scene_minutes=0.5, n_free_scenes=0, snrs_db=[-30], thresholds=[0.99],
                                                    detector_rules=['average_window=5'], rule='miss_rate<=0'), plots=False)
    assert not res.rule_satisfied and not res.report.rule_satisfied
    with pytest.raises(stream.StreamError, match='rule'): stream.evaluate_run(loud_run, _params(rule='fewest misses please'))

def test_detect_file(loud_run, tmp_path):
    "detect_file finds the barks of a saved scene; corrupt, too-short and missing files raise errors naming them."
    w, lab = _toy_clips()
    sc = scenes.build_scene(w, lab, 'dog_bark', minutes=0.5, snrs_db=(30,), bark_gap_s=(3.0, 6.0), seed=5)
    p = save_wav(tmp_path/'garden.wav', sc.audio)
    loud_run.write_detector_config(DetectorConfig(confidence_threshold=0.5, average_window=1))   # the shipped point
    ev = stream.detect_file(loud_run, p)
    assert list(ev.columns) == ['start_s', 'end_s', 'confidence'] and (ev.end_s > ev.start_s).all()
    found, _, matched = scenes.match_events(ev.assign(decision_s=ev.start_s), sc.barks('dog_bark'), 0.5)
    assert found.all() and matched.all()
    save_wav(tmp_path/'short.wav', sc.audio[:12000])
    with pytest.raises(AudioError, match=r'short\.wav: too short: 0\.75 s'): stream.detect_file(loud_run, tmp_path/'short.wav')
    (tmp_path/'corrupt.wav').write_bytes(b'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00garbage')
    with pytest.raises(AudioError, match='corrupt.wav'): stream.detect_file(loud_run, tmp_path/'corrupt.wav')
    (tmp_path/'notes.wav').write_text('not audio at all')
    with pytest.raises(AudioError, match='notes.wav'): stream.detect_file(loud_run, tmp_path/'notes.wav')
    with pytest.raises(AudioError, match='missing.wav'): stream.detect_file(loud_run, tmp_path/'missing.wav')
    with pytest.raises(BarkbookError, match='model_int8.tflite'): stream.detect_file(tmp_path/'no_run', p)

def test_detect_file_scores_and_reads_on_the_shipped_hop(loud_run, tmp_path):
    """detector_config.json with hop_ms 480: 10 s of audio is scored on 19 steps 480 ms apart and the bark at its end
    is reported inside the recording (the bug: 38 rows scored every 240 ms, read every 480 ms, an event at 17.76 s)."""
    x = (np.random.default_rng(7).standard_normal(160000) * 1e-4).astype(np.float32)    # 10 s of near-silence
    x[136000:] += (np.random.default_rng(8).standard_normal(24000) * 0.3).astype(np.float32)   # loud from 8.5 s to the end
    p = save_wav(tmp_path/'ten_seconds.wav', x)
    det = DetectorConfig(confidence_threshold=0.5, average_window=1, hop_ms=480)
    loud_run.write_detector_config(det)
    try:
        d = stream.load_detector(loud_run)
        assert d.grid.hop_frames == 24 and len(stream.stream_scores(d.model, x, d.grid)) == 19
        ev = stream.detect_file(loud_run, p)
    finally: loud_run.detector_config_path.unlink()
    assert len(ev) == 1, ev
    assert 7.5 < ev.start_s[0] < 10.0 and ev.end_s[0] <= 10.0, ev

def test_user_recording_with_labels(loud_run, tmp_path):
    "A user's long recording with an Audacity label file is evaluated like a generated scene."
    w, lab = _toy_clips()
    sc = scenes.build_scene(w, lab, 'dog_bark', minutes=0.5, snrs_db=(30,), seed=6)
    save_wav(tmp_path/'yard.wav', sc.audio)
    (tmp_path/'yard.txt').write_text(''.join(f'{r.start_s:.3f}\t{r.end_s:.3f}\tdog_bark\n' for r in sc.barks('dog_bark').itertuples()))
    res = stream.evaluate_run(loud_run, _params(scene_minutes=0.5, n_bark_scenes=0, recordings=[str(tmp_path/'yard.wav')],
                                                thresholds=[0.5], detector_rules=['average_window=1'], rule='fa_per_hour<=0'), plots=False)
    row = res.table.iloc[0]
    assert row.n_barks == len(sc.barks('dog_bark')) and row.n_missed == 0 and row.n_false == 0
    (tmp_path/'bad.wav').write_bytes((tmp_path/'yard.wav').read_bytes()); (tmp_path/'bad.txt').write_text('start end\n')
    with pytest.raises(stream.StreamError, match='bad.txt'): stream.load_recording(tmp_path/'bad.wav')

def _long_scene(seconds=75.0, seed=9):
    "A recording longer than two log-mel segments (31.4 s each) with barks spread over it."
    w, lab = _toy_clips()
    return scenes.build_scene(w, lab, 'dog_bark', minutes=seconds / 60, snrs_db=(30,), bark_gap_s=(3.0, 6.0), seed=seed)

def test_block_streamed_detection_equals_whole_file(loud, tmp_path):
    """detect_file reads and scores a file block by block; its scores and events are exactly (bit for bit) those of
    the whole recording scored at once, for any block size, and for a 44.1 kHz stereo file (one soxr stream)."""
    sc = _long_scene(); p = save_wav(tmp_path/'long.wav', sc.audio)
    x = stream.load_audio(p)
    whole = stream.stream_scores(loud.model, x, loud.grid)
    det = DetectorConfig(confidence_threshold=0.5, average_window=2)
    ref = scenes.events_from_scores(whole, det, loud.cfg, len(x) / 16000)[['start_s', 'end_s', 'confidence']]
    assert len(ref) >= 8
    d = stream.Detector(loud.model, loud.cfg, loud.classes, det)
    for block_s in (0.37, 4.0, 31.4, 1000.0):
        s, n = stream.score_file(loud.model, p, loud.grid, block_s=block_s, batch=16)
        assert n == len(x) and np.array_equal(s, whole), block_s
        pd.testing.assert_frame_equal(stream.detect_file(d, p, block_s=block_s), ref.reset_index(drop=True))
    import soundfile as sf, soxr
    y = soxr.resample(sc.audio, 16000, 44100).astype(np.float32)
    sf.write(tmp_path/'st.flac', np.stack([y, 0.5 * y], 1), 44100, subtype='PCM_24')
    x2 = stream.load_audio(tmp_path/'st.flac')
    s2, _ = stream.score_file(loud.model, tmp_path/'st.flac', loud.grid, block_s=2.9)
    assert np.array_equal(s2, stream.stream_scores(loud.model, x2, loud.grid))

def test_detect_cli_writes_labels_and_csv(loud_run, tmp_path):
    """barkbook detect --labels DIR --csv FILE: an Audacity label track per recording (start<TAB>end<TAB>label, no
    header) and one CSV of every detection; a bad file gets an error line naming it and the others are still written."""
    loud_run.write_detector_config(DetectorConfig(confidence_threshold=0.5, average_window=1))
    sc = _long_scene(40.0, seed=11)
    a = save_wav(tmp_path/'a.wav', sc.audio); (tmp_path/'bad.wav').write_text('not audio')
    r = subprocess.run([str(Path(sys.executable).parent/'barkbook'), 'detect', '--run', str(loud_run.root), str(a),
                        str(tmp_path/'bad.wav'), '--labels', str(tmp_path/'labels'), '--csv', str(tmp_path/'d.csv')],
                       capture_output=True, text=True)
    assert r.returncode == 1 and 'bad.wav' in r.stderr, r.stderr
    lines = (tmp_path/'labels'/'a.txt').read_text().splitlines()
    assert len(lines) >= 4 and all(len(l.split('\t')) == 3 and l.split('\t')[2] == 'dog_bark' for l in lines)
    s0, e0, _ = lines[0].split('\t'); assert 0 <= float(s0) < float(e0)
    csv = pd.read_csv(tmp_path/'d.csv')
    assert list(csv.columns) == ['path', 'start_s', 'end_s', 'label', 'confidence'] and len(csv) == len(lines)
    assert set(csv.path) == {str(a)} and not (tmp_path/'labels'/'bad.txt').exists()
    back = stream.read_labels(tmp_path/'labels'/'a.txt')
    assert np.allclose(back.start_s, csv.start_s, atol=1e-3)

def test_confidence_intervals_and_kinds(loud):
    "Wilson and Poisson intervals; bark kinds and the kind of sound each false alarm fired on reach the breakdown."
    lo, hi = stream.miss_rate_ci(30, 300); assert abs(lo - 0.0709) < 2e-4 and abs(hi - 0.1392) < 2e-4
    assert stream.fa_rate_ci(0, 5.0)[0] == 0 and abs(stream.fa_rate_ci(0, 5.0)[1] - 0.7378) < 1e-3
    w, lab = _toy_clips()
    kinds = np.array(['yap', 'woof'] * 4 + ['fan'] * 8)
    sc = scenes.build_scene(w, lab, 'dog_bark', minutes=1.0, snrs_db=(30,), bark_gap_s=(3.0, 6.0), seed=3, kinds=kinds)
    det = DetectorConfig(confidence_threshold=0.5, average_window=1)
    bd = stream.breakdown([(sc, stream.stream_scores(loud.model, sc.audio, loud.grid))], det, loud.cfg, 'dog_bark', 0.5)
    assert set(bd.by_kind.kind) <= {'yap', 'woof'} and bd.by_kind.n_barks.sum() == len(sc.barks('dog_bark'))
    assert {'miss_ci_low', 'miss_ci_high'} <= set(bd.by_snr.columns)
    assert set(sc.clips.kind) == {'fan'} and stream._sound_at(sc, 1.0, 'dog_bark')[1] == 'fan'

def _realdev()->Path|None:
    "The real development clips: $BARKBOOK_REALDEV, else ../shared/realdev next to the repository."
    p = Path(os.environ.get('BARKBOOK_REALDEV', Path(__file__).resolve().parents[2]/'shared'/'realdev'))
    return p if (p/'dog_bark').is_dir() else None

@pytest.mark.skipif(_realdev() is None, reason='no real clips: set BARKBOOK_REALDEV or put realdev in ../shared')
def test_realdev_scenes_are_their_own_curve(loud_run):
    "A folder of real clips becomes scenes of their own (its barks and words over its backgrounds), reported apart."
    res = stream.evaluate_run(loud_run, _params(eval_sets=[str(_realdev())], real_bark_scenes=1, real_free_scenes=1,
                                                scene_minutes=0.5, thresholds=[0.5, 0.9],
                                                detector_rules=['average_window=1'], rule='fa_per_hour<=100'), plots=False)
    name = 'real:' + _realdev().name
    assert set(res.tables) == {'synthetic', name} and set(res.summaries) == {'synthetic', name}
    real = [sc for sc in res.scenes if sc.dataset == name]
    assert len(real) == 2 and len(real[0].barks('dog_bark')) > 0
    assert (real[0].events.label == 'speech').any()                      # words placed over the background
    assert res.summaries[name]['n_barks'] == len(real[0].barks('dog_bark'))
    assert name in res.report.operating_point['datasets']
