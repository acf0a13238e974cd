"""
Django's ASGI handler with two changes, each measured with the benchmark's
compare mode (README, "Django on ASGI as fast as WSGI"):

1. Threads are reused between requests. Django runs each request in a fresh
   ThreadSensitiveContext, so the first sync call of every request (the
   request_started signal, at least) starts a new thread, which is stopped at
   the end. Here each request borrows an idle one-thread executor instead, so
   a request's sync code still runs on one thread of its own, as Django
   requires, and concurrent requests still run in parallel.
2. Django's middleware is loaded as its twins in project.middleware, whose
   hooks run on the event loop instead of one thread hop each; the hooks the
   handler calls itself (process_view) run inline as well.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction
from django.conf import settings
from django.core.handlers import asgi
from django.db import close_old_connections, connections

# Idle threads kept for the next requests. More concurrent requests than this
# still get a thread each; the extra threads end when their request does.
MAX_IDLE_THREADS = 32


def _inline(method: Any) -> Any:
    async def call_inline(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    return call_inline


def _close_and_stop(executor: ThreadPoolExecutor) -> None:
    # DB connections belong to the thread; close them before it ends.
    executor.submit(connections.close_all)
    executor.shutdown(wait=False)


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGIHandler, reusing threads and running pure hooks inline."""

    def __init__(self) -> None:
        # One-thread executors not serving a request right now (a stack, so
        # the most recently used, warmest thread goes first).
        self.idle_executors: list[ThreadPoolExecutor] = []
        super().__init__()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle HTTP, not {scope['type']}.")
        executor = self._borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self._give_back(executor)

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

    def _borrow(self) -> ThreadPoolExecutor:
        if self.idle_executors:
            return self.idle_executors.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="django-request")

    def _give_back(self, executor: ThreadPoolExecutor) -> None:
        # Work that outlives request_finished (a generator's `finally` run by a
        # cancelled response) may open a connection after Django closed them.
        # Queued, not awaited: it runs before the thread's next request does.
        executor.submit(close_old_connections)
        if len(self.idle_executors) < MAX_IDLE_THREADS:
            self.idle_executors.append(executor)
        else:
            _close_and_stop(executor)


def get_asgi_application() -> ASGIHandler:
    """django.core.asgi.get_asgi_application, returning this module's handler."""
    django.setup(set_prefix=False)
    return ASGIHandler()
