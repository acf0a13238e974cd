"""The soak's verdict and report, from made-up samples."""

from bench.soak import soak_markdown, verdict


def samples(rss: list[float]) -> list[dict]:
    return [
        {"second": 5 * i, "rss_mb": mb, "cpu_seconds": i, "database_connections": 3}
        for i, mb in enumerate(rss)
    ]


def test_warm_up_growth_is_not_a_leak_but_later_growth_is():
    clients = {"http": {"done": 100, "errors": 0}}
    warm_then_flat = verdict(samples([50, 80, 80, 81, 80, 80, 81, 80]), clients)
    assert warm_then_flat["memory_flat"]
    assert warm_then_flat["rss_settled_mb"] == 80.5
    leaking = verdict(samples([50, 80, 80, 85, 90, 95, 100, 105]), clients)
    assert not leaking["memory_flat"]
    assert round(leaking["rss_growth"], 3) == round((102.5 - 82.5) / 82.5, 3)


def test_errors_of_every_client_are_summed_into_the_report():
    clients = {"http": {"done": 10, "errors": 2}, "ws": {"done": 5, "errors": 1}}
    record = {
        "started_at": "2026-12-01T14:00:00+00:00",
        "seconds": 600,
        "server": "uvicorn",
        "clients": clients,
        "samples": samples([80] * 8),
        "verdict": verdict(samples([80] * 8), clients),
    }
    text = soak_markdown(record)
    assert "- Errors: 3." in text
    assert "| ws | 5 | 1 |" in text
