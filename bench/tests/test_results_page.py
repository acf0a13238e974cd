"""/bench/: the newest run of the harness, with its tables and charts."""

import pytest

from bench.harness import write_results
from bench.tests.synthetic import synthetic_run

pytestmark = pytest.mark.django_db


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


@pytest.fixture
def results_dir(settings, two_runs):
    settings.BENCH_RESULTS_DIR = two_runs
    return two_runs


async def test_without_results_the_page_says_how_to_make_them(
    async_client, settings, tmp_path
):
    settings.BENCH_RESULTS_DIR = tmp_path
    response = await async_client.get("/bench/")
    assert response.status_code == 200
    assert b"No benchmark results yet" in response.content
    assert b"python -m bench" in response.content


async def test_the_newest_run_is_shown_with_tables_and_charts(
    async_client, results_dir
):
    # The unreadable folder is skipped (and logged), not an error page.
    page = (await async_client.get("/bench/")).content.decode()
    assert "2026-01-03-host-cccccc" in page
    assert "2026-01-01-host-aaaaaa" not in page
    assert "Django sync plaintext view on ASGI: 0.36×–0.40×" in page
    assert "<td>0.40×</td>" in page
    assert "a starting point, not a final conclusion" in page
    chart = "/bench/results/2026-01-03-host-cccccc/http_throughput.png"
    assert f'src="{chart}"' in page
    image = await async_client.get(chart)
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content)[:4] == b"\x89PNG"


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
