"""The built documentation site, opened in a real headless browser: every image on the index and on a variant
page loads (``naturalWidth`` above 0), every internal link resolves (no 404, and a ``#fragment`` names an
element of its page), and the variant page shows results tables read from the results files.

The site is ``$LIGHTNING_GANS_SITE`` when set (CI and ``nox -s docs`` build it first with ``sphinx-build -W``),
else it is built here into a temporary folder. The browser is a system Chromium driven by playwright (as
``benchmarks/demo_screenshot.py`` does). Without Sphinx, playwright or Chromium the test skips, unless
``LIGHTNING_GANS_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns a skip into a failure.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from conftest import REPO

REQUIRED = os.environ.get("LIGHTNING_GANS_REQUIRE_BROWSER") == "1"
PAGES = ["index.html", "variants/classic.html"]


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"LIGHTNING_GANS_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("LIGHTNING_GANS_SITE")
    if given:
        root = Path(given) if Path(given).is_absolute() else REPO / given
        if not (root / "index.html").is_file():
            pytest.fail(f"LIGHTNING_GANS_SITE={given} holds no index.html: build the site first (nox -s docs)")
        return root
    if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_parser") is None:
        unavailable("Sphinx and myst-parser are not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(REPO / "docs"), str(out)]
    built = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert built.returncode == 0, f"sphinx-build -W failed:\n{built.stdout}\n{built.stderr}"
    return out


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if importlib.util.find_spec("playwright") is None:
        unavailable("playwright is not installed (pip install -e '.[docs]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("no Chromium on PATH (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read().decode("utf-8", "replace") if url.endswith((".html", "/")) else ""
            return response.status, body
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.mark.parametrize("page", PAGES)
def test_the_page_loads_every_image_and_every_internal_link_resolves(page: str, server: str, browser: object) -> None:
    tab = browser.new_page()  # type: ignore[attr-defined]
    failed: list[str] = []
    tab.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    tab.goto(urljoin(server, page), wait_until="load")
    tab.wait_for_load_state("networkidle")
    images = tab.evaluate(
        "() => [...document.images].map(i => ({src: i.currentSrc || i.src, complete: i.complete, w: i.naturalWidth}))"
    )
    links = tab.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    tables = tab.evaluate("() => document.querySelectorAll('table.results-table').length")
    tab.close()

    assert images, f"{page} shows no image"
    broken = [image["src"] for image in images if not image["complete"] or image["w"] == 0]
    assert not broken, f"{page}: images that did not load: {broken}"
    assert not failed, f"{page}: requests that failed: {failed}"
    if page.startswith("variants/"):
        assert tables > 0, f"{page} shows no results table"

    host = urlparse(server).netloc
    bodies: dict[str, tuple[int, str]] = {}
    missing = []
    for link in sorted(set(links)):
        if urlparse(link).netloc != host:
            continue  # external: not ours to check offline
        target, fragment = urldefrag(link)
        if target not in bodies:
            bodies[target] = fetch(target)
        status, body = bodies[target]
        if status != 200:
            missing.append(f"{status} {link}")
        elif fragment and f'id="{fragment}"' not in body:
            missing.append(f"no #{fragment} in {target}")
    assert not missing, f"{page}: internal links that do not resolve:\n" + "\n".join(missing)
