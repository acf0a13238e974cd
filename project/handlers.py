"""
Django's ASGI handler with four changes, each measured with the benchmark's
compare mode (README, "Django on ASGI as fast as WSGI"):

1. Threads are reused between requests. Django runs each request in a fresh
   ThreadSensitiveContext, so the first sync call of every request (the
   request_started signal, at least) starts a new thread, which is stopped at
   the end. Here each request borrows an idle RequestThread instead, so a
   request's sync code still runs on one thread of its own, as Django
   requires, and concurrent requests still run in parallel.
2. Django's middleware is loaded as its twins in project.middleware, whose
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
   async views never wait.
"""

import asyncio
import contextvars
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, Future
from contextlib import suppress
from functools import partial
from queue import SimpleQueue
from typing import Any

import django
from asgiref.sync import (
    SyncToAsync,
    ThreadSensitiveContext,
    _restore_context,
    iscoroutinefunction,
)
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi
from django.db import close_old_connections, connections
from django.urls import ResolverMatch, get_resolver, set_script_prefix

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


# The RequestThread of the request being handled, for its sync view.
_request_thread: contextvars.ContextVar[RequestThread] = contextvars.ContextVar(
    "request_thread"
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
    """

    def __init__(self, listener: Coroutine) -> None:
        self._listener = listener
        self._inside = True
        self.client_left = False

    async def __aenter__(self) -> "CancelledOnDisconnect":
        self._task = asyncio.current_task()
        self._listening = asyncio.create_task(self._listener)
        self._listening.add_done_callback(self._cancel_if_client_left)
        return self

    async def __aexit__(self, kind: type | None, error: Any, traceback: Any) -> bool:
        self._inside = False
        self._listening.cancel()
        if kind is asyncio.CancelledError and self.client_left:
            self._task.uncancel()
            return True
        return False

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
            self._task.cancel()


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
        limit = settings.ASGI_MAX_SYNC_REQUESTS
        self.sync_turns = asyncio.Semaphore(limit) if limit else None
        super().__init__()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle HTTP, not {scope['type']}.")
        # Read before waiting for a turn: a slow upload holds none.
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        if self.sync_turns is None:
            await self._on_request_thread(scope, receive, send, body_file)
            return
        path_info, match = resolve_early(scope)
        token = _early_match.set((path_info, match))
        try:
            if leads_to_sync_view(match):
                await self._in_turn(scope, receive, send, body_file)
            else:
                await self._on_request_thread(scope, receive, send, body_file)
        finally:
            _early_match.reset(token)

    async def _in_turn(
        self, scope: dict, receive: Any, send: Any, body_file: Any
    ) -> None:
        """Wait for one of the sync_turns, then handle the request."""
        try:
            await self.sync_turns.acquire()
        except asyncio.CancelledError:
            body_file.close()  # Django has not seen it yet
            raise
        try:
            await self._on_request_thread(scope, receive, send, body_file)
        finally:
            self.sync_turns.release()

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

    async def _on_request_thread(
        self, scope: dict, receive: Any, send: Any, body_file: Any
    ) -> None:
        thread = self._borrow()
        try:
            async with ThreadSensitiveContext(executor=thread):
                _request_thread.set(thread)
                await self._handle(scope, receive, send, thread, body_file)
        finally:
            self._give_back(thread)

    def load_middleware(self, is_async: bool = False) -> None:
        """Called once, at start-up: build the chain from the inline twins."""
        # Imported here: the twins import Django's middleware, which needs the
        # app registry that django.setup() has just filled.
        from project.middleware import with_twins

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
            return await _request_thread.get().call(view, request, *args, **kwargs)

        return on_request_thread

    async def _handle(
        self,
        scope: dict,
        receive: Any,
        send: Any,
        thread: RequestThread,
        body_file: Any,
    ) -> None:
        """Django's handle() once the body is read, with the signals queued on
        the request's thread."""
        set_script_prefix(asgi.get_script_prefix(scope))
        thread.queue(
            partial(signals.request_started.send, sender=self.__class__, scope=scope)
        )
        request, error_response = self.create_request(scope, body_file)
        response = None
        try:
            async with CancelledOnDisconnect(self.listen_for_disconnect(receive)):
                if request is None:
                    response = error_response
                else:
                    response = await self.run_get_response(request)
                await self.send_response(response, send)
        finally:
            if response is None:
                finish = partial(signals.request_finished.send, sender=self.__class__)
            else:
                finish = response.close
            # Work that outlives request_finished (a generator's `finally` run
            # by a cancelled response) may open a connection after Django
            # closed them.
            thread.queue(finish, body_file.close, close_old_connections)

    def _borrow(self) -> RequestThread:
        if self.idle_threads:
            return self.idle_threads.pop()
        return RequestThread()

    def _give_back(self, thread: RequestThread) -> None:
        if len(self.idle_threads) < settings.ASGI_IDLE_THREADS:
            self.idle_threads.append(thread)
        else:
            # DB connections belong to the thread; close them before it ends.
            thread.queue(connections.close_all)
            thread.shutdown(wait=False)


def resolve_early(scope: dict) -> tuple[str, ResolverMatch | None]:
    """The request's path_info and what it resolves to in ROOT_URLCONF (None:
    nothing), before Django runs: a urlconf a middleware picks per request is
    not seen."""
    path_info = scope["path"].removeprefix(asgi.get_script_prefix(scope))
    try:
        return path_info, get_resolver().resolve(path_info)
    except Exception:
        # Resolver404, or an error that Django, resolving again, reports.
        return path_info, None


def leads_to_sync_view(match: ResolverMatch | None) -> bool:
    """Whether resolve_early's match is a sync view; a path that leads
    nowhere (None) counts as sync, as Django's 404 is."""
    return match is None or not iscoroutinefunction(match.func)


def get_asgi_application() -> ASGIHandler:
    """django.core.asgi.get_asgi_application, returning this module's handler."""
    django.setup(set_prefix=False)
    return ASGIHandler()
