"""The README's picture of ``lightning-gans demo``: the page served on localhost and photographed by a headless
Chromium (playwright), with how long the page took to show its first grid.

    nox -s demo_screenshot -- --ckpt RUN/checkpoints/last.ckpt     # or an exported folder / Hub id
    python benchmarks/demo_screenshot.py --ckpt FOLDER --out benchmarks/results/demo.png

Needs the demo extra and playwright (``pip install "lightning-gans[demo]" playwright``) and a Chromium: the
one at ``--browser`` (default: Debian's /usr/bin/chromium when it exists), else playwright's own
(``playwright install chromium``).
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from pathlib import Path

from jsonargparse import CLI

from lightning_gans.checkpoints import load_variant
from lightning_gans.demo import launch


def main(
    *,
    ckpt: str,
    out: str = "benchmarks/results/demo.png",
    caption: str | None = None,
    browser: str | None = shutil.which("chromium"),
    width: int = 1280,
    height: int = 820,
    port: int = 7861,
) -> None:
    """Serve ``ckpt``'s page, wait for the first grid, photograph it to ``out`` and write ``out``'s JSON."""
    from playwright.sync_api import sync_playwright

    model = load_variant(ckpt)
    config = getattr(model, "config", None) or {}
    title = f"{config.get('variant') or type(model).__name__} · {Path(ckpt).name}"
    page_server, url = launch(model, title, "127.0.0.1", port, block=False)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=browser, headless=True)
            tab = chromium.new_page(viewport={"width": width, "height": height})
            start = time.perf_counter()
            tab.goto(url)
            grid = tab.locator("img[src*='samples_seed']").first
            grid.wait_for(timeout=120_000)  # the page draws a grid when it opens
            seconds = time.perf_counter() - start
            if caption is not None:
                first = grid.get_attribute("src")
                tab.get_by_label("caption").fill(caption)
                tab.get_by_role("button", name="Generate").click()
                tab.wait_for_function(
                    "src => { const img = document.querySelector(\"img[src*='samples_seed']\");"
                    " return img !== null && img.src !== src && img.complete; }",
                    arg=first,
                    timeout=120_000,
                )
            tab.wait_for_timeout(500)  # let the image finish painting
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=out, full_page=True)
            version = chromium.version
            chromium.close()
    finally:
        page_server.close()
    protocol = {
        "what": "seconds from opening the page to its first grid of samples, in headless Chromium on localhost",
        "checkpoint": ckpt,
        "browser": f"Chromium {version} ({browser or 'playwright'})",
        "viewport": f"{width}x{height}",
        "hardware": f"{platform.machine()}, CPU only",
    }
    print("\n".join(f"{k}: {v}" for k, v in protocol.items()))
    print(f"\n| page | first grid (s) |\n|---|---|\n| {url} | {seconds:.2f} |")
    record = Path(out).with_suffix(".json")
    record.write_text(json.dumps({"protocol": protocol, "first_grid_seconds": round(seconds, 2)}, indent=2) + "\n")
    print(f"\nwrote {out} and {record}")


if __name__ == "__main__":
    CLI(main)
