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
    # --no-print-directory: under `make test` this make is a sub-make, which
    # would otherwise print "Entering/Leaving directory" lines around the commands.
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
    assert between_markers("servers-table") == commands_table()


def between_markers(name: str) -> str:
    embedded = README.split(f"<!-- {name}:start -->\n", 1)[1]
    return embedded.split(f"<!-- {name}:end -->", 1)[0]


def test_capability_matrix_in_readme_matches_deploy():
    """`make capabilities` writes both; an edit by hand to one of them fails here."""
    published = (ROOT / "deploy" / "capabilities.md").read_text()
    assert between_markers("capabilities") == published


def test_readme_links_the_deploy_details():
    assert "(deploy/README.md)" in README
    assert (ROOT / "deploy" / "README.md").is_file()


def test_every_variable_the_settings_read_is_in_the_configuration_table():
    settings = (ROOT / "project" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings))
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = {name for name in read if f"`{name}`" not in table}
    assert read and not missing, f"add to the README's Configuration: {missing}"
