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


def _start(*inputs: str):
    """`kemo-attention dashboard INPUTS --port P` as a subprocess; yields (url, process)."""
    port = free_port()
    script = Path(sys.executable).with_name("kemo-attention")  # the installed console script
    assert script.exists(), f"{script} is missing: install the project (make install)"
    command = [str(script), "dashboard", *inputs, "--port", str(port)]
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


@pytest.fixture
def dashboard_server(eval_dir):
    yield from _start("--eval", str(eval_dir))


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
            board = page.locator('[data-testid="stTable"]').filter(has_text="dummy").first  # the leaderboard (the expander holds all metrics)
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


# --------------------------------------------------------------------------- fits the screen
WIDTHS = (1000, 1400)
PAGES = ("Models", "Features", "People", "Data", "Try it", "Study")
# Charts each page draws with the fixtures (so a page measured before it rendered fails).
MIN_CHARTS = {"Models": 4, "Features": 1, "People": 2, "Data": 2, "Try it": 1, "Study": 1}

# What sticks out, measured in the page: the document scrolling sideways; any chart, table or
# data grid wider than the block it sits in (a column, or the page); a data grid or table
# whose content needs a horizontal scroll bar (columns cut off); a chart label that Vega cut
# short with "…", or drawn past the chart's edge (clipped). Charts are SVG in Streamlit, so
# their text is in the page.
OVERFLOWS_JS = """
() => {
  const found = [];
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1) found.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
  const main = document.querySelector('[data-testid="stMain"]');
  const describe = el => (el.closest('[data-testid="stElementContainer"]') || el).innerText.slice(0, 60).replace(/\\s+/g, ' ');
  for (const el of main.querySelectorAll('[data-testid="stElementContainer"]')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    const block = el.parentElement.getBoundingClientRect();
    if (box.right > block.right + 1) found.push(`element ${Math.round(box.width)} px wide past its block (${Math.round(block.width)} px): ${describe(el)}`);
    for (const drawn of el.querySelectorAll('canvas, svg.marks, [data-testid="stVegaLiteChart"] svg')) {
      const r = drawn.getBoundingClientRect();
      if (r.right > box.right + 1 || r.width > box.width + 1) found.push(`chart ${Math.round(r.width)} px in a ${Math.round(box.width)} px column: ${describe(el)}`);
    }
    for (const scroller of el.querySelectorAll('.dvn-scroller')) {
      if (scroller.scrollWidth > scroller.clientWidth + 1) found.push(`data grid needs a sideways scroll (${scroller.scrollWidth} > ${scroller.clientWidth}): ${describe(el)}`);
    }
    for (const svg of el.querySelectorAll('svg.marks')) {
      const frame = svg.getBoundingClientRect();
      for (const text of svg.querySelectorAll('text')) {
        const r = text.getBoundingClientRect();
        if (text.textContent.endsWith('…')) found.push(`chart label cut short: "${text.textContent}"`);
        // the right edge only: rotated axis titles on the left sit a pixel or two outside by their glyph box
        else if (r.width > 0 && r.right > frame.right + 2) found.push(`chart text past the chart's right edge: "${text.textContent}"`);
      }
    }
    for (const table of el.querySelectorAll('[data-testid="stTable"] table')) {
      const r = table.getBoundingClientRect();
      if (r.right > box.right + 1) found.push(`table ${Math.round(r.width)} px in a ${Math.round(box.width)} px column: ${describe(el)}`);
    }
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def full_dashboard(eval_dir, bundle_path, demo_release, study_dir):
    # No --check: the Data page checks the demo release itself, so it shows all 27 data types
    # and the problems of the demo's deliberate dirt (long file names and messages).
    yield from _start("--eval", str(eval_dir), "--bundle", str(bundle_path), "--release", str(demo_release), "--study", str(study_dir))


def _settled(page) -> None:
    """Wait until Streamlit has finished the run (no stale element left) and the charts are drawn."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-stale=true]')",
        timeout=120_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')]"
        ".every(c => { const d = c.querySelector('svg.marks, canvas'); return d && d.getBoundingClientRect().width > 0; })",
        timeout=60_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stDataFrame]')].every(d => d.querySelector('.dvn-scroller'))",
        timeout=60_000,
    )
    page.wait_for_timeout(1500)  # Vega's enter transitions and the grids' column sizing


@pytest.mark.browser
def test_every_page_fits_1000_and_1400_px_windows(full_dashboard):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); this test does not skip")
    from playwright.sync_api import sync_playwright

    url, _server = full_dashboard
    problems = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 2400})
                page.goto(url, wait_until="domcontentloaded", timeout=60_000)
                page.locator('[data-testid="stTable"]').first.wait_for(state="visible", timeout=60_000)
                for name in PAGES:
                    page.locator('[data-testid="stSidebar"] label').filter(has_text=name).first.click()
                    page.locator("h2").filter(has_text=name).first.wait_for(state="visible", timeout=60_000)
                    _settled(page)
                    charts = page.locator('[data-testid="stVegaLiteChart"] svg.marks').count()
                    assert charts >= MIN_CHARTS[name], f"{name} at {width} px drew {charts} charts"
                    assert not page.locator('[data-testid="stException"]').count(), f"{name} at {width} px raised"
                    found = page.evaluate(OVERFLOWS_JS)
                    if found:
                        problems[f"{name} at {width} px"] = found
                    SCREENSHOT.parent.mkdir(exist_ok=True)
                    page.screenshot(path=str(SCREENSHOT.with_name(f"dashboard-{name.lower().replace(' ', '-')}-{width}.png")))
                page.close()
        finally:
            browser.close()
    assert not problems, "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in problems.items())
