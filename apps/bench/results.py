"""
The runs of the benchmark harness, for the /bench/ page: the newest local run,
else the committed reference.

Local runs are folders of results.json, README.md and charts/ that
`python -m bench` writes into settings.BENCH_RESULTS_DIR (var/bench-results/
unless DJANGO_BENCH_RESULTS_DIR says otherwise; ignored by git and by the
image). The harness
stores the report it rendered to Markdown in results.json, so the page and a
run's README.md show the same tables. bench/reference/ keeps one full run (see
bench/reference.py): its summary.json is results.json without the raw records,
which the page does not read.
"""

import json
import logging
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
# The committed reference (bench/reference.py REFERENCE_ROOT, SUMMARY_FILE).
REFERENCE_DIR = Path(settings.BASE_DIR) / "bench" / "reference"
REFERENCE_FILE = "summary.json"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        run = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        logger.warning("Skipping benchmark results in %s: %s", path.parent, exc)
        return None
    # Soak and scale records share the folder; only harness runs have a report.
    return run if isinstance(run, dict) and "report" in run else None


def _local_runs() -> list[tuple[dict[str, Any], Path]]:
    """Every readable local run and its folder, oldest first."""
    found = []
    # Soak and scale runs land there too, and have no report for the page.
    root = Path(settings.BENCH_RESULTS_DIR)
    if root.is_dir():
        for folder in root.iterdir():
            if (folder / RESULTS_FILE).is_file():
                run = _load(folder / RESULTS_FILE)
                if run is not None:
                    found.append((run, folder))
    return sorted(found, key=lambda pair: pair[0].get("started_at", ""))


def reference_run() -> dict[str, Any] | None:
    """The committed reference run, or None if bench/reference/ has none."""
    path = REFERENCE_DIR / REFERENCE_FILE
    return _load(path) if path.is_file() else None


def _shown() -> tuple[dict[str, Any], Path] | None:
    local = _local_runs()
    if local:
        return local[-1]
    reference = reference_run()
    return (reference, REFERENCE_DIR) if reference else None


def shown_run() -> tuple[dict[str, Any] | None, bool]:
    """The run the page shows (the newest local one, else the reference), and
    whether it is the reference."""
    shown = _shown()
    if shown is None:
        return None, False
    return shown[0], shown[1] == REFERENCE_DIR


def chart_path(*, run_id: str, name: str) -> Path | None:
    """The file of a chart that run `run_id` (local, else the reference) lists."""
    reference = reference_run()
    candidates = _local_runs() + ([(reference, REFERENCE_DIR)] if reference else [])
    for run, folder in candidates:
        if run.get("run_id") == run_id:
            charts = {chart["file"] for chart in run["report"]["charts"]}
            return folder / "charts" / name if name in charts else None
    return None
