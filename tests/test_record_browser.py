"""Real-browser test of the live recorder (barkbook.record.Recorder): JupyterLab + headless system Chromium
(Playwright) with a fake microphone that plays a bark WAV of the shipped run's test split in a loop. A notebook
cell creates the widget on runs/default (read-only); the test clicks record, reads the top class and the score
bars from the page, saves a clip and checks it against the WAV (level and spectrum). Saves
tests/artifacts/record.png (the widget) and record_page.png."""
import os, time
from pathlib import Path
import numpy as np
import nbformat
import pytest
from conftest import CHROMIUM_ARGS, run_notebook_in_lab
import scipy.signal
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("BARKBOOK_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "artifacts"
RUN = ROOT / "runs" / "default"

if not CHROMIUM.exists(): pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not importable")
if not (RUN / "tflite" / "model_int8.tflite").exists():
    pytest.skip(f"{RUN}: no int8 model (make pipeline ships runs/default)", allow_module_level=True)

from barkbook.audio import save_wav, rms_dbfs
from barkbook.inference import Classifier
from barkbook.run import Run

SECONDS = 2.0   # length of the clip the test saves: two loops of the 1 s WAV


def _bark_clip() -> np.ndarray:
    "The loudest of the first 20 test-split barks that the shipped int8 model calls dog_bark with p >= 0.99."
    run = Run(RUN); m = run.read_manifest(); clf = Classifier.load(run)
    best = None
    for rel in m[(m.label == "dog_bark") & (m.split == "test")].path[:20]:
        x = sf.read(run.clip_path(rel), dtype="float32")[0]
        if clf.predict(x, sr=16000).scores["dog_bark"] >= 0.99 and (best is None or rms_dbfs(x) > rms_dbfs(best)):
            best = x
    assert best is not None, f"{RUN}: no test bark scored >= 0.99"
    return best


def _psd_db(x: np.ndarray) -> tuple:
    f, p = scipy.signal.welch(x, fs=16000, nperseg=512)
    keep = (f >= 60) & (f <= 7500)
    return f[keep], 10 * np.log10(p[keep] + 1e-20)


def _aligned_corr(seg: np.ndarray, loop: np.ndarray) -> float:
    "Highest normalised correlation of `seg` with any same-length piece of `loop` played in a loop."
    r = np.tile(loop, 2)
    c = scipy.signal.correlate(r, seg, mode="valid")
    e = np.sqrt(np.convolve(r ** 2, np.ones(len(seg)), "valid"))
    return float((c / (e * np.linalg.norm(seg) + 1e-12)).max())


@pytest.fixture
def lab(tmp_path, jupyter_lab):
    "JupyterLab serving a notebook whose one cell shows a Recorder on runs/default saving into tmp_path/rec."
    nbs = tmp_path / "nbs"; nbs.mkdir()
    cell = (f"from barkbook.record import Recorder\n"
            f"rec = Recorder({str(RUN)!r}, dest={str(tmp_path / 'rec')!r}, session='browsertest', seconds={SECONDS})\n"
            f"rec")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nb.metadata = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}
    nbformat.write(nb, nbs / "record.ipynb")
    return jupyter_lab(nbs)


@pytest.mark.slow   # ~2 min here: JupyterLab and kernel start-up, 5+ s of live audio
def test_record_and_classify_in_jupyterlab(lab, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    t0 = time.time()
    x = _bark_clip()
    mic = save_wav(tmp_path / "mic.wav", x)           # 16-bit PCM: what Chromium's fake capture reads (and loops)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=[*CHROMIUM_ARGS,
                                          "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                          f"--use-file-for-fake-audio-capture={mic}", "--autoplay-policy=no-user-gesture-required"])
        page = None
        try:
            ctx = browser.new_context(viewport={"width": 1300, "height": 800})
            ctx.grant_permissions(["microphone"], origin=lab["url"])
            page = ctx.new_page()
            logs = []; page.on("console", lambda m: logs.append(m.text))
            run_notebook_in_lab(page, lab, "record.ipynb")
            widget = page.locator(".bb-recorder").first
            widget.wait_for(timeout=90_000)
            assert widget.locator(".bb-bar").count() == 4
            widget.locator(".bb-label").select_option("dog_bark")
            widget.locator(".bb-record").click()
            # the page shows the kernel's answers: wait for 3 s of audio, then read the top class 8 times
            page.wait_for_function("el => parseFloat(el.textContent) >= 3", arg=widget.locator(".bb-status").element_handle(),
                                   timeout=30_000)
            tops, bark = [], []
            for _ in range(8):
                tops.append(widget.locator(".bb-top").get_attribute("data-class"))
                bark.append(float(widget.locator('.bb-bar[data-class="dog_bark"]').get_attribute("data-score")))
                page.wait_for_timeout(250)
            status = widget.locator(".bb-status").text_content()
            widget.locator(".bb-save").click()
            page.wait_for_function("el => el.dataset.path", arg=widget.locator(".bb-saved").element_handle(), timeout=20_000)
            saved = widget.locator(".bb-saved").get_attribute("data-path")
            widget.screenshot(path=str(ARTIFACTS / "record.png"))
            page.screenshot(path=str(ARTIFACTS / "record_page.png"))
            widget.locator(".bb-record").click()   # stop: releases the microphone
            page.wait_for_function("el => el.textContent.startsWith('stopped')",
                                   arg=widget.locator(".bb-status").element_handle(), timeout=20_000)
        except Exception:
            if page is not None: page.screenshot(path=str(ARTIFACTS / "record_failed.png"))
            print("\n".join(logs[-20:]) if page is not None else "")
            raise
        finally:
            browser.close()
    # classified as dog_bark on screen, most of the time (the window slides over the looping clip)
    frac = np.mean([t == "dog_bark" for t in tops])
    print(f"status: {status}\ntop classes on screen: {tops}; dog_bark bar: {np.round(bark, 3).tolist()}")
    assert frac >= 0.75, tops
    # the saved clip: 16-bit 16 kHz WAV in the folders layout, with the WAV's level and spectrum
    test_path = tmp_path / "rec" / saved
    assert saved == "dog_bark/browsertest_0.wav", saved
    info = sf.info(test_path); assert (info.samplerate, info.subtype, info.frames) == (16000, "PCM_16", int(SECONDS * 16000))
    y = sf.read(test_path, dtype="float32")[0]
    ref = np.tile(x, int(SECONDS))                    # the loop: the saved clip is a rotation of it
    level = rms_dbfs(y) - rms_dbfs(ref)
    corr = np.corrcoef(_psd_db(y)[1], _psd_db(ref)[1])[0, 1]
    wave_corr = np.median([_aligned_corr(y[a:a + 4000], x) for a in range(0, len(y), 4000)])
    print(f"saved clip vs WAV: level {level:+.2f} dB, log-spectrum correlation {corr:.3f}, "
          f"median aligned waveform correlation of 0.25 s pieces {wave_corr:.3f}; browser test {time.time() - t0:.1f} s")
    assert abs(level) < 3, level
    assert corr > 0.9, corr
    assert wave_corr > 0.9, wave_corr   # the samples themselves, through 16 k -> browser rate -> 16 k
    assert (ARTIFACTS / "record.png").stat().st_size > 5_000
