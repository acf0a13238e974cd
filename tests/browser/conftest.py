"""
Browser tests: Playwright driving Debian's Chromium (no browser download) against
real server processes. Every page a test opens is saved as a screenshot in
test-artifacts/screenshots/ (git-ignored), and a console error fails the test.
"""

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Chromium's flags for a sandboxed root user on a machine without network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Package scope: Playwright's sync API keeps an event loop running in this
# thread until it exits, which makes every later asyncio test in the session fail
# ("cannot be called from a running event loop").
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, request, run_server) -> Iterator[Callable[..., Page]]:
    """
    Open pages in fresh browser contexts (separate cookies, like two people).
    Depends on run_server so that servers stop only after the screenshots.
    """
    pages: list[Page] = []
    console_errors: list[str] = []

    def open_page(expected_errors: str = "", **context_options) -> Page:
        page = browser.new_context(**context_options).new_page()
        page.set_default_timeout(15_000)

        def on_console(message) -> None:
            if message.type == "error" and not (
                expected_errors and re.search(expected_errors, message.text)
            ):
                console_errors.append(message.text)

        page.on("console", on_console)
        pages.append(page)
        return page

    yield open_page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "-", request.node.name)
    # Every screenshot first: closing one page changes what the others show.
    for number, page in enumerate(pages, start=1):
        if not page.is_closed():
            page.screenshot(path=SCREENSHOTS / f"{name}-{number}.png", full_page=True)
    for page in pages:
        page.context.close()
    assert console_errors == [], "the browser console reported errors"
