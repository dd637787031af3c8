"""Headless tests of barkbook.explore: build a tiny trained run, drive each explorer through its widgets, check what changes."""
import warnings
import numpy as np
import pytest

pytest.importorskip("ipywidgets")
from barkbook import explore as ex


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    from barkbook.data import build_dataset
    from barkbook.train import train_run
    d = tmp_path_factory.mktemp("explore_run")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_dataset(d, clips_per_class=16, progress=False)
        train_run(d, epochs=2, verbose=0)
    return d


def test_static_figures(run):
    sp = ex.load_splits(run)
    bal = ex.class_balance(run)
    assert bal.values.sum() == sum(len(s) for s in sp.values())
    lev = ex.clip_levels(run)
    med = lev.groupby("label").dbfs.median()
    assert med["silence"] < med.drop("silence").min() - 10, med   # silence visibly quieter
    fig = ex.plot_balance_levels(run)
    assert len(fig.axes) == 2 and fig.axes[1].get_xlabel() == "RMS level (dBFS)"
    assert fig._repr_png_()[:4] == b"\x89PNG"                                  # shows as PNG without pyplot
    tr = sp["train"]
    v = ex.plot_clip_view(ex.clip_wave(tr, 0), tr.cfg, ex.clip_meta(tr, 0, "train"))
    assert tr.classes[int(tr.y[0])] in v._suptitle.get_text()
    assert any(a.get_label() == "<colorbar>" for a in v.axes)                # dB colour bars
    cm = ex.confusion(run)
    assert cm.values.sum() == len(sp["test"])
    for t in cm.index:
        for p in cm.columns:
            assert len(ex.cell_clips(run, t, p)) == cm.loc[t, p]
    with pytest.raises(ex.ExploreError, match="unknown class"): ex.cell_clips(run, "cat", "speech")


def test_augment_views_change_the_clip(run):
    tr = ex.load_splits(run)["train"]
    x = ex.clip_wave(tr, 0)
    v = ex.augment_views(x, background=ex.clip_wave(tr, len(tr) - 1), gain_db=-6)
    assert len(v) == 7 and all(len(w) == len(x) for w in v.values())
    assert abs(float(np.mean(v["gain -6 dB"] ** 2) / np.mean(x ** 2)) - 10 ** -0.6) < 0.01
    for k, w in v.items():
        if k != "original": assert not np.allclose(w, x), k
    sa = ex.spec_augment_view(tr.x[0], seed=3)
    assert sa.shape == tr.x[0].shape and not np.allclose(sa, tr.x[0])


def test_dataset_map_flags_a_mislabelled_clip(run):
    from sklearn.preprocessing import StandardScaler
    tr = ex.load_splits(run)["train"]
    z = StandardScaler().fit_transform(ex.pooled_features(tr.x))
    lab = np.array([tr.classes[i] for i in np.asarray(tr.y)], dtype=object)
    i = int(np.flatnonzero(lab == "silence")[0]); lab[i] = "dog_bark"      # a silent clip labelled as a bark
    oz, nnl, nno = ex.label_checks(z, lab)
    assert nnl[i] == "silence" and nno[i] >= 0.6
    m = ex.dataset_map(run)
    assert {"x", "y", "outlier_z", "nn_label", "nn_other"} <= set(m.columns)
    assert np.isfinite(m[["x", "y"]].values).all()
    t = ex.dataset_map(run, method="tsne")
    assert len(t) == len(m)
    with pytest.raises(ex.ExploreError): ex.dataset_map(run, method="nope")


def test_clip_explorer(run):
    ce = ex.ClipExplorer(run)
    p0, png0, lab0 = ce.path, ce.png, ce.shape_label.value
    assert ce.splits["train"].meta.label.iloc[ce.index] == ce.classes[0]
    ce.class_dd.value = ce.classes[3]
    assert ce.path != p0 and ce.png != png0
    assert ce.splits["train"].meta.label.iloc[ce.index] == ce.classes[3]
    p1 = ce.path
    ce.clip_slider.value = 1
    assert ce.path != p1
    ce.split_dd.value = "test"
    assert ce.splits["test"].meta.path.iloc[ce.index] == ce.path
    png1, audio1 = ce.png, ce.audio.value
    ce.n_mels.value = 20
    assert "(49, 20)" in ce.shape_label.value and ce.shape_label.value != lab0
    assert ce.png != png1 and ce.audio.value == audio1          # same clip, new spectrogram
    ce.hop.value = 160
    assert "(97, 20)" in ce.shape_label.value and "MACs" in ce.shape_label.value
    ce.n_mels.value, ce.hop.value = 40, 320
    assert "(49, 40)" in ce.shape_label.value and "1.00×" in ce.shape_label.value
    seen = set()
    for _ in range(10): ce.random(); seen.add(ce.path)
    assert len(seen) > 1


def test_augmentation_explorer(run):
    ae = ex.AugmentationExplorer(run)
    png0 = ae.png
    ae.semitones.value = -5
    assert ae.png != png0
    png1 = ae.png
    ae.clip.value = ae.clip.options[-1][1]
    assert ae.png != png1 and len(ae.players.children) == 7


def test_dataset_map_explorer(run):
    dm = ex.DatasetMap(run)
    p0, png0, map0 = dm.selected.path, dm.png, dm.map_image.value
    dm.point.value = dm.point.options[-1][1]
    assert dm.selected.path != p0 and dm.png != png0 and dm.map_image.value != map0
    assert dm.audio.value[:4] == b"RIFF"


def test_mistakes_browser(run):
    mb = ex.MistakesBrowser(run)
    assert len(mb.clips) == mb.cm.loc[mb.cell]
    big = mb.cm.stack().idxmax()                                   # the fullest cell
    mb.true_dd.value, mb.pred_dd.value = big
    assert mb.cell == big and len(mb.clips) == mb.cm.loc[big] > 0
    assert mb.clip_dd.value == mb.clips["index"].iloc[0]
    png0, img0, opts0 = mb.png, mb.clip_image.value, mb.clip_dd.options
    assert img0[:4] == b"\x89PNG" and mb.audio.value[:4] == b"RIFF"
    if len(opts0) > 1:
        mb.clip_dd.value = opts0[1][1]
        assert mb.clip_image.value != img0
    other = next((t, p) for t in mb.cm.index for p in mb.cm.columns if (t, p) != big)
    mb.true_dd.value, mb.pred_dd.value = other
    assert mb.png != png0 and len(mb.clips) == mb.cm.loc[other] == len(mb.clip_dd.options)
