"""The real dashboard, started by the CLI, in a real Chromium (Debian's, driven by Playwright)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dash_artefacts import LEADERBOARD, MODELS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "test-artifacts" / "dashboard.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the dashboard exited with code {server.returncode} before serving:\n{server.stdout.read()}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the dashboard did not answer on {url} within {timeout:.0f} s")


@pytest.fixture
def dashboard_server(eval_dir):
    port = free_port()
    script = Path(sys.executable).with_name("kemo-attention")  # the installed console script
    assert script.exists(), f"{script} is missing: install the project (make install)"
    command = [str(script), "dashboard", "--eval", str(eval_dir), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)  # the CLI forwards it to Streamlit
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        else:  # already gone: make sure nothing of its group is left
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.browser
def test_leaderboard_in_a_real_browser(dashboard_server):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); this test does not skip")
    from playwright.sync_api import sync_playwright

    url, server = dashboard_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(url, wait_until="domcontentloaded", timeout=60_000)
            board = page.locator('[data-testid="stTable"]').filter(has_text="dummy")
            board.wait_for(state="visible", timeout=60_000)
            text = board.inner_text()
            for model in MODELS:
                mean, sd = LEADERBOARD[model]["f1_macro"]
                assert model in text
                assert f"{mean:.3f} ± {sd:.3f}" in text
            # the four charts (curves, confusions, spread) drawn before the picture is taken
            page.wait_for_function(
                "() => document.querySelectorAll('[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg').length >= 4",
                timeout=60_000,
            )
            page.wait_for_timeout(500)  # Vega's enter transitions
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
    # stopping: SIGTERM to the CLI ends Streamlit and the CLI passes its exit code on
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0
    output = server.stdout.read()
    assert f"Dashboard: {url}" in output
