"""The class notebooks in a real browser: JupyterLab plus headless Chromium through Selenium.

What a student does: open a notebook, *Run All*, and press the 실행 (run) button of the
"직접 해 보기" panel once, at once, without touching a slider (so the click usually arrives
while the last cell is still training and drawing). JupyterLab 4.6 with ipykernel 7 handles
widget messages on a kernel subshell, so the button's callback runs on another thread than the
cells: this is where a first click used to give a blank figure, a garbled title or a traceback
from matplotlib. Each notebook is run twice, each time with a fresh kernel, and every first
click must show one non-blank figure in the panel, no traceback anywhere, and a status that
says "끝" only when nothing failed.

With ``REGLAB_BROWSER_SHOTS=<folder>`` each run leaves a screenshot of the panel after the
click (``<notebook>-<attempt>.png``) there, to look at what a student sees.

JupyterLab runs from this environment (``sys.executable -m jupyterlab``) on 127.0.0.1 with a
free port, a token, its own settings, workspace and runtime folders, and a temporary root
holding copies of the notebooks whose parameters are made small (papermill's injected
parameters cell), so each run takes seconds. ``FLOWERS_DIR`` and ``REGLAB_CACHE_DIR`` reach
the kernels through the server's environment. Skipped when chromium, chromedriver, selenium or
jupyterlab is missing.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reglab.paths import project_root

CLASS_DIR = project_root() / "notebooks" / "class"

#: Small settings per notebook: a 150-photo subset (90 for training) and few epochs. Slider
#: defaults stay within their ranges (e.g. 03's photo slider starts at 50).
SMALL = {
    "01_overfitting.ipynb": {"max_samples": 150, "small_train": 40, "hidden": [64, 16], "epochs": 5},
    "02_l2_l1.ipynb": {"max_samples": 150, "lambdas": [0.0, 0.001], "book_lambdas": [0.0, 0.01],
                       "epochs": 3},
    "03_dropout.ipynb": {"max_samples": 150, "train_photos": 50, "keep_probs": [1.0, 0.5], "epochs": 5,
                         "spread_seeds": [1]},
    "04_noise.ipynb": {"max_samples": 150, "train_photos": 50, "stds": [0.0, 0.5], "epochs": 5},
    "05_batchnorm.ipynb": {"max_samples": 150, "epochs": 2, "stats_photos": 20},
}
PASSES = 2
#: Seconds allowed for: the server to answer, a notebook's kernel to be idle, the run button
#: to appear after Run All, and the click's run to finish.
SERVER_TIMEOUT, KERNEL_TIMEOUT, BUTTON_TIMEOUT, RUN_TIMEOUT = 60, 60, 90, 120

#: Settings of the test's JupyterLab: no news or update checks, every cell in the page.
#: Comms over subshells keep JupyterLab's default (what students get).
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}

#: (notebook, attempt) -> whether its first click worked; notebook -> kernel ids it ran on.
_first_clicks: dict = {}
_kernels: dict = {}
#: The JupyterLab server's log (its kernels' stderr too), quoted when a click's run never ends.
_server_log: list = [None]


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab is not installed"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "chromium is not installed (apt-get install chromium)"
    if not shutil.which("chromedriver"):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _small_copy(name: str, folder: Path) -> None:
    """A copy of the notebook with a cell after its ``parameters`` cell that sets ``SMALL``
    (papermill's ``injected-parameters`` convention)."""
    import nbformat

    nb = nbformat.read(CLASS_DIR / name, as_version=4)
    at = next(i for i, c in enumerate(nb.cells)
              if "parameters" in c.get("metadata", {}).get("tags", []))
    lines = ["# 브라우저 테스트용 작은 설정"] + [f"{k} = {v!r}" for k, v in SMALL[name].items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(at + 1, cell)
    nbformat.write(nb, folder / name)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(base_url, token)`` of a JupyterLab serving small copies of the class notebooks."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    for name in SMALL:
        _small_copy(name, root)
    settings = tmp / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES), encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    for key in ("PYTEST_ADDOPTS", "MPLBACKEND", "JUPYTER_TOKEN"):
        env.pop(key, None)
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.app_settings_dir={settings}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.news_url=", "--ServerApp.open_browser=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")
    log = open(tmp / "server.log", "wb")
    _server_log[0] = tmp / "server.log"
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start:\n"
                            + (tmp / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1400,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


# ---- page helpers --------------------------------------------------------------------------
#: The notebook panel of the main area (the current widget may be unset in a headless window).
_PANEL = """
const app = window.jupyterapp;
const panel = () => {
    if (!app) return null;
    for (const w of app.shell.widgets('main')) { if (w.context && w.sessionContext) return w; }
    return null;
};
"""
_NOTEBOOK_STATE = _PANEL + """
const w = panel();
if (!w || !w.context || !w.sessionContext || !w.context.isReady) return null;
const k = w.sessionContext.session && w.sessionContext.session.kernel;
if (!k) return null;
// the kernel's status also follows the subshell that handles widget messages, so a cell counts
// as running while its prompt shows [*]
const running = w.content.widgets.filter(
    c => c.model.type === 'code' && c.promptNode && c.promptNode.textContent.includes('*')).length;
return {kernel: k.id, status: k.status, path: w.context.path, running: running};
"""


_PAGE_STATE = _PANEL + """
const w = panel();
return {url: location.href, title: document.title, app: !!app,
        widget: w ? (w.constructor.name + ' ' + (w.context ? w.context.path : '')) : null,
        kernel: w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                ? w.sessionContext.session.kernel.status : null,
        dialogs: Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText)};
"""


def _wait(what, fn, timeout, poll=0.25, driver=None):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            page = driver.execute_script(_PAGE_STATE) if driver is not None else None
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; page: {page}")
        time.sleep(poll)


def _png_is_blank(src: str) -> bool:
    """True when a data-URI PNG has (almost) a single colour."""
    import numpy as np
    from PIL import Image

    data = base64.b64decode(src.split(",", 1)[1])
    px = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.uint8)
    inked = np.count_nonzero(px < 200) / px.size
    return inked < 0.01 or len(np.unique(px)) < 8


def _tracebacks(driver) -> list[str]:
    """Texts of error or traceback outputs anywhere in the notebook (the panel's included)."""
    texts = driver.execute_script("""
        return Array.from(document.querySelectorAll('.jp-OutputArea-output'))
            .map(e => e.innerText || '');""")
    return [t for t in texts if "Traceback" in t or "Error:" in t or "Exception" in t]


def _console(driver, last: int = 40) -> str:
    try:
        entries = driver.get_log("browser")
    except Exception as exc:                     # a driver without the log endpoint
        return f"(not available: {exc})"
    return "\n".join(f"{e.get('level')} {e.get('message', '')[:400]}" for e in entries[-last:])


def _server_log_tail(chars: int = 4000) -> str:
    path = _server_log[0]
    return path.read_text(errors="replace")[-chars:] if path and path.exists() else "(none)"


def _close_and_shutdown(driver):
    driver.execute_async_script(_PANEL + """
        const done = arguments[arguments.length - 1];
        (async () => {
            const w = panel();
            if (w && w.context) { try { await w.context.save(); } catch (e) {} }
            try { await app.serviceManager.sessions.shutdownAll(); } catch (e) {}
            app.shell.closeAll();
        })().then(() => done(true), () => done(false));""")


# ---- one run -------------------------------------------------------------------------------
def _run_all_and_click(driver, name: str, attempt: int, t0: float):
    """Run All, click 실행 as soon as it is there, wait for that run; returns the panel's
    status text, the ``src`` of the panel's images, the notebook's tracebacks and the
    panel's."""
    from selenium.webdriver.common.by import By

    def idle_kernel():
        state = driver.execute_script(_NOTEBOOK_STATE)
        ok = (state and state["path"].endswith(name) and state["status"] == "idle"
              and not state["running"])
        return state if ok else None

    state = _wait(f"{name}'s kernel to be idle", idle_kernel, KERNEL_TIMEOUT, driver=driver)
    kernels = _kernels.setdefault(name, [])
    assert state["kernel"] not in kernels, "each run needs a fresh kernel"
    kernels.append(state["kernel"])

    driver.execute_script(_PANEL + """
        const w = panel();
        window.jupyterapp.shell.activateById(w.id);
        window.jupyterapp.commands.execute('notebook:run-all-cells');""")
    xpath = "//button[contains(@class,'widget-button') and contains(normalize-space(.),'실행')]"

    def ready_button():
        found = driver.find_elements(By.XPATH, xpath)
        return found[0] if found and found[0].is_enabled() else None

    button = _wait("the 실행 button after Run All", ready_button, BUTTON_TIMEOUT, driver=driver)
    busy_at_click = bool((driver.execute_script(_NOTEBOOK_STATE) or {}).get("running"))
    # At once: the last cell may still be running and drawing. The click is dispatched on the
    # button itself: a pointer click at the button's coordinates can land beside it when an
    # output above it (a figure still being decoded) grows between the two, and the widget then
    # never hears of it (the status stays empty and no message reaches the kernel).
    driver.execute_script("arguments[0].click();", button)
    clicked = time.perf_counter()
    hbox = button.find_element(By.XPATH, "./..")
    status_el = hbox.find_element(By.CSS_SELECTOR, ".widget-html")
    output = hbox.find_element(By.XPATH, "./following-sibling::div[contains(@class,'widget-output')]")

    def finished():
        text = status_el.text.strip()
        busy = driver.execute_script(_NOTEBOOK_STATE)
        if ((text.startswith("끝") or text.startswith("오류")) and busy and busy["status"] == "idle"
                and not busy["running"]):
            return text
        return None

    try:
        status = _wait("the run started by the click to finish", finished, RUN_TIMEOUT,
                       driver=driver)
    except AssertionError as exc:
        prompts = driver.execute_script(_PANEL + """
            const w = panel();
            return w ? w.content.widgets.filter(c => c.model.type === 'code')
                        .map(c => c.promptNode ? c.promptNode.textContent : '?') : null;""")
        raise AssertionError(f"{exc}; status label {status_el.text.strip()!r}, button enabled "
                             f"{button.is_enabled()}, notebook {driver.execute_script(_NOTEBOOK_STATE)}, "
                             f"prompts {prompts}, panel output "
                             f"{output.text.strip()[-500:]!r}\n--- browser console:\n"
                             f"{_console(driver)}\n--- server log (end):\n"
                             f"{_server_log_tail()}") from None
    shots = os.environ.get("REGLAB_BROWSER_SHOTS")
    if shots:
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", hbox)
        time.sleep(0.5)
        Path(shots).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(shots) / f"{Path(name).stem}-{attempt}.png"))
    images = [img.get_attribute("src") for img in output.find_elements(By.TAG_NAME, "img")]
    errors = _tracebacks(driver)
    panel_errors = [t for t in (e.text for e in output.find_elements(
        By.CSS_SELECTOR, ".jp-OutputArea-output")) if "Traceback" in t or "Error" in t]
    ok = (status.startswith("끝") and not errors and len(images) == 1
          and images[0].startswith("data:image/png") and not _png_is_blank(images[0]))
    _first_clicks[(name, attempt)] = ok
    seconds = time.perf_counter() - t0
    print(f"{name} #{attempt}: clicked while {'a cell was' if busy_at_click else 'no cell was'} running, "
          f"status {status!r}, {len(images)} figure(s), "
          f"{len(errors)} traceback(s), run {time.perf_counter() - clicked:.1f} s after the click, "
          f"{seconds:.1f} s in all; first clicks that worked so far: "
          f"{sum(_first_clicks.values())}/{len(_first_clicks)}")

    return status, images, errors, panel_errors


# ---- the test ------------------------------------------------------------------------------
@pytest.mark.parametrize("attempt", range(1, PASSES + 1))
@pytest.mark.parametrize("name", list(SMALL))
def test_first_click_after_run_all_draws_a_figure(lab, browser, name, attempt):
    base, token = lab
    driver = browser
    t0 = time.perf_counter()
    driver.get(f"{base}/lab/tree/{name}?token={token}&reset")
    try:
        status, images, errors, panel_errors = _run_all_and_click(driver, name, attempt, t0)
    finally:
        _close_and_shutdown(driver)

    if panel_errors:
        assert not status.startswith("끝"), f"the run failed but the status says {status!r}"
    assert not errors, "a traceback in the notebook:\n" + "\n---\n".join(e[-1500:] for e in errors)
    assert status.startswith("끝"), f"status {status!r}"
    assert len(images) == 1, f"{len(images)} figures in the panel's output"
    assert images[0].startswith("data:image/png"), images[0][:40]
    assert not _png_is_blank(images[0]), "the panel's figure is blank"
