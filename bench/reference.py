"""
The committed reference: one full run, kept small.

Runs are outputs, written to var/bench-results/ (ignored by git and by the
image). bench/reference/ keeps a copy of one full run for the /bench/ page when
there is no local run, and for the summary block of docs/performance.md:

  README.md     the run's report
  charts/       its charts, drawn again at a lower resolution
  summary.json  results.json without the raw records: what the page and the
                summary block read (machine, preset, report, chart list)

Its soak and scale reports sit beside it as soak.md and scale.md, copied by hand.
"""

import json
import shutil
from pathlib import Path
from typing import Any

from bench import charts
from serving.processes import ROOT

REFERENCE_ROOT = ROOT / "bench" / "reference"
SUMMARY_FILE = "summary.json"
# About half the bytes of the charts of a run, still readable on the page.
REFERENCE_DPI = 80


def reference_summary(run: dict[str, Any]) -> dict[str, Any]:
    """`run` without its raw records (four fifths of results.json)."""
    return {key: value for key, value in run.items() if key != "records"}


def write_reference(folder: Path, root: Path = REFERENCE_ROOT) -> dict[str, Any]:
    """Make the full run in `folder` the reference in `root`; the run."""
    run = json.loads((folder / "results.json").read_text())
    if run["mode"] != "full":
        raise ValueError(f"{folder} holds a {run['mode']} run, not a full one.")
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / "charts", ignore_errors=True)
    dpi, charts.DPI = charts.DPI, REFERENCE_DPI
    try:
        drawn = charts.draw_charts(run, root / "charts")
    finally:
        charts.DPI = dpi
    if sorted(c["file"] for c in drawn) != sorted(c["file"] for c in run["charts"]):
        raise ValueError(f"The charts of {folder} differ from its results.json.")
    shutil.copyfile(folder / "README.md", root / "README.md")
    summary = json.dumps(reference_summary(run), indent=1)
    (root / SUMMARY_FILE).write_text(summary + "\n")
    return run
