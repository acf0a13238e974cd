"""
The README and docs/ stay true: what a newcomer copies works, the generated
tables match what generates them, and every link leads somewhere in this
repository.
"""

import re
import subprocess
from pathlib import Path

from apps.core.management.commands.serve import commands_table

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()
SERVERS = (DOCS / "servers.md").read_text()
CONFIGURATION = (DOCS / "configuration.md").read_text()


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_quick_start_is_two_make_commands():
    assert quick_start_commands() == ["make run", "make test"]


def test_the_readme_orients_in_one_screen():
    lines = len(README.splitlines())
    assert lines < 200, f"README.md has {lines} lines: move details to docs/"


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


def between_markers(text: str, name: str) -> str:
    embedded = text.split(f"<!-- {name}:start -->\n", 1)[1]
    return embedded.split(f"<!-- {name}:end -->", 1)[0]


def test_servers_table_matches_the_registry():
    assert between_markers(SERVERS, "servers-table") == commands_table()


def test_capability_matrix_in_the_docs_matches_deploy():
    """`make capabilities` writes both; an edit by hand to one of them fails here."""
    published = (ROOT / "deploy" / "capabilities.md").read_text()
    assert between_markers(SERVERS, "capabilities") == published


def test_the_docs_link_the_deploy_details():
    assert "(deploy/README.md)" in README
    assert "(../deploy/README.md)" in SERVERS


def test_every_variable_the_settings_read_is_in_the_configuration_table():
    settings = (ROOT / "project" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings))
    table = CONFIGURATION.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    missing = {name for name in read if f"`{name}`" not in table}
    assert read and not missing, f"add to docs/configuration.md: {missing}"


# [text](target) and [text]: target; not images' alt text, not code.
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def relative_links(text: str) -> list[str]:
    """Every link target in Markdown `text` that is not a URL or an anchor alone."""
    text = CODE.sub("", text)
    targets = INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)
    return [
        target
        for target in targets
        if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I)
        and not target.startswith("#")
    ]


def heading_anchors(markdown: Path) -> set[str]:
    """The anchors GitHub gives the headings of `markdown`."""
    text = CODE.sub("", markdown.read_text())
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def broken_links(document: Path, text: str | None = None) -> list[str]:
    """Links of `document` (its `text`, if given) that lead nowhere."""
    broken = []
    for target in relative_links(document.read_text() if text is None else text):
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve()
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md":
            if anchor not in heading_anchors(resolved):
                broken.append(f"{target}: no heading #{anchor} in {path}")
    return broken


def test_every_relative_link_leads_to_a_file_of_the_repository():
    broken = {
        str(document.relative_to(ROOT)): links
        for document in documents()
        if (links := broken_links(document))
    }
    assert not broken, broken


def test_the_link_check_sees_a_broken_link():
    """The check above can fail: a link to a missing file, one that leaves the
    repository and one to a missing heading are all reported."""
    document = DOCS / "example.md"
    text = (
        "[ok](servers.md#what-each-server-supports) [url](https://example.com)\n"
        "[gone](missing.md) [out](../../outside/NOTES.md) [anchor](apps.md#nowhere)\n"
        "`[code](not-a-link.md)`\n"
    )
    assert [link.split(":")[0] for link in broken_links(document, text)] == [
        "missing.md",
        "../../outside/NOTES.md",
        "apps.md#nowhere",
    ]


def test_no_document_refers_to_files_outside_the_repository():
    """Not even in code: the folder beside the clone that CI has, users do not."""
    beside_the_clone = "../" + "shared"
    for document in documents():
        assert beside_the_clone not in document.read_text(), document
