"""
Jobs in-process: the runner, submission through the view, the progress
consumer and the worker consumer, once per channel layer where one is used.
"""

import asyncio
import uuid
from datetime import timedelta

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from django.test import AsyncClient
from django.utils import timezone

from apps.tasks.consumers import CLOSE_UNKNOWN_JOB
from apps.tasks.kinds import count_primes
from apps.tasks.models import Job
from apps.tasks.selectors import job_get
from apps.tasks.services import WORKER_CHANNEL, in_process_jobs, job_execute
from project.asgi import application
from testing.asgi import StreamingRequest, websocket
from testing.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
TIMEOUT = 5


async def queued(kind: str = "sleep", steps: int = 4, step_ms: int = 1) -> Job:
    return await Job.objects.acreate(
        kind=kind, steps=steps, step_ms=step_ms, runner=Job.Runner.WORKER
    )


def has_status(job_id, status: str):
    async def job_has_status() -> bool:
        return (await job_get(job_id=job_id))["status"] == status

    job_has_status.__name__ = f"job_is_{status}"
    return job_has_status


def test_count_primes():
    assert count_primes(0, 30) == 10
    assert count_primes(20_000, 40_000) == 4203 - 2262


async def test_a_job_runs_to_success_with_its_result():
    job = await queued(steps=4)
    await job_execute(job_id=job.id)
    await job.arefresh_from_db()
    assert (job.status, job.progress, job.result) == ("succeeded", 100, {"slept_ms": 4})
    # queued 1, running 2, four steps 3-6, succeeded 7
    assert job.version == 7
    assert job.started_at <= job.finished_at


async def test_a_failing_job_is_recorded_with_its_error():
    job = await queued(kind="fail", steps=4)
    await job_execute(job_id=job.id)
    await job.arefresh_from_db()
    assert (job.status, job.progress) == ("failed", 50)
    assert job.error == "JobStepError: step 3 of 4 failed on purpose"
    assert job.finished_at is not None


async def test_a_cancelled_job_is_recorded_as_cancelled():
    job = await queued(steps=100, step_ms=1000)
    task = asyncio.create_task(job_execute(job_id=job.id))
    await eventually(has_status(job.id, "running"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await job.arefresh_from_db()
    assert job.status == "cancelled"
    assert "shut down" in job.error


async def test_a_job_runs_at_most_once():
    job = await queued(steps=1)
    await job_execute(job_id=job.id)
    await job_execute(job_id=job.id)  # a duplicate message: ignored
    await job.arefresh_from_db()
    assert job.version == 4  # not run twice


async def test_a_job_left_running_for_too_long_is_shown_as_lost(settings):
    settings.TASKS_JOB_STALE_AFTER = 60
    job = await queued()
    await Job.objects.filter(id=job.id).aupdate(status="running")
    assert (await job_get(job_id=job.id))["lost"] is False
    # update() does not touch auto_now fields, so this sets the past for real.
    await Job.objects.filter(id=job.id).aupdate(
        updated_at=timezone.now() - timedelta(seconds=61)
    )
    assert (await job_get(job_id=job.id))["lost"] is True


async def submit(runner: str = "in-process", **fields) -> tuple[int, dict]:
    data = {"kind": "sleep", "steps": 3, "step_ms": 1, "runner": runner, **fields}
    response = await AsyncClient().post("/tasks/jobs/", data)
    return response.status_code, response.json()


async def test_in_process_job_is_accepted_then_finishes_after_the_response():
    status, body = await submit("in-process", steps=5, step_ms=20)
    assert status == 202
    assert body["job"]["status"] == "queued"
    assert body["links"]["websocket"] == f"/ws/tasks/jobs/{body['job']['id']}/"
    await eventually(has_status(body["job"]["id"], "succeeded"))
    job = await job_get(job_id=body["job"]["id"])
    assert job["runner"] == "in-process" and job["progress"] == 100


async def test_in_process_jobs_beyond_the_limit_are_refused_and_recorded(
    monkeypatch,
):
    monkeypatch.setattr(in_process_jobs, "limit", 0)
    status, body = await submit("in-process")
    assert status == 503
    assert body["error"] == "busy"
    job = await Job.objects.aget()
    assert job.status == "refused" and "already runs 0" in job.error


async def test_worker_jobs_go_to_the_worker_channel(channel_layer):
    status, body = await submit("worker")
    if not isinstance(channel_layer, RedisChannelLayer):
        # The in-memory layer cannot reach another process, the pub/sub layer
        # loses what is sent while no worker listens: refused, not faked.
        assert status == 503
        assert body["error"] == "worker_unavailable"
        assert "REDIS_URL" in body["detail"] or "=redis" in body["detail"]
        assert await Job.objects.acount() == 0
        return
    assert status == 202
    message = await asyncio.wait_for(channel_layer.receive(WORKER_CHANNEL), TIMEOUT)
    assert message == {"type": "job.run", "job_id": body["job"]["id"]}


async def test_a_full_worker_channel_is_refused_and_recorded(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "django_asgi_kit.channel_layers.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": "redis://127.0.0.1:6379/0"}],
                "prefix": f"test{uuid.uuid4().hex[:10]}",
                "capacity": 1,
            },
        }
    }
    from channels.layers import get_channel_layer

    assert (await submit("worker"))[0] == 202
    status, body = await submit("worker")
    assert status == 503 and body["error"] == "queue_full"
    refused = await Job.objects.aget(status="refused")
    assert "is full" in refused.error
    await get_channel_layer().flush()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "mine"}, "kind: Select a valid choice."),
        ({"steps": 0}, "steps: Ensure this value is greater than or equal to 1."),
        ({"step_ms": "x"}, "step_ms: Enter a whole number."),
        ({"runner": "cron"}, "runner: Select a valid choice."),
    ],
)
async def test_bad_submissions_are_explained_and_not_recorded(fields, message):
    status, body = await submit(**fields)
    assert status == 400
    assert body["detail"].startswith(message)
    assert await Job.objects.acount() == 0


async def follow(job_id) -> WebsocketCommunicator:
    return await websocket(f"/ws/tasks/jobs/{job_id}/")


async def test_websocket_sees_the_state_then_progress_to_100(channel_layer):
    job = await queued(steps=4)
    communicator = await follow(job.id)
    first = await communicator.receive_json_from(timeout=TIMEOUT)
    assert (first["type"], first["job"]["status"]) == ("job", "queued")
    await job_execute(job_id=job.id)
    seen = []
    while not seen or seen[-1]["status"] != "succeeded":
        seen.append((await communicator.receive_json_from(timeout=TIMEOUT))["job"])
    assert [j["progress"] for j in seen] == [0, 25, 50, 75, 100, 100]
    assert [j["version"] for j in seen] == [2, 3, 4, 5, 6, 7]
    await communicator.disconnect()


async def test_websocket_for_an_unknown_job_is_told_and_closed():
    communicator = await follow(uuid.uuid4())
    error = await communicator.receive_json_from(timeout=TIMEOUT)
    assert error["code"] == "unknown_job"
    closed = await communicator.receive_output(timeout=TIMEOUT)
    assert closed == {"type": "websocket.close", "code": CLOSE_UNKNOWN_JOB}


async def test_sse_sees_the_state_then_each_update(channel_layer):
    job = await queued(steps=2)
    stream = await StreamingRequest(f"/tasks/jobs/{job.id}/sse").start()
    assert (await stream.sse_event())["id"] == "1"
    await job_execute(job_id=job.id)
    ids = [(await stream.sse_event())["id"] for _ in range(4)]
    assert ids == ["2", "3", "4", "5"]
    await stream.disconnect()


async def test_sse_resume_gets_the_current_state_only_if_newer():
    job = await queued(steps=2)
    await job_execute(job_id=job.id)  # now at version 5
    stream = await StreamingRequest(
        f"/tasks/jobs/{job.id}/sse", {"Last-Event-ID": "2"}
    ).start()
    event = await stream.sse_event()
    assert (event["event"], event["id"]) == ("job", "5")
    await stream.disconnect()


async def test_sse_for_an_unknown_job_is_404():
    stream = await StreamingRequest(f"/tasks/jobs/{uuid.uuid4()}/sse").start()
    await stream.body()
    assert stream.status == 404


async def test_the_worker_consumer_runs_jobs_sent_to_its_channel():
    """What `runworker jobs` does, without the process: the "channel" route."""
    job = await queued(steps=2)
    worker = ApplicationCommunicator(
        application, {"type": "channel", "channel": WORKER_CHANNEL}
    )
    await worker.send_input({"type": "job.run", "job_id": str(job.id)})
    await eventually(has_status(job.id, "succeeded"))
    worker.stop(exceptions=False)
    await asyncio.gather(worker.future, return_exceptions=True)


async def test_the_page_explains_both_runners_and_refuses_the_worker_here():
    page = (await AsyncClient().get("/tasks/")).content.decode()
    assert "runworker jobs" in page and 'id="program"' in page
    assert 'id="worker-unavailable"' in page  # the in-memory layer of the tests
    # Plain text: no Markdown a browser would show as it is.
    banner = page.split('id="worker-unavailable"', 1)[1].split("</p>", 1)[0]
    assert "`" not in banner
    home = (await AsyncClient().get("/")).content.decode()
    assert home.count('href="/tasks/"') == 2
