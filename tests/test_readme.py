"""The README's commands keep working: what a newcomer copies must be true."""

import re
import subprocess
from pathlib import Path

from apps.core.management.commands.serve import commands_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_quick_start_is_two_make_commands():
    assert quick_start_commands() == ["make run", "make test"]


def dry_run(target: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", "--dry-run", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_migrates_then_serves_with_debug_on():
    lines = dry_run("run").strip().splitlines()
    assert "manage.py migrate" in "\n".join(lines)
    assert lines[-1].startswith("DJANGO_DEBUG=1 ")
    assert "manage.py runserver" in lines[-1]


def test_make_test_runs_both_databases():
    commands = dry_run("test")
    assert "-m pytest" in commands
    assert "DATABASE_URL=postgres://" in commands


def test_ci_calls_the_readme_test_command():
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")


def test_servers_table_matches_the_registry():
    embedded = README.split("<!-- servers-table:start -->\n", 1)[1]
    embedded = embedded.split("<!-- servers-table:end -->", 1)[0]
    assert embedded == commands_table()
