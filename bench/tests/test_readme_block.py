"""docs/performance.md shows the latest full run's summary, and states the method."""

import json
from pathlib import Path

from bench.harness import RESULTS_ROOT
from bench.readme import readme_block, readme_embedded_block
from bench.tests.synthetic import synthetic_run


def latest_full_run() -> dict | None:
    runs = [
        json.loads(p.read_text()) for p in Path(RESULTS_ROOT).glob("*/results.json")
    ]
    full = sorted(
        (r for r in runs if r["mode"] == "full"), key=lambda r: r["started_at"]
    )
    return full[-1] if full else None


def test_readme_shows_the_latest_full_run():
    run = latest_full_run()
    expected = readme_block(run) if run else "No full run yet.\n"
    assert readme_embedded_block() == expected, "run: python -m bench readme"


def test_the_block_names_the_machine_the_method_and_the_run():
    run = synthetic_run()
    run["report"] = {"summary": ["Django is slower on ASGI."]}
    block = readme_block(run)
    # Relative to docs/, where the block is.
    assert "(../bench/results/2026-01-02-testhost-abc123/README.md)" in block
    assert "2 × Test CPU, 4 GiB, Linux 6.0; load average 0.50 / 0.40 / 0.30" in block
    assert "pinned to CPU 0, the load generator on CPU 1" in block
    assert block.endswith("- Django is slower on ASGI.\n")
