"""
Background work with live progress: jobs run by a worker process or by this
web process after it has answered, followed over WebSocket and SSE.
"""

import uuid

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from apps.core.decorators import asgi_only
from apps.core.forms import form_errors
from apps.core.scope import server_program
from apps.core.sse import sse_for
from apps.tasks.feeds import JobFeed
from apps.tasks.forms import JobForm
from apps.tasks.kinds import KINDS
from apps.tasks.selectors import job_as_dict, job_get, job_recent_list
from apps.tasks.services import (
    WORKER_CHANNEL,
    JobRefused,
    in_process_jobs,
    job_submit,
    worker_unavailable_reason,
)

RECENT_JOBS = 15


@require_safe
async def index(request: HttpRequest) -> HttpResponse:
    """The page: submit a job, watch it over WebSocket and SSE, recent jobs."""
    context = {
        "program": server_program(),
        "form": JobForm(initial={"kind": "sleep", "runner": "worker"}),
        "kinds": [(name, summary) for name, (_, summary) in KINDS.items()],
        "worker_unavailable": worker_unavailable_reason(),
        "worker_channel": WORKER_CHANNEL,
        "in_process_running": len(in_process_jobs),
        "in_process_limit": in_process_jobs.limit,
        "jobs": await job_recent_list(limit=RECENT_JOBS),
    }
    return render(request, "tasks/index.html", context)


@require_POST
async def submit(request: HttpRequest) -> JsonResponse:
    """POST kind, steps, step_ms, runner: 202 and the job, or 400/503 and why."""
    form = JobForm(request.POST)
    if not form.is_valid():
        return JsonResponse(
            {"error": "bad_request", "detail": form_errors(form)}, status=400
        )
    try:
        job = await job_submit(**form.cleaned_data)
    except JobRefused as refused:
        return JsonResponse(
            {"error": refused.code, "detail": refused.detail}, status=503
        )
    body = {"job": job_as_dict(job), "links": _links(job.id)}
    response = JsonResponse(body, status=202)
    response["Location"] = reverse("tasks:job-json", args=[job.id])
    return response


def _links(job_id: uuid.UUID) -> dict[str, str]:
    return {
        "json": reverse("tasks:job-json", args=[job_id]),
        "sse": reverse("tasks:job-sse", args=[job_id]),
        "websocket": f"/ws/tasks/jobs/{job_id}/",
    }


@never_cache
@require_safe
async def jobs_json(request: HttpRequest) -> JsonResponse:
    """The recent jobs, newest first (the page's table refreshes from it)."""
    return JsonResponse({"jobs": await job_recent_list(limit=RECENT_JOBS)})


@never_cache
@require_safe
async def job_json(request: HttpRequest, job_id: uuid.UUID) -> JsonResponse:
    job = await job_get(job_id=job_id)
    if job is None:
        raise Http404(f"No job {job_id}.")
    return JsonResponse(job)


@asgi_only
@require_GET
async def job_sse(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Server-Sent Events of one job: its state, then each update."""
    if await job_get(job_id=job_id) is None:
        raise Http404(f"No job {job_id}.")
    return sse_for(request, JobFeed(job_id))
