"""
Django's ASGI handler with these changes, each measured with the benchmark's
compare mode or checked by a test (docs/performance.md):

1. Threads are reused between requests. Django runs each request in a fresh
   ThreadSensitiveContext, so the first sync call of every request (the
   request_started signal, at least) starts a new thread, which is stopped at
   the end. Here each request borrows an idle RequestThread instead, so a
   request's sync code still runs on one thread of its own, as Django
   requires, and concurrent requests still run in parallel.
2. Django's middleware is loaded as its twins in django_asgi_kit.middleware, whose
   hooks run on the event loop instead of one thread hop each; the hooks the
   handler calls itself (process_view) run inline as well.
3. The request_started and request_finished signals, and response.close()
   (which sends request_finished), are queued on the request's thread instead
   of awaited: two round trips to a thread fewer per request. Their receivers
   (Django's close connections, reset query logs) still run on that thread and
   in order: request_started before the view and any other sync code of the
   request, which queue behind it; request_finished after the response is
   sent, and before the thread's next request. What changes: a receiver that
   raises is logged instead of turning the response into a 500, and the
   server may see the request end before request_finished has run.
4. The view runs in the request's own task, which a listener task cancels if
   the client disconnects (CancelledOnDisconnect).
5. A sync view is called through RequestThread.call, a lighter
   sync_to_async(thread_sensitive=True): one asyncio future per call instead
   of asgiref's three, and the same thread, context and event-loop link.
6. At most settings.ASGI_MAX_SYNC_REQUESTS requests for sync views are
   handled at once (a thread each); more wait on the event loop, in order,
   before Django starts on them. Under load, tens of request threads taking
   turns with the event loop cost more than the views themselves; a few
   threads, each serving one request after another, do not. Requests for
   async views never wait. A turn covers Django's work on the request, up
   to the response; sending it (to a slow reader, a stream) holds none.
7. A request that stays open holds no thread of its own: a response
   streamed from an async iterator gives its request thread back before the
   body is sent, and so does an async view marked holds_no_thread (a
   long-poll) before it runs. Their sync calls, the ORM's included, then
   borrow one of settings.ASGI_SHARED_THREADS for the call and give its
   database connection back when the call ends, so an open stream holds
   neither a thread nor a connection while it waits. Channels consumers use
   the same threads (with_handler_threads).
8. A disconnect ends the request even when its cancellation is lost (see
   CancelledOnDisconnect).
9. A request body over settings.ASGI_MAX_REQUEST_BODY is refused with 413
   before it is read: at once when Content-Length says so, else as soon as
   what arrived passes the limit. Django reads the whole body into a
   temporary file before any view runs, and only a view that reads it
   checks DATA_UPLOAD_MAX_MEMORY_SIZE, after it was all received.

The settings named here have defaults in django_asgi_kit.conf. It relies on
internals of Django and asgiref, so get_asgi_application() returns it only on
the releases django_asgi_kit.fence lists, and Django's handler on others.
"""

import asyncio
import contextvars
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import suppress
from functools import partial, wraps
from queue import SimpleQueue
from typing import Any

import django
from asgiref.sync import SyncToAsync, ThreadSensitiveContext, iscoroutinefunction
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi
from django.db import close_old_connections, connections
from django.http import HttpResponse
from django.urls import ResolverMatch, get_resolver, set_script_prefix

from django_asgi_kit import observe
from django_asgi_kit.conf import handler_choice, setting
from django_asgi_kit.fence import untested_versions

try:
    from asgiref.sync import _restore_context
except ImportError:
    # A private name of asgiref: on a release without it, importing this module
    # still works so that get_asgi_application() can fall back (fence.py).
    _restore_context = None

logger = logging.getLogger("django.request")


class RequestThread(Executor):
    """One thread running what it is given, in order: one request at a time.

    asgiref needs an executor for a request's thread-sensitive calls (sync ORM
    calls from async code, Django's other sync_to_async calls); `call()` runs
    the sync view with less ceremony than asgiref, and `queue()` adds work
    nobody waits for, without the Future that ThreadPoolExecutor.submit() would
    create for it.
    """

    def __init__(self) -> None:
        self._work: SimpleQueue = SimpleQueue()
        # A daemon: an idle thread must not keep the process alive. Work still
        # queued when the process exits is request_finished's, whose receivers
        # close connections that the exit closes anyway.
        self._thread = threading.Thread(
            target=self._run, name="django-request", daemon=True
        )
        self._thread.start()

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        self._work.put((future, partial(fn, *args, **kwargs)))
        return future

    def queue(self, *calls: Callable[[], object]) -> None:
        """Run `calls` after what is queued already, in the caller's context."""
        context = contextvars.copy_context()
        self._work.put((None, partial(context.run, _run_each, calls)))

    async def call(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
        """Run fn(*args, **kwargs) here and wait for it: sync_to_async's hop.

        What asgiref's SyncToAsync gives is kept: fn runs in a copy of the
        caller's context, with asgiref Locals moved to this thread, and the
        changes fn makes come back to the caller (_restore_context, asgiref's
        own, private); async_to_sync inside fn runs on the caller's loop
        (SyncToAsync.threadlocal); a cancelled caller cancels what fn awaits
        through async_to_sync. Not kept: running fn inside the caller's
        `except` block (the view is never called from one), and giving a sync
        thread above the loop precedence (the handler is called from none).
        """
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        context = contextvars.copy_context()
        # Tasks async_to_sync starts on `loop` for fn (asgiref fills it).
        awaited_by_fn: list[asyncio.Task] = []

        def on_this_thread() -> None:
            SyncToAsync.threadlocal.main_event_loop = loop
            # Per call: a server that forks after import runs it in a child.
            SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
            SyncToAsync.threadlocal.task_context = awaited_by_fn
            result, error = None, None
            try:
                result = context.run(_call_in_context, context, fn, args, kwargs)
            except BaseException as raised:
                error = raised
            # A closed loop (the server gave up on the request while stopping)
            # waits for nothing; the thread goes on with the work queued.
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, done, result, error)

        self._work.put((None, on_this_thread))
        try:
            return await done
        except asyncio.CancelledError:
            # fn itself runs to its end; what it awaits on the loop stops.
            for task in awaited_by_fn:
                task.cancel()
            raise
        finally:
            _restore_context(context)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop once the work queued so far is done."""
        self._work.put(None)
        if wait:
            self._thread.join()

    def _run(self) -> None:
        while (work := self._work.get()) is not None:
            future, call = work
            if future is None:
                call()
            elif future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:
                    future.set_exception(error)
            # Drop references to the request's objects while idle.
            del work, future, call


def _call_in_context(
    context: contextvars.Context, fn: Callable, args: tuple, kwargs: dict
) -> Any:
    # Inside `context` already: this moves its asgiref Locals to this thread.
    _restore_context(context)
    return fn(*args, **kwargs)


def _settle(done: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if done.cancelled():
        return
    if error is None:
        done.set_result(result)
    else:
        done.set_exception(error)


def _run_each(calls: tuple[Callable[[], object], ...]) -> None:
    for call in calls:
        try:
            call()
        except Exception:
            logger.exception("%r failed on the request thread", call)


class SharedThreads(Executor):
    """Threads for the sync calls of requests that hold no thread of their
    own: a call takes one for its duration, then gives the thread's database
    connections back (closed, or returned to the pool, unless CONN_MAX_AGE
    keeps them). Calls of one request run one after another, each wherever a
    thread is free."""

    def __init__(self, size: int) -> None:
        self._pool = ThreadPoolExecutor(size, thread_name_prefix="django-shared")

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        call = partial(fn, *args, **kwargs)
        return self._pool.submit(_then_close_old_connections, call)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait, cancel_futures=cancel_futures)


def _then_close_old_connections(call: Callable[[], Any]) -> Any:
    try:
        return call()
    finally:
        close_old_connections()


class RequestExecutor(Executor):
    """Where one request's thread-sensitive sync calls run (asgiref's
    ThreadSensitiveContext executor): its own RequestThread, borrowed from
    the handler, until the request lets go of it; then the shared threads."""

    def __init__(self, handler: "ASGIHandler") -> None:
        self._handler = handler
        self.thread: RequestThread | None = handler._borrow()

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        if self.thread is not None:
            return self.thread.submit(fn, *args, **kwargs)
        return self._handler.shared_threads.submit(fn, *args, **kwargs)

    def queue(self, *calls: Callable[[], object]) -> None:
        """Run `calls` on the request's thread after what is queued there,
        without waiting; a request holding none borrows one for them."""
        thread = self.thread or self._handler._borrow()
        thread.queue(*calls)
        if thread is not self.thread:
            self._handler._give_back(thread)

    def let_go(self) -> None:
        """Hold no thread from now on: the request's thread, its database
        connections given back first, serves other requests."""
        if self.thread is None:
            return
        self.thread.queue(close_old_connections)
        self.give_back()

    def give_back(self) -> None:
        """Return the request's thread to the handler (at the request's end)."""
        thread, self.thread = self.thread, None
        if thread is not None:
            self._handler._give_back(thread)


class Turn:
    """One of the handler's sync_turns, held until given back, once."""

    def __init__(self, turns: asyncio.Semaphore) -> None:
        self._turns = turns
        self._held = True
        observe.report(observe.SYNC_TURNS_IN_USE, 1)

    def give_back(self) -> None:
        if self._held:
            self._held = False
            self._turns.release()
            observe.report(observe.SYNC_TURNS_IN_USE, -1)


# The executor of the request being handled: its sync view's thread, and
# holds_no_thread's way to let go of it.
_request_executor: contextvars.ContextVar[RequestExecutor] = contextvars.ContextVar(
    "request_executor"
)


# resolve_early's answer for the request being handled, which resolve_request
# takes instead of resolving the path again (set only with sync_turns).
_early_match: contextvars.ContextVar[tuple[str, ResolverMatch | None]] = (
    contextvars.ContextVar("early_match")
)


class CancelledOnDisconnect:
    """Cancel the task in this block if the client disconnects, as Django does.

    `listener` returns when the client disconnects (Django's
    listen_for_disconnect). An async view stops at its next await; a sync
    view's thread runs to its end. That cancellation ends the block quietly;
    any other (the server's) goes on. Django runs the view in a second task and
    waits for either; this is one task fewer per request.

    A cancellation can be lost: on Python 3.11, asyncio.wait_for (which
    redis-py uses for every command it sends) swallows one that arrives as
    what it waits for completes, and a stream whose client left then ran on
    for ever. So once the client has left, `send` (the response's way out)
    drops the message and asks for the cancellation again: a body that lost
    it gets it at its next await and ends as after any disconnect, its
    `finally` run.
    """

    def __init__(self, listener: Coroutine, send: Callable) -> None:
        self._listener = listener
        self._send = send
        self._inside = True
        self._cancels = 0
        self.client_left = False

    async def send(self, message: dict) -> None:
        """The server's send, while the client is there."""
        if self.client_left:
            self._cancel()  # nobody is there to get the message
            return
        await self._send(message)

    async def __aenter__(self) -> "CancelledOnDisconnect":
        self._task = asyncio.current_task()
        self._listening = asyncio.create_task(self._listener)
        self._listening.add_done_callback(self._cancel_if_client_left)
        return self

    async def __aexit__(self, kind: type | None, error: Any, traceback: Any) -> bool:
        self._inside = False
        self._listening.cancel()
        # The cancellations this block asked for, delivered or lost.
        for _ in range(self._cancels):
            self._task.uncancel()
        return kind is asyncio.CancelledError and self.client_left

    def _cancel_if_client_left(self, listening: asyncio.Task) -> None:
        if listening.cancelled():
            return
        # RequestAborted; anything else means a message that is not
        # http.disconnect, a server's bug: the request is over either way.
        error = listening.exception()
        if not isinstance(error, RequestAborted):
            logger.error("Unexpected ASGI message", exc_info=error)
        if self._inside:
            self.client_left = True
            self._cancel()

    def _cancel(self) -> None:
        self._task.cancel()
        self._cancels += 1


class BodyTooLarge(Exception):
    """The request body passed settings.ASGI_MAX_REQUEST_BODY."""


def declared_body_length(scope: dict) -> int:
    """The request's Content-Length (0 without one, or with one that is not a
    number: the server refuses that request, or the body decides)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length" and value.isdigit():
            return int(value)
    return 0


def _inline(method: Any) -> Any:
    async def call_inline(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    return call_inline


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGIHandler, reusing threads, with fewer hops to them."""

    def __init__(self) -> None:
        # Threads not serving a request right now (a stack, so the most
        # recently used, warmest thread goes first).
        self.idle_threads: list[RequestThread] = []
        # For the sync calls of requests that let go of their thread.
        self.shared_threads = SharedThreads(setting("ASGI_SHARED_THREADS"))
        limit = setting("ASGI_MAX_SYNC_REQUESTS")
        self.sync_turns = asyncio.Semaphore(limit) if limit else None
        super().__init__()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle HTTP, not {scope['type']}.")
        # Read before waiting for a turn: a slow upload holds none.
        try:
            body_file = await self._read_body_within_limit(scope, receive)
        except RequestAborted:
            return
        except BodyTooLarge:
            await self._refuse_body(scope, send)
            return
        if self.sync_turns is None:
            await self._serve(scope, receive, send, body_file, turn=None)
            return
        path_info, match = resolve_early(scope)
        token = _early_match.set((path_info, match))
        turn = None
        try:
            if leads_to_sync_view(match):
                turn = await self._take_turn(body_file)
            await self._serve(scope, receive, send, body_file, turn)
        finally:
            if turn is not None:
                turn.give_back()
            _early_match.reset(token)

    async def _read_body_within_limit(self, scope: dict, receive: Any) -> Any:
        limit = setting("ASGI_MAX_REQUEST_BODY")
        if limit and declared_body_length(scope) > limit:
            raise BodyTooLarge
        return await self.read_body(receive)

    async def read_body(self, receive: Any) -> Any:
        """Django's, refusing a body once it passes ASGI_MAX_REQUEST_BODY, and
        closing the file whatever ends the reading."""
        limit = setting("ASGI_MAX_REQUEST_BODY")
        body_file = tempfile.SpooledTemporaryFile(
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
        )
        received = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RequestAborted
                body = message.get("body", b"")
                received += len(body)
                if limit and received > limit:
                    raise BodyTooLarge
                body_file.write(body)
                if not message.get("more_body", False):
                    break
        except BaseException:
            body_file.close()
            raise
        body_file.seek(0)
        return body_file

    async def _refuse_body(self, scope: dict, send: Any) -> None:
        limit = setting("ASGI_MAX_REQUEST_BODY")
        logger.warning(
            "Request body over %s bytes refused: %s %s",
            limit,
            scope["method"],
            scope["path"],
        )
        response = HttpResponse(
            f"Request body over {limit} bytes.\n",
            status=413,
            content_type="text/plain",
        )
        await self.send_response(response, send)

    async def _take_turn(self, body_file: Any) -> Turn:
        """Wait for one of the sync_turns."""
        observe.report(observe.SYNC_TURNS_WAITING, 1)
        try:
            await self.sync_turns.acquire()
        except asyncio.CancelledError:
            body_file.close()  # Django has not seen it yet
            raise
        finally:
            observe.report(observe.SYNC_TURNS_WAITING, -1)
        return Turn(self.sync_turns)

    def resolve_request(self, request: Any) -> ResolverMatch:
        """Django's, taking the match made before Django ran if there is one."""
        path_info, match = _early_match.get((None, None))
        if (
            match is None
            or path_info != request.path_info
            or hasattr(request, "urlconf")
        ):
            return super().resolve_request(request)
        request.resolver_match = match
        return match

    async def _serve(
        self, scope: dict, receive: Any, send: Any, body_file: Any, turn: Turn | None
    ) -> None:
        executor = RequestExecutor(self)
        token = _request_executor.set(executor)
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self._handle(scope, receive, send, executor, body_file, turn)
        finally:
            _request_executor.reset(token)
            executor.give_back()

    def load_middleware(self, is_async: bool = False) -> None:
        """Called once, at start-up: build the chain from the inline twins."""
        # Imported here: the twins import Django's middleware, which needs the
        # app registry that django.setup() has just filled.
        from django_asgi_kit.middleware import with_twins

        # Django reads settings.MIDDLEWARE here and offers no other way in, so
        # the list is swapped for the time of this call, before any request.
        django_names = settings.MIDDLEWARE
        settings.MIDDLEWARE = with_twins(django_names)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = django_names

    def adapt_method_mode(
        self,
        is_async: bool,
        method: Any,
        method_is_async: bool | None = None,
        debug: bool = False,
        name: str | None = None,
    ) -> Any:
        """Called while loading middleware: adapt a hook to sync or async mode."""
        owner = getattr(method, "__self__", None)
        if is_async and getattr(owner, "inline_hooks", False):
            if not (method_is_async or iscoroutinefunction(method)):
                return _inline(method)
        return super().adapt_method_mode(is_async, method, method_is_async, debug, name)

    def make_view_atomic(self, view: Callable) -> Callable:
        """Called per request before the view: a sync view is returned as a
        coroutine function calling it on the request's thread, which Django
        awaits instead of wrapping the view in sync_to_async."""
        view = super().make_view_atomic(view)
        if iscoroutinefunction(view):
            return view

        async def on_request_thread(request: Any, *args: Any, **kwargs: Any) -> Any:
            thread = _request_executor.get().thread
            return await thread.call(view, request, *args, **kwargs)

        return on_request_thread

    async def _handle(
        self,
        scope: dict,
        receive: Any,
        send: Any,
        executor: RequestExecutor,
        body_file: Any,
        turn: Turn | None,
    ) -> None:
        """Django's handle() once the body is read, with the signals queued on
        the request's thread."""
        set_script_prefix(asgi.get_script_prefix(scope))
        executor.queue(
            partial(signals.request_started.send, sender=self.__class__, scope=scope)
        )
        request, error_response = self.create_request(scope, body_file)
        response = None
        try:
            leaving = CancelledOnDisconnect(self.listen_for_disconnect(receive), send)
            async with leaving:
                if request is None:
                    response = error_response
                else:
                    response = await self.run_get_response(request)
                # Django's own work on the request ends with the response;
                # its body may take long to reach the client.
                if turn is not None:
                    turn.give_back()
                if response.streaming and response.is_async:
                    executor.let_go()
                await self.send_response(response, leaving.send)
        finally:
            if response is None:
                finish = partial(signals.request_finished.send, sender=self.__class__)
            else:
                finish = response.close
            # Work that outlives request_finished (a generator's `finally` run
            # by a cancelled response) may open a connection after Django
            # closed them.
            executor.queue(finish, body_file.close, close_old_connections)

    def _borrow(self) -> RequestThread:
        if self.idle_threads:
            return self.idle_threads.pop()
        return RequestThread()

    def _give_back(self, thread: RequestThread) -> None:
        if len(self.idle_threads) < setting("ASGI_IDLE_THREADS"):
            self.idle_threads.append(thread)
        else:
            # DB connections belong to the thread; close them before it ends.
            thread.queue(connections.close_all)
            thread.shutdown(wait=False)


def with_sync_calls_on(executor: Executor, application: Callable) -> Callable:
    """An ASGI application whose thread-sensitive sync calls run on
    `executor`: for Channels consumers, whose ORM calls would otherwise take
    turns on asgiref's one process-wide thread, keeping its connection open
    between calls."""

    async def on_executor(scope: dict, receive: Any, send: Any) -> None:
        async with ThreadSensitiveContext(executor=executor):
            await application(scope, receive, send)

    return on_executor


def holds_no_thread(view: Callable) -> Callable:
    """For an async view that waits long (a long-poll): its request gives
    its thread back before the view runs, and the view's sync calls borrow
    one of the shared threads each. Under another handler (WSGI, Django's
    own), the view runs as it is."""
    if not iscoroutinefunction(view):
        raise TypeError(f"holds_no_thread is for async views; {view!r} is not one.")

    @wraps(view)
    async def without_a_thread(request: Any, *args: Any, **kwargs: Any) -> Any:
        executor = _request_executor.get(None)
        if executor is not None:
            executor.let_go()
        return await view(request, *args, **kwargs)

    return without_a_thread


def resolve_early(scope: dict) -> tuple[str, ResolverMatch | None]:
    """The request's path_info and what it resolves to in ROOT_URLCONF (None:
    nothing), before Django runs: a urlconf a middleware picks per request is
    not seen."""
    path_info = path_info_of(scope)
    try:
        return path_info, get_resolver().resolve(path_info)
    except Exception:
        # Resolver404, or an error that Django, resolving again, reports.
        return path_info, None


def path_info_of(scope: dict) -> str:
    """The path below the script prefix, as Django 6.1 derives it: the prefix
    counts only up to a "/". Django 5.2 strips it as a plain string prefix, so
    where they differ ("/app" before "/apple") the two disagree, and
    resolve_request, comparing with Django's request.path_info, resolves again."""
    path = scope["path"]
    script_name = asgi.get_script_prefix(scope).rstrip("/")
    if script_name and (path == script_name or path.startswith(script_name + "/")):
        return path[len(script_name) :]
    return path


def leads_to_sync_view(match: ResolverMatch | None) -> bool:
    """Whether resolve_early's match is a sync view; a path that leads
    nowhere (None) counts as sync, as Django's 404 is."""
    return match is None or not iscoroutinefunction(match.func)


def get_asgi_application() -> asgi.ASGIHandler:
    """django.core.asgi.get_asgi_application, returning the handler that
    settings.ASGI_HANDLER chooses: "fast" (the default) this module's, on the
    Django and asgiref releases it is tested on, else Django's own."""
    django.setup(set_prefix=False)
    if handler_choice() == "django":
        return asgi.ASGIHandler()
    untested = untested_versions()
    if untested is not None:
        logging.getLogger("django_asgi_kit").warning(
            "django-asgi-kit's fast ASGI handler is not tested on %s: serving "
            "with Django's own ASGIHandler instead. Set ASGI_HANDLER = "
            '"django" to choose it, or use the tested releases.',
            untested,
        )
        return asgi.ASGIHandler()
    return ASGIHandler()


def with_handler_threads(handler: asgi.ASGIHandler, application: Callable) -> Callable:
    """`application` (Channels' consumers, say) with its thread-sensitive sync
    calls on the fast handler's shared threads, which give their database
    connections back after each call; under Django's handler, `application`
    itself, whose calls take turns on asgiref's one thread as usual."""
    if isinstance(handler, ASGIHandler):
        return with_sync_calls_on(handler.shared_threads, application)
    return application
