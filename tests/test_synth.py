"""The built-in generator over many clips: every class keeps its level conventions, every clip names its kind,
and the kinds are as varied as the lessons (nbs/16_sounds, nbs/16_synth) say."""
import collections
import numpy as np
from barkbook import sounds, synth


def _clips(label, n_groups, per_group=1, seed=11):
    return [synth.synth_clip(label, seed, g, i) for g in range(n_groups) for i in range(per_group)]


def test_levels_length_and_kind_of_every_class():
    for label, n_groups in dict(dog_bark=40, speech=16, ambient=80, silence=20).items():
        clips = _clips(label, n_groups)
        for y, info in clips:
            assert y.dtype == np.float32 and len(y) == synth.CLIP_SAMPLES and np.isfinite(y).all(), info
            assert info['kind'], info
            if label == 'silence': assert synth.SILENCE_DBFS[0] - 1 <= info['rms_dbfs'] <= synth.SILENCE_DBFS[1] + 1
            else: assert synth.PEAK_DBFS[0] - 0.5 <= info['peak_dbfs'] <= -0.9, info
            if label == 'ambient': assert info['rms_dbfs'] >= synth.AMBIENT_MIN_RMS_DBFS - 1, info
        kinds = collections.Counter(info['kind'] for _, info in clips)
        if label == 'dog_bark': assert len(kinds) == 6, kinds             # bark, harsh, woof, yip, sequence, multi
        if label == 'speech': assert {'words:1', 'words:2', 'digits'} <= set(kinds), kinds
        if label == 'ambient':
            assert len(kinds) > 30, kinds                                 # many different hard negatives
            assert sum(v for k, v in kinds.items() if k.startswith('bed:')) < 0.3 * len(clips)


def test_every_negative_kind_is_deterministic_and_finite():
    for kind in sum(sounds.NEGATIVES.values(), ()):
        a, _ = sounds.negative_sound(np.random.default_rng(5), kind)
        b, _ = sounds.negative_sound(np.random.default_rng(5), kind)
        assert np.array_equal(a, b) and np.isfinite(a).all() and 0 < len(a) <= 2 * synth.CLIP_SAMPLES, kind
