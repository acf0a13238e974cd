import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.core.health import dependency_problems
from apps.core.scope import request_scope, served_by, server_program
from serving.capabilities import (
    BROKEN,
    SUPPORTED,
    UNSUPPORTED,
    MatrixError,
    load_matrix,
)

DEMOS = [
    ("Chat", "chat:index", "Rooms over channel-layer groups, history and presence."),
    ("WebSocket echo", "echo:index", "A raw ASGI echo beside a Channels consumer."),
    ("ASGI scope", "core:scope", "What this server passed to the application."),
    (
        "Streaming, SSE, long-polling",
        "live:index",
        "Responses that stay open: a streamed CSV, Server-Sent Events, long-polls.",
    ),
    (
        "Background jobs",
        "tasks:index",
        "Work after the response, in-process or in a worker, with live progress.",
    ),
    ("Servers", "core:servers", "What each ASGI server was measured to support."),
    ("Benchmarks", "bench:results", "Every server on the same work, side by side."),
]


@require_safe
async def home(request: HttpRequest) -> HttpResponse:
    """Index of the demos."""
    return render(request, "core/home.html", {"demos": DEMOS})


@require_safe
async def scope_page(request: HttpRequest) -> HttpResponse:
    """The HTTP scope of this request, and a socket that shows the WebSocket one."""
    scope = request_scope(request)
    context = {
        "scope": scope,
        "scope_text": json.dumps(scope, indent=2),
        "program": server_program(),
    }
    return render(request, "core/scope.html", context)


@require_safe
async def scope_json(request: HttpRequest) -> JsonResponse:
    """The HTTP scope of this request as JSON (used by the conformance tests)."""
    return JsonResponse({**served_by(), "scope": request_scope(request)})


# Marks every font has (the Markdown copy uses emoji, which GitHub draws).
MARKS = {SUPPORTED: "✓", UNSUPPORTED: "–", BROKEN: "✗"}


@require_safe
def servers(request: HttpRequest) -> HttpResponse:
    """The capability matrix measured by the conformance suite."""
    # Sync: it reads a file, which an async view would do on the event loop.
    try:
        matrix = load_matrix()
    except MatrixError as exc:
        return render(request, "core/servers.html", {"error": str(exc)}, status=503)
    rows = [
        {
            "title": row.title,
            "cells": [
                {"cell": row.cells.get(name), "mark": MARKS[row.cells[name].status]}
                if name in row.cells
                else {"cell": None}
                for name in matrix.servers
            ],
        }
        for row in matrix.capabilities.values()
    ]
    context = {
        "servers": list(matrix.servers),
        "versions": matrix.package_versions(),
        "rows": rows,
        "marks": MARKS,
    }
    return render(request, "core/servers.html", context)


@never_cache
@require_safe
async def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches no dependency on purpose."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_safe
async def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database and channel layer answer, else 503 and why."""
    problems = await dependency_problems()
    checks = {name: problems.get(name, "ok") for name in ("database", "channel_layer")}
    status = 503 if problems else 200
    return JsonResponse({"ready": not problems, "checks": checks}, status=status)
