import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.health import dependency_problems
from apps.core.scope import request_scope, server_program

DEMOS = [
    ("Chat", "chat:index", "Rooms over channel-layer groups, history and presence."),
    ("WebSocket echo", "echo:index", "A raw ASGI echo beside a Channels consumer."),
    ("ASGI scope", "core:scope", "What this server passed to the application."),
    ("Benchmarks", "bench:results", "Every server on the same work, side by side."),
]


@require_GET
async def home(request: HttpRequest) -> HttpResponse:
    """Index of the demos."""
    return render(request, "core/home.html", {"demos": DEMOS})


@require_GET
async def scope_page(request: HttpRequest) -> HttpResponse:
    """The HTTP scope of this request, and a socket that shows the WebSocket one."""
    scope = request_scope(request)
    context = {
        "scope": scope,
        "scope_text": json.dumps(scope, indent=2),
        "program": server_program(),
    }
    return render(request, "core/scope.html", context)


@require_GET
async def scope_json(request: HttpRequest) -> JsonResponse:
    """The HTTP scope of this request as JSON (used by the conformance tests)."""
    return JsonResponse({"program": server_program(), "scope": request_scope(request)})


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches no dependency on purpose."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database and channel layer answer, else 503 and why."""
    problems = await dependency_problems()
    checks = {name: problems.get(name, "ok") for name in ("database", "channel_layer")}
    status = 503 if problems else 200
    return JsonResponse({"ready": not problems, "checks": checks}, status=status)
