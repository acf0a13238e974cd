"""
Prometheus metrics, at /metrics: what a process holds open and what it loses.

prometheus_client keeps each metric in the process that counts it. A server
with several worker processes (gunicorn, uvicorn --workers, granian
--workers) must set PROMETHEUS_MULTIPROC_DIR to an empty folder, the same for
every worker, before it starts: each worker then writes its values there, and
a scrape, whichever worker answers it, sums them (open-connection gauges count
only live processes). Without it a scrape sees one worker's values.

Counted here:
- open SSE streams, long-polls and exports (apps/core/activity.py holds them);
- open WebSockets per consumer (project/routing.py wraps every route);
- HTTP requests by view, method and status, and the time to the response
  (not its streamed body), from request_metrics at the top of MIDDLEWARE;
- group messages channels_redis dropped because a member's channel was full.
  channels_redis counts them but only logs the number ("N of M channels over
  capacity in group G"); a handler on its logger adds them up. The in-memory
  layer's drops are reported by the kit's layer and land in the same counter;
- requests waiting for a sync turn and turns in use, and channel-layer messages
  sent and received, from the events django_asgi_kit.observe reports;
- pooled database connections in use and threads waiting for one, sampled when
  each request finishes (apps/core/activity.py): the pool reports no check-out
  to count.
"""

import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from django_asgi_kit import observe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

OPEN_STREAMS = Gauge(
    "asgi_open_streams",
    "Open SSE streams, long-polls and exports.",
    ["kind"],
    multiprocess_mode="livesum",
)
OPEN_WEBSOCKETS = Gauge(
    "asgi_open_websockets",
    "Open WebSocket connections, by consumer.",
    ["consumer"],
    multiprocess_mode="livesum",
)
REQUESTS = Counter(
    "django_http_requests",
    "HTTP requests answered, by view, method and status.",
    ["view", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "django_http_request_duration_seconds",
    "Time from the request to its response (a streamed body not included).",
    ["view"],
)
GROUP_SEND_DROPPED = Counter(
    "channel_layer_group_send_dropped",
    "Group messages not delivered to a member because its channel was full.",
)
LAYER_MESSAGES = Counter(
    "channel_layer_messages",
    "Channel-layer messages sent (send and group_send calls) and received.",
    ["direction"],
)
SYNC_TURNS_WAITING = Gauge(
    "asgi_sync_turns_waiting",
    "Requests to sync views waiting for a turn (DJANGO_ASGI_MAX_SYNC_REQUESTS).",
    multiprocess_mode="livesum",
)
SYNC_TURNS_IN_USE = Gauge(
    "asgi_sync_turns_in_use",
    "Sync turns held by requests.",
    multiprocess_mode="livesum",
)
DB_CONNECTIONS_IN_USE = Gauge(
    "django_db_pool_connections_in_use",
    "Pooled database connections checked out, as of the last request's end.",
    multiprocess_mode="livesum",
)
DB_CONNECTIONS_WAITED_FOR = Gauge(
    "django_db_pool_requests_waiting",
    "Threads waiting for a pooled connection, as of the last request's end.",
    multiprocess_mode="livesum",
)

# What each event of django_asgi_kit.observe changes.
_KIT_EVENTS = {
    observe.SYNC_TURNS_WAITING: SYNC_TURNS_WAITING.inc,
    observe.SYNC_TURNS_IN_USE: SYNC_TURNS_IN_USE.inc,
    observe.LAYER_SENT: LAYER_MESSAGES.labels("sent").inc,
    observe.LAYER_RECEIVED: LAYER_MESSAGES.labels("received").inc,
    observe.LAYER_DROPPED: GROUP_SEND_DROPPED.inc,
}


def _count_kit_event(event: str, change: int) -> None:
    _KIT_EVENTS[event](change)


def count_kit_events() -> None:
    """Listen to the kit (once per process; AppConfig.ready calls it)."""
    observe.add_listener(_count_kit_event)


def _view_label(request: HttpRequest) -> str:
    match = request.resolver_match
    return match.view_name if match else "<unresolved>"


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    view = _view_label(request)
    REQUESTS.labels(view, request.method, str(response.status_code)).inc()
    REQUEST_SECONDS.labels(view).observe(time.perf_counter() - started)


def request_metrics(get_response: Callable) -> Callable:
    """Middleware that counts and times every request, without a thread hop
    under ASGI (it is async when the chain is) or any under WSGI."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            started = time.perf_counter()
            response = await get_response(request)
            _observe(request, response, started)
            return response

        return markcoroutinefunction(middleware)

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        _observe(request, response, started)
        return response

    return sync_middleware


request_metrics.sync_capable = True
request_metrics.async_capable = True


ASGIApp = Callable[[dict, Any, Any], Awaitable[None]]


def counting_websockets(app: ASGIApp, consumer: str) -> ASGIApp:
    """`app`, with its open connections counted as `consumer`'s."""

    async def counted(scope: dict, receive: Any, send: Any) -> None:
        gauge = OPEN_WEBSOCKETS.labels(consumer)
        gauge.inc()
        try:
            await app(scope, receive, send)
        finally:
            gauge.dec()

    return counted


class DroppedGroupMessages(logging.Handler):
    """Adds up the drops channels_redis logs from group_send."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "%s of %s channels over capacity in group %s":
            GROUP_SEND_DROPPED.inc(record.args[0])


def count_dropped_group_messages() -> None:
    """Listen to channels_redis (once per process; AppConfig.ready calls it)."""
    logger = logging.getLogger("channels_redis.core")
    if not any(isinstance(h, DroppedGroupMessages) for h in logger.handlers):
        logger.addHandler(DroppedGroupMessages())
    # Its drops are logged at INFO: make sure they are made into records.
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)


def _client_allowed(request: HttpRequest) -> bool:
    return _network_allowed(request) or _token_presented(request)


def _network_allowed(request: HttpRequest) -> bool:
    try:
        client = ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in network for network in settings.METRICS_ALLOWED_NETWORKS)


def _token_presented(request: HttpRequest) -> bool:
    """Whether the request carries `Authorization: Bearer DJANGO_METRICS_TOKEN`."""
    if not settings.METRICS_TOKEN:
        return False
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus's text format, for the networks allowed to
    read them (DJANGO_METRICS_ALLOWED_NETWORKS) and for requests with the
    bearer token (DJANGO_METRICS_TOKEN); 404 for anyone else."""
    if not _client_allowed(request):
        raise Http404
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
