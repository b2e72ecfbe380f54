"""report.html in a real Chromium, offline: it asks for nothing but itself and fits 1000 px."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_folder import CV_OF_LABEL, LABELS, PROTOCOLS, write_study_folder

from kemo_attention.study.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SCREENSHOT = Path("/tmp/kemo-study-report-1000.png")
WIDTH = 1000


@pytest.mark.browser
def test_report_opens_offline_and_fits_a_1000_px_window(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); this test does not skip")
    from playwright.sync_api import sync_playwright

    html_path, _ = write_report(write_study_folder(tmp_path / "study"))
    url = html_path.resolve().as_uri()
    requested, aborted = [], []

    def only_the_file(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 1400})
            page.route("**/*", only_the_file)
            # data: URIs are the page's own bytes, not requests to anywhere; everything else is recorded
            page.on("request", lambda request: None if request.url.startswith("data:") else requested.append(request.url))
            page.goto(url, wait_until="load", timeout=60_000)
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            images = page.evaluate("[...document.images].map(i => [i.alt, i.complete, i.naturalWidth])")
            table_ids = set(page.evaluate("[...document.querySelectorAll('table')].map(t => t.id)"))
            # no table is cut off unseen: one wider than the page scrolls inside its own box
            boxes = page.evaluate("[...document.querySelectorAll('.table-box')].map(b => b.getBoundingClientRect().right)")
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()

    assert requested == [url] and not aborted, (requested, aborted)
    assert scroll_width <= WIDTH
    assert max(boxes) <= WIDTH
    assert len(images) == 5 and all(complete and width > 0 for _alt, complete, width in images), images
    for label in LABELS:
        for cv in CV_OF_LABEL[label]:
            for protocol in PROTOCOLS:
                assert f"summary-{cv}-{protocol}" in table_ids
                assert f"label-{label}-{cv}-{protocol}" in table_ids
    assert {"run", "inputs", "tests-table"} <= table_ids
    assert SCREENSHOT.stat().st_size > 50_000
