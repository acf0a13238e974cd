"""The pages of issue 5 and the rest: SSE, jobs, the scope over HTTP/2, benchmarks."""

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from serving.devcert import ensure_dev_certificates
from serving.processes import ServerProcess
from testing.environments import SERVERS
from testing.workers import WorkerProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def worker(shared_env) -> Iterator[WorkerProcess]:
    process = WorkerProcess(shared_env, ("jobs",)).start()
    yield process
    process.close()


def test_the_sse_page_receives_events_published_through_another_server(
    new_page, shared_env, run_server
):
    uvicorn = run_server(SERVERS["uvicorn"], shared_env)
    daphne = run_server(SERVERS["daphne"], shared_env)
    topic = f"browser-{uuid.uuid4().hex[:8]}"
    reader, writer = new_page(), new_page()
    for page, server in ((reader, uvicorn), (writer, daphne)):
        page.goto(f"{server.url}/live/")
        page.fill("#topic", topic)
        page.locator("#topic-form button").click()
        expect(page.locator("#topic-status")).to_have_text("open")
    writer.fill("#note", "hello over SSE")
    writer.locator("#topic-form button").click()
    # Published by the daphne process, delivered by uvicorn's stream (and poll).
    expect(reader.locator("#topic-log")).to_contain_text("hello over SSE")
    # The long-poll left the default topic when the form changed it, at once.
    expect(reader.locator("#poll-log")).to_contain_text("note (200)")


def test_the_jobs_page_shows_a_worker_job_to_completion(
    new_page, shared_env, run_server, worker
):
    server = run_server(SERVERS["uvicorn"], shared_env)
    page = new_page()
    page.goto(f"{server.url}/tasks/")
    page.fill("input[name=steps]", "5")
    page.fill("input[name=step_ms]", "200")
    page.get_by_role("button", name="Send to the worker").click()
    expect(page.locator("#ws-status")).to_have_text("succeeded")
    expect(page.locator("#sse-status")).to_have_text("succeeded")
    expect(page.locator("#ws-progress")).to_have_attribute("value", "100")
    expect(page.locator("#sse-progress")).to_have_attribute("value", "100")


def test_the_scope_page_says_http2_over_tls_from_hypercorn(
    new_page, shared_env, tmp_path
):
    tls = ensure_dev_certificates(tmp_path)
    server = ServerProcess(SERVERS["hypercorn"], shared_env, tls=tls).start()
    try:
        # The development CA is not in Chromium's store: trust this context only.
        page = new_page(ignore_https_errors=True)
        page.goto(f"{server.url}/scope/")
        expect(page.locator("#http-version")).to_have_text("2")
        expect(page.locator("#ws-scope")).to_contain_text('"scheme": "wss"')
    finally:
        server.close()


def test_the_benchmark_page_renders_its_tables_and_charts(
    new_page, embedded_env, run_server
):
    server = run_server(SERVERS["uvicorn"], embedded_env)
    page = new_page()
    page.goto(f"{server.url}/bench/")
    # Contents first; each section's tables open on demand, under its charts.
    page.locator(".bench-toc a").nth(1).click()
    tables = page.locator(".bench-section details.bench-tables").first
    expect(tables.locator("table").first).to_be_hidden()
    tables.locator("summary").click()
    expect(tables.locator("table").first).to_be_visible()
    charts = page.locator("main img")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 4
    for chart in charts.all():
        chart.scroll_into_view_if_needed()
        expect(chart).to_have_js_property("complete", True)
        assert chart.evaluate("image => image.naturalWidth") > 0, chart
    expect(page.locator("h1")).to_have_text(re.compile("Benchmark", re.I))


def test_the_downloads_table_shows_a_new_download_without_a_reload(
    new_page, embedded_env, run_server
):
    server = run_server(SERVERS["uvicorn"], embedded_env)
    page = new_page()
    page.goto(f"{server.url}/live/")
    # An empty log says so (the embedded database has no topic events).
    empty = page.locator("#topic-log").evaluate(
        "(el) => el.children.length ? 'has events'"
        " : getComputedStyle(el, '::before').content"
    )
    assert empty == '"No events yet."'
    # A download from elsewhere (another tab, curl), after the page loaded.
    download = httpx.get(f"{server.url}/live/export.csv?rows=25", timeout=10)
    export_id = download.headers["x-export-id"]
    row = page.locator("#exports tr").filter(has_text=re.compile(f"^{export_id}"))
    expect(row).to_have_text(re.compile(rf"^{export_id}\s*25\s*25\s*completed$"))


def test_a_worker_job_nobody_takes_says_why_and_the_table_keeps_up(
    new_page, shared_env, run_server
):
    """No worker runs: after a few seconds the page asks about it; a job run
    in the web process meanwhile reaches the recent jobs table without a reload."""
    server = run_server(SERVERS["uvicorn"], shared_env)
    page = new_page()
    page.goto(f"{server.url}/tasks/")
    page.get_by_role("button", name="Send to the worker").click()
    expect(page.locator("#ws-status")).to_have_text("queued")
    expect(page.locator("#job-hint")).to_be_visible()
    expect(page.locator("#job-hint")).to_contain_text("runworker jobs")
    page.fill("input[name=steps]", "2")
    page.fill("input[name=step_ms]", "100")
    page.get_by_role("button", name="Run in this web process").click()
    expect(page.locator("#ws-status")).to_have_text("succeeded")
    expect(page.locator("#job-hint")).to_be_hidden()
    job_id = page.locator("#job-id").text_content()
    row = page.locator("#jobs tr").filter(has_text=job_id[:8])
    expect(row).to_contain_text("succeeded")
