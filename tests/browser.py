"""Helpers for the browser tests: drive Debian's Chromium with Playwright against `app.py` on a free port.

`playwright install` cannot download browsers here, so the tests use the system Chromium
(`apt-get install -y chromium`) and skip with a clear reason when it is missing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path(os.environ.get("STYLIST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium browser from the Debian package, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
