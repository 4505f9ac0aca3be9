"""Chromium for the browser tests (tests/e2e, tests/site): a pytest plugin the root conftest loads.

Debian's Chromium (``/usr/bin/chromium``, or ``$COURSE_CHROMIUM``) driven by Playwright for Python;
without either, every test that asks for the ``browser`` fixture is skipped with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium binary, or a skip that says how to get one."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set "
            "COURSE_CHROMIUM): the browser tests need a real browser"
        )
    pytest.importorskip(
        "playwright.sync_api", reason="the browser tests need Playwright for Python"
    )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium):
    """A headless Chromium for one test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
