"""The project README's benchmark block: the latest full run's summary."""

import re
from typing import Any

from bench.markdown import summary_markdown
from serving.processes import ROOT

README = ROOT / "README.md"
START, END = "<!-- bench-summary:start -->\n", "<!-- bench-summary:end -->"


def readme_block(run: dict[str, Any]) -> str:
    """What goes between the README's markers for `run`."""
    load = " / ".join(f"{v:.2f}" for v in run["machine"]["load_average_before"])
    preset = run["preset"]
    return (
        f"Latest run: [`{run['run_id']}`](bench/results/{run['folder']}/README.md), "
        f"{run['machine']['description']}; load average {load} when it started "
        "(the machine was shared, so read ratios rather than absolute figures).\n"
        f"Method: each server with one worker pinned to CPU 0, the load generator on "
        f"CPU 1, {preset['warmup']} s warm-up then {preset['repetitions']} × "
        f"{preset['duration']} s per measurement, medians.\n\n" + summary_markdown(run)
    )


def update_readme(run: dict[str, Any]) -> None:
    """Replace the block between the markers with `run`'s."""
    text = README.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"README.md has no {START.strip()} … {END} markers.")
    README.write_text(pattern.sub(lambda _: START + readme_block(run) + END, text))


def readme_embedded_block() -> str:
    """The block README.md holds now."""
    return README.read_text().split(START, 1)[1].split(END, 1)[0]
