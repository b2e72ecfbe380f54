"""``/docs`` works without internet: Swagger UI's files come from the server itself.

The browser test runs Debian's Chromium against a real uvicorn server on 127.0.0.1 with every
request to any other host aborted, and checks that the endpoints are drawn.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "test-artifacts" / "api-docs-offline.png"
ENDPOINTS = {("GET", "/health"), ("GET", "/model"), ("POST", "/predict"), ("POST", "/predict/raw")}


def _absolute_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]((?:https?:)?//[^'"]+)""", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_load_nothing_from_other_hosts(server, page):
    html = httpx.get(server.url + page, timeout=10).text
    assert "/docs-assets/" in html
    assert _absolute_urls(html) == [], f"{page} still loads from elsewhere"
    for asset in re.findall(r"""['"](/docs-assets/[^'"]+)['"]""", html):
        reply = httpx.get(server.url + asset, timeout=10)
        assert reply.status_code == 200, asset
        assert len(reply.content) > 1000, asset


def test_assets_are_not_in_the_openapi_schema(server):
    paths = httpx.get(server.url + "/openapi.json", timeout=10).json()["paths"]
    assert not any(p.startswith(("/docs", "/redoc")) for p in paths)


@pytest.mark.browser
def test_docs_render_in_chromium_with_the_network_cut(server):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); this test does not skip")
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    served: list[str] = []

    def only_loopback(route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith(("data:", "blob:")):
            served.append(route.request.url)
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 1600})
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.goto(server.url + "/docs", wait_until="domcontentloaded", timeout=60_000)
            page.locator(".opblock").first.wait_for(state="visible", timeout=60_000)
            drawn = set()
            for block in page.locator(".opblock-summary").all():
                method = block.locator(".opblock-summary-method").inner_text().strip().upper()
                path = block.locator(".opblock-summary-path").inner_text().strip().replace("\u200b", "")
                drawn.add((method, path))
            title = page.locator(".information-container .title").inner_text()
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    schema = httpx.get(server.url + "/openapi.json", timeout=10).json()["paths"]
    assert ENDPOINTS <= drawn
    assert drawn == {(method.upper(), path) for path, item in schema.items() for method in item}
    assert "kemo-attention inference API" in title
    assert blocked == [], f"/docs asked other hosts for {blocked}"
    assert any("/docs-assets/swagger-ui-bundle.js" in url for url in served)
