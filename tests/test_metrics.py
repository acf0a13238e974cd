"""/metrics on real servers: every ASGI server of the registry, and the sum of
several worker processes (PROMETHEUS_MULTIPROC_DIR)."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.processes import ServerProcess
from testing.environments import SERVERS

pytestmark = pytest.mark.servers


def scraped(server: ServerProcess, name: str, **labels: str) -> float:
    """The sample `name` with `labels` in the server's /metrics (0 if absent)."""
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    return 0.0


def test_every_server_counts_requests_by_view(server):
    labels = {"view": "core:healthz", "method": "GET", "status": "200"}
    before = scraped(server, "django_http_requests_total", **labels)
    for _ in range(3):
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert scraped(server, "django_http_requests_total", **labels) == before + 3


def test_the_workers_values_are_summed(shared_env, tmp_path):
    """Two gunicorn workers, requests answered by both: a scrape, whichever
    worker answers it, counts every request."""
    env = {**shared_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    server = ServerProcess(SERVERS["gunicorn-uvicorn"], env, workers=2)
    try:
        server.start()
        labels = {"view": "core:scope-json", "method": "GET", "status": "200"}
        before = scraped(server, "django_http_requests_total", **labels)
        replicas, sent = set(), 0
        while len(replicas) < 2 and sent < 200:
            # A new connection each time, so either worker may take it.
            response = httpx.get(f"{server.url}/scope.json", timeout=10)
            replicas.add(response.json()["replica"])
            sent += 1
        assert len(replicas) == 2, f"one worker answered all {sent} requests"
        assert scraped(server, "django_http_requests_total", **labels) == before + sent
    finally:
        server.close()
