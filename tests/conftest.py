"""Shared pytest setup: the `slow` marker (run with --runslow, `make test-all`), repo paths, a JupyterLab server."""
import json, os, secrets, socket, subprocess, sys, time, urllib.request
from contextlib import contextmanager
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("IN_TEST", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes; run by `make test-all` / `make bench`")

def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"): return
    skip = pytest.mark.skip(reason="slow: run with --runslow (make test-all)")
    for item in items:
        if "slow" in item.keywords: item.add_marker(skip)

@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT

@pytest.fixture(scope="session")
def m32_links() -> bool:
    "Whether `g++ -m32` links here (g++-multilib): the firmware's arena measured with the ESP32's 32-bit pointers."
    import shutil
    if not shutil.which("g++"): return False
    probe = subprocess.run(["g++", "-m32", "-x", "c++", "-", "-o", "/dev/null"], input="int main(){}", capture_output=True, text=True)
    return probe.returncode == 0


# JupyterLab for the real-browser tests (test_browser.py, test_record_browser.py)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _wait_status(url: str, proc, log: Path, timeout: float = 60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None: raise RuntimeError(f"jupyter lab exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return json.loads(r.read())
        except OSError: time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


@pytest.fixture
def jupyter_lab(tmp_path):
    """`start(root_dir)`: JupyterLab serving `root_dir` on a free loopback port with a random token (no news, no
    update checks); returns dict(url, token, dir=tmp_path). Every server started is stopped at the end."""
    procs = []
    def start(root_dir: Path) -> dict:
        settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"; settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        port, token = _free_port(), secrets.token_hex(16)
        env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"),
                   JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), TF_CPP_MIN_LOG_LEVEL="3")
        env.pop("IN_TEST", None)
        jupyter = Path(sys.executable).parent / "jupyter"
        log = open(tmp_path / "lab.log", "w")
        proc = subprocess.Popen([str(jupyter), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                                 "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
                                 "--LabApp.news_url=", "--LabApp.expose_app_in_browser=True"] + (["--allow-root"] if os.geteuid() == 0 else []),
                                cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append((proc, log))
        _wait_status(f"http://127.0.0.1:{port}/api/status?token={token}", proc, tmp_path / "lab.log")
        return dict(url=f"http://127.0.0.1:{port}", token=token, dir=tmp_path)
    yield start
    for proc, log in procs:
        if proc.poll() is None:
            proc.terminate()
            try: proc.wait(20)
            except subprocess.TimeoutExpired: proc.kill(); proc.wait(10)
        log.close()


# Chromium flags every browser test uses: no sandbox (root in CI), no GPU, no network chatter.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def run_notebook_in_lab(page, lab: dict, name: str):
    "Open notebook `name` of a `jupyter_lab` server in the Playwright `page`, wait for its kernel, run all cells."
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=60_000)
    page.locator(".jp-Notebook").first.click()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


@contextmanager
def notebook_page(chromium: Path, lab: dict, name: str, viewport: dict, failed_png: Path):
    """A headless Chromium page with notebook `name` of `lab` open and all its cells started; on an error in the
    block a screenshot goes to `failed_png`; the browser is closed at the end."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            page = browser.new_page(viewport=viewport)
            run_notebook_in_lab(page, lab, name)
            yield page
        except Exception:
            if page is not None: page.screenshot(path=str(failed_png))
            raise
        finally:
            browser.close()
