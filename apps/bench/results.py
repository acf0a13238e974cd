"""
Reading the benchmark harness's output (bench/results/<run>/results.json) for
the /bench/ page. The harness stores the report it rendered to Markdown in the
same file, so the page and README.md of a run show the same tables.
"""

import json
import logging
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"


def _load(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / RESULTS_FILE).read_text())
    except (OSError, ValueError) as exc:
        logger.warning("Skipping benchmark results in %s: %s", folder, exc)
        return None


def run_list() -> list[dict[str, Any]]:
    """Every readable run in BENCH_RESULTS_DIR, oldest first."""
    root = Path(settings.BENCH_RESULTS_DIR)
    if not root.is_dir():
        return []
    folders = [path for path in root.iterdir() if (path / RESULTS_FILE).is_file()]
    runs = [run for run in map(_load, folders) if run is not None]
    return sorted(runs, key=lambda run: run.get("started_at", ""))


def latest_run() -> dict[str, Any] | None:
    """The newest run, or None when there is none yet."""
    runs = run_list()
    return runs[-1] if runs else None


def chart_path(*, run_id: str, name: str) -> Path | None:
    """The file of a chart that run `run_id` lists, or None."""
    for run in run_list():
        if run["run_id"] == run_id:
            charts = {chart["file"] for chart in run["report"]["charts"]}
            folder = Path(settings.BENCH_RESULTS_DIR) / run["folder"]
            return folder / "charts" / name if name in charts else None
    return None
