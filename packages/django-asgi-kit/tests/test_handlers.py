"""django_asgi_kit.handlers.ASGIHandler: threads reused, sync code still isolated,
signals queued on the request's thread, disconnects still cancel the view.

Tests taking `any_handler` run under Django's handler too: what they check is
Django's behaviour, which the fast handler must keep. The others check what
only the fast one does (`handler`), or why it exists (Django's)."""

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator
from django.core import signals
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django_asgi_kit import (
    ASGIHandler,
    get_asgi_application,
    holds_no_thread,
    observe,
    with_handler_threads,
)
from django_asgi_kit.handlers import RequestThread

from tests import threads_urls
from tests.conftest import let_queued_work_run

REQUEST_SCOPE = {
    "type": "http",
    "http_version": "1.1",
    "method": "GET",
    "path": "/wait",
    "query_string": b"",
    "headers": [(b"host", b"testserver")],
}


async def get(application, path: str) -> dict:
    """The response message, with its body, once the handler has finished."""
    communicator = HttpCommunicator(
        application, "GET", path, headers=[(b"host", b"testserver")]
    )
    response = await communicator.get_response(timeout=10)
    # Let the handler finish (response.close(), the body file) before returning.
    await communicator.wait(timeout=10)
    return response


async def get_json(application, path: str) -> dict:
    response = await get(application, path)
    assert response["status"] == 200, response["body"]
    return json.loads(response["body"])


async def test_sequential_requests_reuse_one_thread(handler):
    threads = {(await get_json(handler, "/thread"))["thread"] for _ in range(5)}
    assert len(threads) == 1


async def test_djangos_handler_starts_a_thread_per_request():
    """Why the subclass exists; if this starts failing, Django changed."""
    stock = DjangoASGIHandler()
    # Each request's executor names its thread afresh ("ThreadPoolExecutor-N_0"),
    # whereas the OS may hand an ended thread's id to the next one.
    threads = {(await get_json(stock, "/thread"))["name"] for _ in range(5)}
    assert len(threads) == 5


async def test_concurrent_requests_still_run_on_separate_threads(any_handler):
    first, second = await asyncio.gather(
        get_json(any_handler, "/meet"), get_json(any_handler, "/meet")
    )
    assert first["thread"] != second["thread"]


async def test_idle_threads_are_capped(handler, settings):
    settings.ASGI_IDLE_THREADS = 1
    bodies = await asyncio.gather(
        get_json(handler, "/meet"), get_json(handler, "/meet")
    )
    assert len(handler.idle_threads) == 1
    # The other thread ends (if it has not yet) once it has run what its
    # request queued.
    kept = handler.idle_threads[0]._thread.ident
    retired = {body["thread"] for body in bodies} - {kept}
    ending = [thread for thread in threading.enumerate() if thread.ident in retired]
    for thread in ending:
        thread.join(10)
    assert not any(thread.is_alive() for thread in ending)


@pytest.fixture
def request_finished() -> Iterator[threading.Event]:
    """Record request_started and request_finished in threads_urls.events."""
    finished = threading.Event()

    def on_started(**kwargs: object) -> None:
        threads_urls.events.append(("started", threading.get_ident()))

    def on_finished(**kwargs: object) -> None:
        threads_urls.events.append(("finished", threading.get_ident()))
        finished.set()

    threads_urls.events.clear()
    signals.request_started.connect(on_started)
    signals.request_finished.connect(on_finished)
    yield finished
    signals.request_started.disconnect(on_started)
    signals.request_finished.disconnect(on_finished)


async def wait_for(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10), "the request thread never ran it"


async def test_signals_run_on_the_request_thread_around_the_view(
    any_handler, request_finished
):
    """Queued by the fast handler, not awaited, yet in Django's order and on
    the view's thread."""
    await get_json(any_handler, "/thread")
    await wait_for(request_finished)
    assert [name for name, _ in threads_urls.events] == ["started", "view", "finished"]
    assert len({thread for _, thread in threads_urls.events}) == 1
    assert threading.get_ident() not in {thread for _, thread in threads_urls.events}


async def test_a_failing_receiver_is_logged_and_the_request_served(
    handler, request_finished, caplog
):
    def fail(**kwargs: object) -> None:
        raise RuntimeError("receiver failed")

    signals.request_started.connect(fail)
    try:
        body = await get_json(handler, "/thread")
        await wait_for(request_finished)
    finally:
        signals.request_started.disconnect(fail)
    assert body["thread"]
    [record] = [
        r for r in caplog.records if "failed on the request thread" in r.message
    ]
    assert record.name == "django.request"
    assert "receiver failed" in str(record.exc_info[1])


async def test_async_to_sync_in_a_sync_view_runs_on_the_servers_loop(any_handler):
    """What the in-memory channel layer needs from a sync view."""
    body = await get_json(any_handler, "/loop")
    assert body["loop"] == id(asyncio.get_running_loop())


@pytest.mark.parametrize("choice", ["fast", "django"])
async def test_a_sync_view_shares_asgiref_locals_with_the_loop(settings, choice):
    """As Django's translation and URL prefix do: the view sees what the loop
    set before it, and the loop sees what the view set."""
    settings.ASGI_HANDLER = choice
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.threads_urls.local_middleware"]
    handler = get_asgi_application()
    response = await get(handler, "/local")
    let_queued_work_run(handler)
    assert json.loads(response["body"]) == {"seen": "set on the loop"}
    headers = {name.lower(): value for name, value in response["headers"]}
    assert headers[b"x-local-after-view"] == b"set by the view"


async def test_a_sync_views_exception_reaches_djangos_error_handling(
    any_handler, caplog
):
    response = await get(any_handler, "/fail")
    assert response["status"] == 500
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert str(record.exc_info[1]) == "the sync view failed"


def test_a_view_outliving_its_event_loop_leaves_the_thread_working():
    """A server stopping may close its loop while a sync view still runs."""
    thread = RequestThread()
    view_may_end = threading.Event()
    loop = asyncio.new_event_loop()
    task = loop.create_task(thread.call(view_may_end.wait))
    loop.run_until_complete(asyncio.sleep(0.1))
    task.cancel()
    loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    loop.close()
    view_may_end.set()
    next_work_ran = threading.Event()
    thread.queue(next_work_ran.set)
    assert next_work_ran.wait(10)
    thread.shutdown()


# The sync view waits in async_to_sync: the cancel reaches what it awaits.
WAITING_VIEWS = ["/wait", "/wait-sync"]


async def start_waiting(handler, path: str) -> ApplicationCommunicator:
    """A request to a view that waits, once it waits."""
    threads_urls.waiting = asyncio.Event()
    threads_urls.wait_ended.clear()
    communicator = ApplicationCommunicator(handler, {**REQUEST_SCOPE, "path": path})
    await communicator.send_input({"type": "http.request", "body": b""})
    await asyncio.wait_for(threads_urls.waiting.wait(), timeout=10)
    return communicator


def reporting_cancelling(application, seen: list[int]):
    """`application`, reporting its task's pending cancellations after it."""

    async def wrapper(scope: dict, receive, send) -> None:
        await application(scope, receive, send)
        seen.append(asyncio.current_task().cancelling())

    return wrapper


@pytest.mark.parametrize("path", WAITING_VIEWS)
async def test_a_client_disconnect_cancels_the_view(
    any_handler, request_finished, path
):
    seen: list[int] = []
    communicator = await start_waiting(reporting_cancelling(any_handler, seen), path)
    await communicator.send_input({"type": "http.disconnect"})
    # Raises if the handler let the cancellation escape.
    await communicator.wait(timeout=10)
    assert await communicator.receive_nothing()
    await wait_for(request_finished)
    assert threads_urls.wait_ended == ["cancelled"]
    # The cancellation was the handler's own, and is handled: none is left
    # pending for whatever runs after it in the task (asyncio.timeout).
    assert seen == [0]


@pytest.mark.parametrize("path", WAITING_VIEWS)
async def test_a_cancelled_request_stays_cancelled(handler, request_finished, path):
    """Only the client's disconnect is absorbed; a server's cancel goes on, and
    stops the view, and request_finished runs (Django's handler leaves the view
    running and skips request_finished then)."""
    communicator = await start_waiting(handler, path)
    communicator.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await communicator.future
    await wait_for(request_finished)
    assert threads_urls.wait_ended == ["cancelled"]


async def test_a_request_django_cannot_build_gets_400_and_finishes(
    any_handler, request_finished
):
    scope = {**REQUEST_SCOPE, "path": "/thread", "query_string": b"q=\xff"}
    communicator = ApplicationCommunicator(any_handler, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    assert start["status"] == 400
    await communicator.wait(timeout=10)
    await wait_for(request_finished)
    assert [name for name, _ in threads_urls.events] == ["started", "finished"]


# ASGI_MAX_REQUEST_BODY: a body over it is refused before it is read.


@pytest.fixture
def ten_bytes_at_most(handler, settings) -> ASGIHandler:
    settings.ASGI_MAX_REQUEST_BODY = 10
    return handler


def post_scope(*headers: tuple[bytes, bytes]) -> dict:
    return {**REQUEST_SCOPE, "method": "POST", "path": "/thread", "headers": headers}


async def test_a_body_declared_over_the_limit_is_refused_unread(ten_bytes_at_most):
    scope = post_scope((b"host", b"testserver"), (b"content-length", b"11"))
    # No body is sent: a handler that waited for it would never answer.
    communicator = ApplicationCommunicator(ten_bytes_at_most, scope)
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    assert (start["status"], body["body"]) == (413, b"Request body over 10 bytes.\n")
    await communicator.wait(timeout=10)


async def test_a_body_is_refused_once_what_arrived_passes_the_limit(
    ten_bytes_at_most,
):
    # No Content-Length (chunked): counted as it arrives.
    communicator = ApplicationCommunicator(ten_bytes_at_most, post_scope())
    for _ in range(3):
        message = {"type": "http.request", "body": b"x" * 6, "more_body": True}
        await communicator.send_input(message)
    start = await communicator.receive_output(timeout=10)
    assert start["status"] == 413
    await communicator.wait(timeout=10)
    assert communicator.input_queue.qsize() == 1, "the third piece was never read"


async def test_a_body_within_the_limit_reaches_the_view(ten_bytes_at_most):
    scope = post_scope((b"host", b"testserver"), (b"content-length", b"10"))
    communicator = ApplicationCommunicator(ten_bytes_at_most, scope)
    await communicator.send_input({"type": "http.request", "body": b"x" * 10})
    start = await communicator.receive_output(timeout=10)
    # The view's own answer (POST without a CSRF token: 403), not 413.
    assert start["status"] == 403
    await communicator.wait(timeout=10)


# ASGI_MAX_SYNC_REQUESTS: requests for sync views take turns.


TURNS = 2


@pytest.fixture
def two_turns(settings) -> Iterator[ASGIHandler]:
    """A handler serving at most TURNS requests for sync views at once."""
    settings.ASGI_MAX_SYNC_REQUESTS = TURNS
    threads_urls.gate = threads_urls.Gate()
    handler = ASGIHandler()
    yield handler
    threads_urls.gate.opened.set()
    let_queued_work_run(handler)


async def hold_gate(handler: ASGIHandler, requests: int) -> list[asyncio.Task]:
    """Start `requests` to the gate view; return once it holds as many as it
    may, and a moment more (in which one more would get in, were it let)."""
    tasks = [asyncio.create_task(get_json(handler, "/gate")) for _ in range(requests)]
    for _ in range(1000):
        if threads_urls.gate.inside == min(requests, TURNS):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the gate did not fill within 10 s")
    await asyncio.sleep(0.2)
    return tasks


async def test_sync_views_beyond_the_limit_wait_their_turn(two_turns):
    held = await hold_gate(two_turns, 5)
    assert threads_urls.gate.inside == TURNS
    threads_urls.gate.opened.set()
    bodies = await asyncio.gather(*held)
    assert threads_urls.gate.most_inside == TURNS
    # A thread is borrowed once a request has its turn: two served all five.
    assert len({body["thread"] for body in bodies}) <= TURNS


@pytest.fixture
def turn_events() -> Iterator[dict[str, int]]:
    """The sync-turn counts django_asgi_kit.observe reports, added up."""
    counts = {observe.SYNC_TURNS_WAITING: 0, observe.SYNC_TURNS_IN_USE: 0}

    def add(event: str, change: int) -> None:
        if event in counts:
            counts[event] += change

    observe.add_listener(add)
    yield counts
    observe.remove_listener(add)


async def test_waiting_and_held_turns_are_reported(two_turns, turn_events):
    held = await hold_gate(two_turns, 5)
    assert turn_events == {
        observe.SYNC_TURNS_IN_USE: TURNS,
        observe.SYNC_TURNS_WAITING: 5 - TURNS,
    }
    threads_urls.gate.opened.set()
    await asyncio.gather(*held)
    assert turn_events == {observe.SYNC_TURNS_IN_USE: 0, observe.SYNC_TURNS_WAITING: 0}


async def test_async_views_never_wait_for_a_turn(two_turns):
    held = await hold_gate(two_turns, TURNS)
    assert await get_json(two_turns, "/async") == {"async": True}
    threads_urls.gate.opened.set()
    await asyncio.gather(*held)


async def test_a_script_prefix_is_left_out_when_resolving_early(two_turns):
    """Under a prefix (root_path), the path below it decides whether a
    request waits for a turn: an async view's does not."""
    held = await hold_gate(two_turns, TURNS)
    communicator = HttpCommunicator(
        two_turns, "GET", "/app/async", headers=[(b"host", b"testserver")]
    )
    communicator.scope["root_path"] = "/app"
    response = await communicator.get_response(timeout=5)
    assert json.loads(response["body"]) == {"async": True}
    threads_urls.gate.opened.set()
    await asyncio.gather(*held)


async def test_a_path_leading_nowhere_waits_as_a_sync_view(two_turns):
    held = await hold_gate(two_turns, TURNS)
    not_found = asyncio.create_task(get(two_turns, "/nowhere"))
    await asyncio.sleep(0.2)
    assert not not_found.done()
    threads_urls.gate.opened.set()
    assert (await not_found)["status"] == 404
    await asyncio.gather(*held)


async def test_a_request_cancelled_while_waiting_gives_up_no_turn(two_turns):
    held = await hold_gate(two_turns, TURNS)
    waiting = ApplicationCommunicator(two_turns, {**REQUEST_SCOPE, "path": "/gate"})
    await waiting.send_input({"type": "http.request", "body": b""})
    await asyncio.sleep(0.2)
    waiting.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting.future
    threads_urls.gate.opened.set()
    await asyncio.gather(*held)
    # Still two turns, neither lost nor gained.
    threads_urls.gate = threads_urls.Gate()
    held = await hold_gate(two_turns, TURNS + 1)
    assert threads_urls.gate.inside == TURNS
    threads_urls.gate.opened.set()
    await asyncio.gather(*held)
    assert threads_urls.gate.most_inside == TURNS


async def test_a_urlconf_a_middleware_picks_is_resolved_again(two_turns, settings):
    """The path is resolved in ROOT_URLCONF before Django runs; a middleware
    choosing another urlconf for the request gets that urlconf's view."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "tests.threads_urls.other_urlconf_middleware",
    ]
    handler = ASGIHandler()
    body = await get_json(handler, "/thread")
    let_queued_work_run(handler)
    assert body == {"urlconf": "other"}


# Requests that stay open hold no turn, no thread and no database connection.


@pytest.fixture
def may_end() -> Iterator[asyncio.Event]:
    """Streams and parked views of threads_urls wait until this is set."""
    threads_urls.may_end = asyncio.Event()
    yield threads_urls.may_end
    threads_urls.may_end.set()


@pytest.fixture
def one_shared_thread(settings) -> Iterator[ASGIHandler]:
    """A handler whose requests without a thread share exactly one."""
    settings.ASGI_SHARED_THREADS = 1
    handler = ASGIHandler()
    yield handler
    let_queued_work_run(handler)


async def open_stream(
    handler: DjangoASGIHandler,
) -> tuple[ApplicationCommunicator, dict]:
    """A request to the streaming view, once its first chunk has arrived."""
    communicator = ApplicationCommunicator(
        handler, {**REQUEST_SCOPE, "path": "/stream"}
    )
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    assert start["status"] == 200
    first = await communicator.receive_output(timeout=10)
    return communicator, json.loads(first["body"])


async def read_to_the_end(communicator: ApplicationCommunicator) -> None:
    while (await communicator.receive_output(timeout=10)).get("more_body"):
        pass
    await communicator.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
async def test_streamed_responses_hold_no_turn(two_turns, may_end):
    """More open streams from a sync view than turns, and a sync view still
    answers: a turn ends with the response, not with its body."""
    streams = [await open_stream(two_turns) for _ in range(TURNS + 1)]
    assert "thread" in await get_json(two_turns, "/thread")
    may_end.set()
    for communicator, _ in streams:
        await read_to_the_end(communicator)


@pytest.mark.django_db(transaction=True)
async def test_a_streamed_response_arrives_whole(any_handler, may_end):
    communicator, first = await open_stream(any_handler)
    assert len(first["calls"]) == 2
    may_end.set()
    rest = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        # The last message of a stream may come without a body.
        rest += message.get("body", b"")
        if not message.get("more_body"):
            break
    assert rest == b"end\n"
    await communicator.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
async def test_a_streamed_body_gives_back_its_thread_and_connection(
    one_shared_thread, may_end
):
    handler = one_shared_thread
    communicator, body = await open_stream(handler)
    first, second = body["calls"]
    # The body's sync calls ran on the shared thread, which gave the first
    # call's connection back before the second call.
    assert first["thread"] == second["thread"]
    assert first["thread"].startswith("django-shared")
    assert not second["connection_left_open"]
    # The request's own thread is idle while the body is sent, and serves
    # the next request.
    [idle] = handler.idle_threads
    assert (await get_json(handler, "/thread"))["thread"] == idle._thread.ident
    may_end.set()
    await read_to_the_end(communicator)


@pytest.mark.django_db(transaction=True)
async def test_a_view_holding_no_thread_gives_it_back_before_it_runs(
    one_shared_thread, may_end
):
    handler = one_shared_thread
    threads_urls.waiting = asyncio.Event()
    communicator = ApplicationCommunicator(
        handler, {**REQUEST_SCOPE, "path": "/parked"}
    )
    await communicator.send_input({"type": "http.request", "body": b""})
    await asyncio.wait_for(threads_urls.waiting.wait(), timeout=10)
    assert len(handler.idle_threads) == 1  # while the view waits
    may_end.set()
    start = await communicator.receive_output(timeout=10)
    assert start["status"] == 200
    body = json.loads((await communicator.receive_output(timeout=10))["body"])
    await communicator.wait(timeout=10)
    before, after = body["calls"]
    assert before["thread"] == after["thread"]
    assert before["thread"].startswith("django-shared")
    assert not after["connection_left_open"]


@pytest.mark.django_db(transaction=True)
async def test_holds_no_thread_leaves_djangos_own_handler_alone(may_end):
    may_end.set()
    threads_urls.waiting = asyncio.Event()
    body = await get_json(DjangoASGIHandler(), "/parked")
    assert not any(c["thread"].startswith("django-shared") for c in body["calls"])


def test_holds_no_thread_refuses_a_sync_view():
    with pytest.raises(TypeError, match="async views"):
        holds_no_thread(threads_urls.thread_view)


async def test_a_stream_that_lost_its_cancellation_ends_at_its_next_send(
    handler, request_finished
):
    """The client left and the body swallowed the cancellation: its next send
    brings the cancellation back, and the response ends quietly."""
    threads_urls.waiting = asyncio.Event()
    threads_urls.after_lost_cancel.clear()
    seen: list[int] = []
    communicator = ApplicationCommunicator(
        reporting_cancelling(handler, seen), {**REQUEST_SCOPE, "path": "/losing-cancel"}
    )
    await communicator.send_input({"type": "http.request", "body": b""})
    await asyncio.wait_for(threads_urls.waiting.wait(), timeout=10)
    await communicator.send_input({"type": "http.disconnect"})
    # Left to itself (communicator.wait would cancel it after its timeout).
    await asyncio.wait([communicator.future], timeout=10)
    assert communicator.future.done(), "the stream went on without its client"
    assert communicator.future.exception() is None
    await wait_for(request_finished)
    assert threads_urls.after_lost_cancel == ["lost", "cancelled again"]
    assert seen == [0]


async def report_sync_thread(scope: dict, receive, send) -> None:
    """An ASGI app (a consumer's shape) reporting where its sync calls run."""
    name = await sync_to_async(lambda: threading.current_thread().name)()
    await send({"type": "seen", "thread": name})


@pytest.mark.parametrize("choice", ["fast", "django"])
async def test_with_handler_threads_shares_the_fast_handlers_threads(settings, choice):
    """project/asgi.py's websocket branch works under either handler: on the
    fast one's shared threads, or as Channels runs it."""
    settings.ASGI_HANDLER = choice
    handler = get_asgi_application()
    app = with_handler_threads(handler, report_sync_thread)
    communicator = ApplicationCommunicator(app, {"type": "websocket"})
    seen = await communicator.receive_output(timeout=10)
    await communicator.wait(timeout=10)
    if choice == "fast":
        assert seen["thread"].startswith("django-shared")
    else:
        assert app is report_sync_thread
        assert not seen["thread"].startswith("django-")
