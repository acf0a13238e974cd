"""
The TechEmpower endpoints (see contract.py), each as a sync and an async view,
and the page that shows the newest benchmark run (else the reference).

The sync views run in Django's thread under ASGI, the async ones on the event
loop: the harness measures what that difference costs on each server.
"""

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_safe

from apps.bench import results
from apps.bench.contract import JSON_MESSAGE, PLAINTEXT
from apps.bench.selectors import (
    fortune_alist,
    fortune_list,
    queries_count,
    world_alist,
    world_as_dict,
    world_ids_random,
    world_list,
)
from apps.bench.services import (
    world_random_numbers_aupdate,
    world_random_numbers_update,
)


def _rows(worlds: list) -> JsonResponse:
    return JsonResponse([world_as_dict(world) for world in worlds], safe=False)


def _fortunes_page(fortunes: list) -> HttpResponse:
    # No request context: the test type renders the rows and nothing else.
    return HttpResponse(render_to_string("bench/fortunes.html", {"fortunes": fortunes}))


def _count(request: HttpRequest) -> int:
    return queries_count(request.GET.get("queries"))


@require_GET
def plaintext(request: HttpRequest) -> HttpResponse:
    """Hello, World! as text/plain."""
    return HttpResponse(PLAINTEXT, content_type="text/plain")


@require_GET
async def plaintext_async(request: HttpRequest) -> HttpResponse:
    """Hello, World! as text/plain, on the event loop."""
    return HttpResponse(PLAINTEXT, content_type="text/plain")


@require_GET
def json_hello(request: HttpRequest) -> JsonResponse:
    """{"message": "Hello, World!"}, serialised per request."""
    return JsonResponse(dict(JSON_MESSAGE))


@require_GET
async def json_hello_async(request: HttpRequest) -> JsonResponse:
    """{"message": "Hello, World!"}, serialised per request, on the event loop."""
    return JsonResponse(dict(JSON_MESSAGE))


@require_GET
def db(request: HttpRequest) -> JsonResponse:
    """One random World row."""
    (world,) = world_list(ids=world_ids_random(count=1))
    return JsonResponse(world_as_dict(world))


@require_GET
async def db_async(request: HttpRequest) -> JsonResponse:
    """One random World row, through the async ORM."""
    (world,) = await world_alist(ids=world_ids_random(count=1))
    return JsonResponse(world_as_dict(world))


@require_GET
def queries(request: HttpRequest) -> JsonResponse:
    """`queries` random World rows (1..500), one query each."""
    return _rows(world_list(ids=world_ids_random(count=_count(request))))


@require_GET
async def queries_async(request: HttpRequest) -> JsonResponse:
    """`queries` random World rows (1..500), one async query each."""
    return _rows(await world_alist(ids=world_ids_random(count=_count(request))))


@require_GET
def fortunes(request: HttpRequest) -> HttpResponse:
    """Every fortune plus one added now, sorted, in an escaped HTML table."""
    return _fortunes_page(fortune_list())


@require_GET
async def fortunes_async(request: HttpRequest) -> HttpResponse:
    """The fortunes table, read through the async ORM."""
    return _fortunes_page(await fortune_alist())


@require_GET
def updates(request: HttpRequest) -> JsonResponse:
    """`queries` random rows, each given a new random number and saved."""
    worlds = world_list(ids=world_ids_random(count=_count(request)))
    return _rows(world_random_numbers_update(worlds=worlds))


@require_GET
async def updates_async(request: HttpRequest) -> JsonResponse:
    """The updates test through the async ORM."""
    worlds = await world_alist(ids=world_ids_random(count=_count(request)))
    return _rows(await world_random_numbers_aupdate(worlds=worlds))


@require_safe
async def results_page(request: HttpRequest) -> HttpResponse:
    """The newest local benchmark run, else the committed reference: its
    summary, tables and charts."""
    run, is_reference = results.shown_run()
    # A cell the harness marks so: shown as a dagger, not as a figure.
    context = {"run": run, "reference": is_reference, "TOO_FEW": " (too few responses)"}
    return render(request, "bench/results.html", context)


@require_safe
def results_chart(request: HttpRequest, run_id: str, name: str) -> FileResponse:
    """One chart of a run, by the name its results.json lists."""
    path = results.chart_path(run_id=run_id, name=name)
    if path is None:
        raise Http404("No such chart in the benchmark results.")
    return FileResponse(path.open("rb"), content_type="image/png")
