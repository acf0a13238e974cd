"""
Responses that stay open: a streamed CSV download, Server-Sent Events and
long-polling. Each is an async view; each answers 501 under WSGI (see decorators).
"""

import asyncio
import logging

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe
from django_asgi_kit.channel_layers import CHANNEL_LAYER_ERRORS
from django_asgi_kit.handlers import holds_no_thread

from apps.chat.selectors import room_access_error
from apps.core.activity import activity_snapshot
from apps.core.decorators import asgi_only
from apps.core.forms import form_errors
from apps.core.scope import server_program
from apps.core.sse import sse_for, unavailable
from apps.live.exports import csv_chunks
from apps.live.feeds import ChatRoomFeed, TopicFeed
from apps.live.forms import ExportForm, NoteForm, PollForm
from apps.live.longpoll import topic_event_wait
from apps.live.selectors import export_get, export_recent_list, topic_last_seq
from apps.live.services import export_start, topic_event_publish
from apps.live.topics import topic_name_error

logger = logging.getLogger(__name__)


def _bad_request(detail: str) -> JsonResponse:
    return JsonResponse({"error": "bad_request", "detail": detail}, status=400)


def _check_topic(topic: str) -> None:
    error = topic_name_error(topic)
    if error:
        raise Http404(error)


@require_safe
async def index(request: HttpRequest) -> HttpResponse:
    """The page: a download, two EventSource feeds and a long-poll loop."""
    context = {
        "program": server_program(),
        "max_rows": settings.LIVE_EXPORT_MAX_ROWS,
        "exports": await export_recent_list(limit=10),
        # Another process's events (live_ticker) cannot reach this one live.
        "layer_in_memory": isinstance(get_channel_layer(), InMemoryChannelLayer),
    }
    return render(request, "live/index.html", context)


@asgi_only
@require_GET
async def export_csv(request: HttpRequest) -> HttpResponse:
    """GET ?rows=N: N generated CSV rows, streamed; X-Export-Id names the record."""
    form = ExportForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            form_errors(form) + "\n", status=400, content_type="text/plain"
        )
    export = await export_start(rows=form.cleaned_data["rows"])
    response = StreamingHttpResponse(csv_chunks(export), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="export-{export.id}.csv"'
    response["X-Export-Id"] = str(export.id)
    # Left to proxy buffering on purpose: nginx spools a download for a slow
    # client to disk, sparing the server's memory (Daphne has no backpressure).
    return response


@never_cache
@require_safe
async def exports_json(request: HttpRequest) -> JsonResponse:
    """The latest downloads and how each ended."""
    return JsonResponse({"exports": await export_recent_list(limit=20)})


@never_cache
@require_safe
async def export_json(request: HttpRequest, export_id: int) -> JsonResponse:
    export = await export_get(export_id=export_id)
    if export is None:
        raise Http404(f"No export {export_id}.")
    return JsonResponse(export)


@asgi_only
@require_GET
async def topic_sse(request: HttpRequest, topic: str) -> HttpResponse:
    """Server-Sent Events of a topic; resumes after Last-Event-ID."""
    _check_topic(topic)
    return sse_for(request, TopicFeed(topic))


@asgi_only
@require_GET
async def chat_sse(request: HttpRequest, room: str) -> HttpResponse:
    """Server-Sent Events of a chat room's messages and presence."""
    # The room's own rule, as its page and socket apply it (apps/chat).
    error = await room_access_error(name=room, user=await request.auser())
    if error and error.code == "login_required":
        return JsonResponse({"error": error.code, "detail": error.detail}, status=403)
    if error:
        raise Http404(error.detail)
    return sse_for(request, ChatRoomFeed(room))


@asgi_only
@never_cache
@require_GET
@holds_no_thread
async def topic_poll(request: HttpRequest, topic: str) -> HttpResponse:
    """
    GET ?after=SEQ&timeout=S: 200 with the events after SEQ as soon as there are
    any, or 204 after S seconds without one. Without `after`, waits for the next.
    503 while the channel layer is down.
    """
    _check_topic(topic)
    form = PollForm(request.GET)
    if not form.is_valid():
        return _bad_request(form_errors(form))
    after = form.cleaned_data["after"]
    if after is None:
        after = await topic_last_seq(topic=topic)
    timeout = form.cleaned_data["timeout"]
    if timeout is None:
        timeout = settings.LIVE_LONGPOLL_TIMEOUT
    try:
        async with asyncio.timeout(timeout):
            events = await topic_event_wait(topic=topic, after=after)
    except TimeoutError:
        return HttpResponse(status=204)
    except CHANNEL_LAYER_ERRORS as error:
        logger.warning("Long-poll on %s failed: %s", topic, error)
        response = JsonResponse(unavailable(error).data, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"events": events, "last": events[-1]["seq"]})


@require_POST
async def topic_publish(request: HttpRequest, topic: str) -> JsonResponse:
    """POST text=...: publish a note to a topic (stored, then announced)."""
    _check_topic(topic)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _bad_request(form_errors(form))
    event = await topic_event_publish(
        topic=topic, kind="note", data={"text": form.cleaned_data["text"]}
    )
    return JsonResponse(event, status=201)


@never_cache
@require_safe
async def stats_json(request: HttpRequest) -> JsonResponse:
    """What this server process holds open right now."""
    return JsonResponse({"program": server_program(), **activity_snapshot()})
