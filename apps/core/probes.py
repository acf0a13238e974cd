"""
Small endpoints that exercise one transport feature each, for the conformance
suite (tests/conformance) and for trying a server by hand with curl:

    POST /probe/echo                  the request body back, unchanged
    GET  /probe/stream?chunks=&interval=   a response sent in separate pieces
    WS   /ws/probe/close/<code>/      accept, then close with that code

They are off unless DJANGO_PROBES turns them on (the default only with DEBUG
on): in production they would let anyone hold a response open for free. The
test tiers turn them on. They hold no state and touch no database. The echo
is CSRF-exempt (curl and the tests have no token) and answers as
application/octet-stream with nosniff, so a reflected body can never render as
a page.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

MAX_CHUNKS = 100
MAX_INTERVAL = 1.0


def _require_probes() -> None:
    if not settings.PROBES_ENABLED:
        raise Http404("The probes are off (DJANGO_PROBES).")


@csrf_exempt
@require_POST
def echo_body(request: HttpRequest) -> HttpResponse:
    """The body as received. Over DATA_UPLOAD_MAX_MEMORY_SIZE, Django answers 400."""
    _require_probes()
    # A sync view: reading request.body is synchronous in Django either way.
    return HttpResponse(request.body, content_type="application/octet-stream")


def _stream_parameters(request: HttpRequest) -> tuple[int, float] | str:
    try:
        chunks = int(request.GET.get("chunks", "5"))
        interval = float(request.GET.get("interval", "0.1"))
    except ValueError:
        return "chunks must be an integer and interval a number of seconds"
    if not 1 <= chunks <= MAX_CHUNKS or not 0 <= interval <= MAX_INTERVAL:
        return f"chunks must be 1..{MAX_CHUNKS} and interval 0..{MAX_INTERVAL} s"
    return chunks, interval


async def _async_pieces(chunks: int, interval: float) -> AsyncIterator[bytes]:
    for number in range(1, chunks + 1):
        if number > 1:
            await asyncio.sleep(interval)
        yield f"chunk {number} of {chunks}\n".encode()


def _sync_pieces(chunks: int, interval: float) -> Iterator[bytes]:
    for number in range(1, chunks + 1):
        if number > 1:
            time.sleep(interval)
        yield f"chunk {number} of {chunks}\n".encode()


@require_GET
def stream(request: HttpRequest) -> HttpResponse:
    """`chunks` lines, `interval` seconds apart, each sent as soon as it is made."""
    _require_probes()
    parameters = _stream_parameters(request)
    if isinstance(parameters, str):
        return HttpResponseBadRequest(parameters + "\n", content_type="text/plain")
    # Django buffers a sync iterator under ASGI and an async one under WSGI, so
    # each handler gets the kind it streams.
    pieces = _async_pieces if isinstance(request, ASGIRequest) else _sync_pieces
    response = StreamingHttpResponse(pieces(*parameters), content_type="text/plain")
    response["Cache-Control"] = "no-store"
    return response


def close_code_allowed(code: int) -> bool:
    """Whether an endpoint may send `code` (RFC 6455 section 7.4 and the IANA list)."""
    registered = code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014
    return registered or 3000 <= code <= 4999


class CloseProbeConsumer(AsyncWebsocketConsumer):
    """Accepts, then closes with the code in the URL; refuses codes not allowed."""

    async def connect(self) -> None:
        """Called when the handshake arrives."""
        code = self.scope["url_route"]["kwargs"]["code"]
        if not settings.PROBES_ENABLED or not close_code_allowed(code):
            await self.close()  # before accept: the handshake gets 403
            return
        await self.accept()
        await self.close(code=code)
