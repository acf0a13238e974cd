"""Chat as two people use it: two browsers, two servers, one room."""

import uuid

import pytest
from playwright.sync_api import Page, expect

from serving.processes import ServerProcess
from testing.environments import SERVERS

pytestmark = pytest.mark.browser
# Chromium logs a failed reconnection attempt (server down) as a console error.
RECONNECT_ERRORS = r"WebSocket connection to .* failed"


def open_room(page: Page, server: ServerProcess, room: str, name: str) -> None:
    page.goto(f"{server.url}/chat/{room}/")
    page.fill("#name", name)
    # Leaving the field commits the name (its change event): the page reconnects
    # under it. A change dispatched by hand would come again, from the browser,
    # when the next fill moves the focus: a second reconnect whose welcome
    # clears whatever error the page shows by then.
    page.locator("#name").blur()
    expect(page.locator("#status")).to_have_text(f"online as {name}")


def send(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.click("#send-button")


def log_line(page: Page, text: str):
    # Exact: a line's text runs on into its time ("flood 2" + "9:05:01 PM").
    return page.locator(".chat-log .msg:not(.pending)").filter(
        has=page.get_by_text(text, exact=True)
    )


def test_two_people_chat_through_two_servers(new_page, shared_env, run_server):
    uvicorn = run_server(SERVERS["uvicorn"], shared_env)
    daphne = run_server(SERVERS["daphne"], shared_env)
    room = f"browser-{uuid.uuid4().hex[:8]}"
    ada = new_page(expected_errors=RECONNECT_ERRORS)
    bob = new_page()
    open_room(ada, uvicorn, room, "ada")
    open_room(bob, daphne, room, "bob")
    expect(ada.locator("#online li")).to_have_text(["ada", "bob"])

    send(ada, "hello from uvicorn")
    expect(log_line(bob, "hello from uvicorn")).to_be_visible()
    send(bob, "hello from daphne")
    expect(log_line(ada, "hello from daphne")).to_be_visible()

    bob.reload()
    expect(bob.locator("#status")).to_have_text("online as bob")
    expect(log_line(bob, "hello from uvicorn")).to_be_visible()
    expect(log_line(bob, "hello from daphne")).to_be_visible()

    uvicorn.restart()
    expect(ada.locator(".chat-log .notice").first).to_contain_text("reconnecting")
    expect(ada.locator("#status")).to_have_text("online as ada", timeout=30_000)
    send(ada, "back after a restart")
    expect(log_line(bob, "back after a restart")).to_be_visible()
    expect(bob.locator("#online li")).to_have_text(["ada", "bob"])


def test_errors_a_person_can_hit_are_explained(new_page, embedded_env, run_server):
    # A low rate, so that a burst from the page exceeds it whatever the load.
    env = {
        **embedded_env,
        "DJANGO_CHAT_RATE_PER_SECOND": "2",
        "DJANGO_CHAT_RATE_BURST": "5",
    }
    server = run_server(SERVERS["uvicorn"], env)
    # The error pages are answered with 400 and 404, which Chromium logs.
    page = new_page(expected_errors=r"status of (400|404)")
    page.goto(f"{server.url}/chat/")
    page.fill("#room-name", "Bad Room!")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Room names are 1-49 lowercase")

    page.goto(f"{server.url}/chat/Bad.Room/")
    expect(page.get_by_role("alert")).to_contain_text("Room names are 1-49 lowercase")

    open_room(page, server, "errors", "ada")
    expect(page.locator("#online li.you")).to_have_text("ada")
    page.fill("#text", "héllo")
    expect(page.locator("#char-count")).to_have_text("5 / 2000")
    send(page, "x" * 2001)
    expect(page.locator("#chat-error")).to_have_text(
        "Messages are limited to 2000 characters; this one has 2001."
    )
    # Thirty messages in one go, as a stuck Enter key would send them.
    page.evaluate(
        """() => {
            const text = document.getElementById("text");
            const form = document.getElementById("send");
            for (let n = 0; n < 30; n++) {
                text.value = `flood ${n}`;
                form.requestSubmit();
            }
        }"""
    )
    expect(page.locator("#chat-error")).to_contain_text("messages a second")
    # What was dropped is sent again as the rate allows: nothing stays pending.
    expect(page.locator(".chat-log .msg.pending")).to_have_count(0, timeout=60_000)
    expect(log_line(page, "flood 29")).to_be_visible()
    # In the order typed, on the page and in the stored history; and the
    # refusal is gone once messages go through.
    flood = [f"flood {n}" for n in range(30)]
    texts = page.locator(".chat-log .msg .author + span")
    expect(texts).to_have_text(flood)
    expect(page.locator("#chat-error")).to_be_hidden()
    page.reload()
    expect(page.locator(".chat-log .msg .author + span")).to_have_text(flood)
