"""The benchmark block of docs/performance.md: the reference run's summary
(bench/reference/, committed; local runs in var/bench-results/ are not)."""

import re
from typing import Any

from bench.markdown import summary_markdown
from serving.processes import ROOT

# The document that holds the block; links in it are relative to its folder.
DOCUMENT = ROOT / "docs" / "performance.md"
START, END = "<!-- bench-summary:start -->\n", "<!-- bench-summary:end -->"


def summary_block(run: dict[str, Any]) -> str:
    """What goes between the markers of docs/performance.md for `run`."""
    load = " / ".join(f"{v:.2f}" for v in run["machine"]["load_average_before"])
    preset = run["preset"]
    return (
        f"Reference run: [`{run['run_id']}`](../bench/reference/README.md), "
        f"{run['machine']['description']}; load average {load} when it started "
        "(the machine was shared, so read ratios rather than absolute figures).\n"
        f"Method: each server with one worker pinned to CPU 0, the load generator on "
        f"CPU 1, {preset['warmup']} s warm-up then {preset['repetitions']} × "
        f"{preset['duration']} s per measurement, medians.\n\n" + summary_markdown(run)
    )


def update_summary_block(run: dict[str, Any]) -> None:
    """Replace the block between the markers with `run`'s."""
    text = DOCUMENT.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{DOCUMENT.name} has no {START.strip()} … {END} markers.")
    DOCUMENT.write_text(pattern.sub(lambda _: START + summary_block(run) + END, text))


def embedded_summary_block() -> str:
    """The block docs/performance.md holds now."""
    return DOCUMENT.read_text().split(START, 1)[1].split(END, 1)[0]
