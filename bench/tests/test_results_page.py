"""/bench/: the newest local run of the harness, else the committed reference,
with its tables and charts."""

import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.bench import results
from bench.harness import RESULTS_ROOT, write_results
from bench.reference import REFERENCE_ROOT, SUMMARY_FILE, write_reference
from bench.scale import SCALE_ROOT
from bench.soak import SOAK_ROOT
from bench.tests.synthetic import synthetic_run
from serving.processes import ROOT

# The settings' default, before the fixture below points it elsewhere (the
# test environment sets no DJANGO_BENCH_RESULTS_DIR).
DEFAULT_RESULTS_DIR = Path(django_settings.BENCH_RESULTS_DIR)

pytestmark = pytest.mark.django_db


async def assert_png(async_client, url: str) -> None:
    """The page's chart at `url` is served, as a PNG image."""
    image = await async_client.get(url)
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content)[:4] == b"\x89PNG"


async def page_showing(async_client, run_id: str) -> str:
    """/bench/, checked to show the synthetic run `run_id`: a table, a chart."""
    page = (await async_client.get("/bench/")).content.decode()
    assert run_id in page
    assert "<td>0.40×</td>" in page
    chart = f"/bench/results/{run_id}/http_throughput.png"
    assert f'src="{chart}"' in page
    await assert_png(async_client, chart)
    return page


def written_run(root, run_id: str, started_at: str) -> None:
    run = synthetic_run() | {
        "run_id": run_id,
        "folder": run_id,
        "started_at": started_at,
    }
    folder = root / run_id
    folder.mkdir()
    write_results(run, folder)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """An older and a newer run, and a folder whose JSON is unreadable."""
    root = tmp_path_factory.mktemp("results")
    written_run(root, "2026-01-01-host-aaaaaa", "2026-01-01T00:00:00+00:00")
    written_run(root, "2026-01-03-host-cccccc", "2026-01-03T00:00:00+00:00")
    (root / "2026-01-04-host-broken").mkdir()
    (root / "2026-01-04-host-broken" / "results.json").write_text("{")
    return root


@pytest.fixture(autouse=True)
def no_local_runs(settings, tmp_path):
    """No local run, whatever this checkout's var/bench-results/ holds."""
    settings.BENCH_RESULTS_DIR = tmp_path / "no-runs"


@pytest.fixture
def results_dir(settings, two_runs):
    settings.BENCH_RESULTS_DIR = two_runs
    return two_runs


@pytest.fixture
def reference_dir(monkeypatch, tmp_path):
    """A reference made as `python -m bench reference` makes it."""
    runs = tmp_path / "runs"
    runs.mkdir()
    written_run(runs, "2026-01-02-host-eeeeee", "2026-01-02T00:00:00+00:00")
    root = tmp_path / "reference"
    write_reference(runs / "2026-01-02-host-eeeeee", root)
    monkeypatch.setattr(results, "REFERENCE_DIR", root)
    return root


def test_the_reference_is_the_run_without_its_records(reference_dir):
    summary = json.loads((reference_dir / SUMMARY_FILE).read_text())
    assert "records" not in summary
    assert summary["report"]["summary"]
    assert sorted(p.name for p in reference_dir.iterdir()) == [
        "README.md",
        "charts",
        SUMMARY_FILE,
    ]
    charts = {p.name for p in (reference_dir / "charts").iterdir()}
    assert charts == {chart["file"] for chart in summary["charts"]}


def test_the_page_reads_where_the_harness_writes(settings):
    # Runs go to the ignored var/ (.gitignore); the reference is committed.
    assert DEFAULT_RESULTS_DIR == RESULTS_ROOT == SOAK_ROOT == SCALE_ROOT
    assert RESULTS_ROOT.is_relative_to(ROOT / "var")
    assert "/var/" in (ROOT / ".gitignore").read_text().split()
    assert results.REFERENCE_DIR == REFERENCE_ROOT
    assert (REFERENCE_ROOT / SUMMARY_FILE).is_file()
    # Images carry no runs, but the reference the page reads.
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if not line.startswith("#")}
    assert {"var", "bench/results"} <= ignored
    assert not {"bench", "bench/reference", "bench/reference/"} & ignored


async def test_without_any_run_the_page_says_how_to_make_them(
    async_client, monkeypatch, tmp_path
):
    monkeypatch.setattr(results, "REFERENCE_DIR", tmp_path / "no-reference")
    response = await async_client.get("/bench/")
    assert response.status_code == 200
    assert b"No benchmark results yet" in response.content
    assert b"python -m bench" in response.content


async def test_without_a_local_run_the_reference_is_shown(async_client, reference_dir):
    page = await page_showing(async_client, "2026-01-02-host-eeeeee")
    assert "the reference run kept in <code>bench/reference/</code>" in page


async def test_the_committed_reference_renders(async_client):
    run = json.loads((REFERENCE_ROOT / SUMMARY_FILE).read_text())
    page = (await async_client.get("/bench/")).content.decode()
    assert f"<code>{run['run_id']}</code>" in page
    assert "bench/reference/" in page
    for chart in run["report"]["charts"]:
        url = f"/bench/results/{run['run_id']}/{chart['file']}"
        assert f'src="{url}"' in page
        await assert_png(async_client, url)


async def test_a_local_run_in_the_harness_folder_wins_over_the_reference(
    async_client, settings, reference_dir, tmp_path
):
    harness = tmp_path / "harness"
    harness.mkdir()
    settings.BENCH_RESULTS_DIR = harness
    written_run(harness, "2026-01-01-host-dddddd", "2026-01-01T00:00:00+00:00")
    # A soak record in the same folder has no report: not a run for the page.
    (harness / "2026-01-05-host-soak00").mkdir()
    (harness / "2026-01-05-host-soak00" / "results.json").write_text(
        json.dumps({"started_at": "2026-01-05T00:00:00+00:00", "verdict": {}})
    )
    page = (await async_client.get("/bench/")).content.decode()
    assert "2026-01-01-host-dddddd" in page
    assert "2026-01-02-host-eeeeee" not in page
    assert "bench/reference/" not in page
    chart = "/bench/results/2026-01-01-host-dddddd/http_throughput.png"
    await assert_png(async_client, chart)


async def test_the_newest_run_is_shown_with_tables_and_charts(
    async_client, results_dir
):
    # The unreadable folder is skipped (and logged), not an error page.
    page = await page_showing(async_client, "2026-01-03-host-cccccc")
    assert "2026-01-01-host-aaaaaa" not in page
    assert "bench/reference/" not in page
    assert "Django sync plaintext view on ASGI: 0.36×–0.40×" in page
    assert "a starting point, not a final conclusion" in page


@pytest.mark.parametrize(
    "path",
    [
        "/bench/results/2026-01-03-host-cccccc/results.json",
        "/bench/results/2026-01-03-host-cccccc/..%2Fsecret.png",
        "/bench/results/no-such-run/http_throughput.png",
    ],
)
async def test_only_listed_charts_are_served(async_client, results_dir, path):
    assert (await async_client.get(path)).status_code == 404


async def test_home_page_and_navigation_link_the_benchmarks(async_client):
    page = (await async_client.get("/")).content.decode()
    assert page.count('href="/bench/"') == 2


async def test_contents_first_then_each_section_leads_with_its_charts(
    async_client, results_dir
):
    page = (await async_client.get("/bench/")).content.decode()
    toc = page.split('<nav class="bench-toc"', 1)[1].split("</nav>", 1)[0]
    sections = page.split('<section class="bench-section" id="')[1:]
    assert sections, "the synthetic run has sections"
    for section in sections:
        anchor = section.split('"', 1)[0]
        assert f'href="#{anchor}"' in toc
        if "<img " in section and "<table" in section:
            assert section.index("<img ") < section.index("<table")
