"""The demo pages as a visitor sees them."""

import re

import pytest
from playwright.sync_api import expect

from testing.environments import SERVERS

pytestmark = pytest.mark.browser


def test_home_links_every_demo(new_page, embedded_env, run_server):
    server = run_server(SERVERS["daphne"], embedded_env)
    page = new_page()
    page.goto(server.url)
    for title in ("Chat", "WebSocket echo", "ASGI scope"):
        page.get_by_role("link", name=title).first.click()
        expect(page.locator("h1")).to_be_visible()
        page.go_back()


def test_scope_page_shows_the_http_and_websocket_scopes(
    new_page, embedded_env, run_server
):
    server = run_server(SERVERS["daphne"], embedded_env)
    page = new_page()
    page.goto(f"{server.url}/scope/")
    expect(page.locator("#http-version")).to_have_text("1.1")
    expect(page.locator("#ws-status")).to_have_text("Scope from daphne:")
    expect(page.locator("#ws-scope")).to_contain_text('"type": "websocket"')


def test_echo_page_measures_all_three_endpoints(new_page, embedded_env, run_server):
    server = run_server(SERVERS["uvicorn"], embedded_env)
    page = new_page()
    page.goto(f"{server.url}/echo/")
    expect(page.locator("#echo-results .status")).to_have_text(["open"] * 3)
    page.fill("#echo-count", "20")
    page.get_by_role("button", name="Send to all three").click()
    median = re.compile(r"^\d+\.\d{2} ms$")
    expect(page.locator("#echo-results .rtt")).to_have_text([median] * 3)


def test_the_pages_run_under_a_policy_that_refuses_inline_script(
    new_page, embedded_env, run_server
):
    """Every browser test runs under the CSP: a violation is a console error,
    which fails it. This one shows the policy is in force."""
    server = run_server(SERVERS["uvicorn"], embedded_env)
    page = new_page(expected_errors="Content Security Policy")
    page.goto(server.url)
    page.evaluate(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (event) => window.violations.push(event.violatedDirective))"
    )
    try:
        page.add_script_tag(content="window.injected = true")
    except Exception:  # noqa: BLE001 - Playwright may report the refused script
        pass
    page.wait_for_function("window.violations.length > 0")
    assert page.evaluate("window.violations") == ["script-src-elem"]
    assert page.evaluate("window.injected") is None


def test_the_servers_matrix_fits_at_a_glance_and_opens_each_detail(
    new_page, embedded_env, run_server
):
    server = run_server(SERVERS["uvicorn"], embedded_env)
    page = new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{server.url}/servers/")
    box = page.locator(".matrix-scroll")
    # Every column in view: marks, not sentences.
    assert box.evaluate("(el) => el.scrollWidth <= el.clientWidth")
    first = page.locator("#capability-matrix tbody td details").first
    detail = first.evaluate("(el) => el.lastChild.textContent.trim()")
    expect(page.get_by_text(detail, exact=True).first).to_be_hidden()
    first.locator("summary").click()
    expect(first).to_contain_text(detail)
    # Scrolled down its box, the header row stays at the top of it.
    box.evaluate("(el) => el.scrollTo(0, el.scrollHeight)")
    header = page.locator("#capability-matrix thead th").first
    top = box.evaluate("(el) => el.getBoundingClientRect().top")
    assert abs(header.bounding_box()["y"] - top) < 3
