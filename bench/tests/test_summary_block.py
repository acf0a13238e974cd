"""docs/performance.md shows the reference run's summary, and states the method."""

import json

from bench.reference import REFERENCE_ROOT, SUMMARY_FILE
from bench.summary_block import embedded_summary_block, summary_block
from bench.tests.synthetic import synthetic_run


def test_readme_shows_the_reference_run():
    # Local runs (var/bench-results/) are not committed: the docs link the reference.
    run = json.loads((REFERENCE_ROOT / SUMMARY_FILE).read_text())
    assert run["mode"] == "full"
    message = "run: python -m bench summary"
    assert embedded_summary_block() == summary_block(run), message


def test_the_block_names_the_machine_the_method_and_the_run():
    run = synthetic_run()
    run["report"] = {"summary": ["Django is slower on ASGI."]}
    block = summary_block(run)
    # Relative to docs/, where the block is.
    assert (
        "Reference run: [`2026-01-02-testhost-abc123`](../bench/reference/README.md)"
        in block
    )
    assert "2 × Test CPU, 4 GiB, Linux 6.0; load average 0.50 / 0.40 / 0.30" in block
    assert "pinned to CPU 0, the load generator on CPU 1" in block
    assert block.endswith("- Django is slower on ASGI.\n")
