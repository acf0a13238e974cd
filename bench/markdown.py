"""A run's report model (bench/report.py) as the README.md of its folder."""

from typing import Any


def markdown_table(table: dict) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    lines = [f"**{table['title']}**", "", row(table["columns"])]
    lines.append("|" + "---|" * len(table["columns"]))
    lines += [row(r) for r in table["rows"]]
    return [*lines, ""]


def _markdown_section(section: dict, level: str = "###") -> list[str]:
    lines = [f"{level} {section['title']}", ""]
    if section["text"]:
        lines += [section["text"], ""]
    for table in section["tables"]:
        lines += markdown_table(table)
    for chart in section["charts"]:
        lines += [f"![{chart['caption']}](charts/{chart['file']})", ""]
    return lines


def summary_markdown(run: dict[str, Any]) -> str:
    """The summary bullets, for the run's report and the project README."""
    return "\n".join(f"- {line}" for line in run["report"]["summary"]) + "\n"


def to_markdown(run: dict[str, Any]) -> str:
    """README.md of a results folder."""
    report = run["report"]
    lines = [
        f"# Benchmark run {run['run_id']}",
        "",
        f"{run['machine']['description']} · {run['started_at']} · preset "
        f"{run['mode']} · revision {run['git']['revision'][:12]}"
        f"{' (uncommitted changes)' if run['git']['dirty'] else ''}",
        "",
        f"> {report['caveat']}",
        "",
        "## Summary",
        "",
        summary_markdown(run),
        "## Results",
        "",
    ]
    for section in report["sections"]:
        lines += _markdown_section(section)
    lines += ["## Methodology", ""]
    for paragraph in report["methodology"]:
        lines += [paragraph, ""]
    lines += _markdown_section(report["setups"], "##")
    return "\n".join(lines).rstrip() + "\n"
