"""A real server on a loopback port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from assistant.config import Settings
from assistant.web.app import create_app

from ..serving import free_port, wait_until_healthy

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".cache" / "screenshots"
# Chromium as root, headless, without the background traffic a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def server(fixture_release: Settings) -> Iterator[str]:
    # The whole browser session is one client address; tests/web/test_ratelimit.py covers the rate limit.
    with serving(fixture_release.model_copy(update={"rate_limit_per_minute": 0})) as base:
        yield base


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app for ``settings`` served on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(base)
    try:
        yield base
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def fresh_screenshots() -> None:
    """Only this run's screenshots in the folder, so its listing is the list of states checked."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Save a screenshot of a page state under .cache/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page: object, name: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path

    save.folder = SCREENSHOTS  # type: ignore[attr-defined]
    return save
