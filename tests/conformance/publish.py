"""
Publish the capability matrix of the last full conformance run:
var/conformance/capabilities.json becomes deploy/capabilities.json and
deploy/capabilities.md, and the copy between the markers of docs/servers.md.

    python -m tests.conformance.publish      (what `make capabilities` runs)

Refuses a partial run (a cell missing), so the published matrix is always
one complete measurement.
"""

import shutil
import sys

from serving.capabilities import (
    PUBLISHED_JSON,
    PUBLISHED_MARKDOWN,
    MatrixError,
    load_matrix,
    matrix_changes,
)
from serving.registry import ROOT

RUN_JSON = ROOT / "var" / "conformance" / "capabilities.json"
DOCUMENT = ROOT / "docs" / "servers.md"
START, END = "<!-- capabilities:start -->\n", "<!-- capabilities:end -->"


def splice(text: str, content: str) -> str:
    """`text` with what stands between the capability markers replaced."""
    if START not in text or END not in text:
        raise MatrixError(f"{DOCUMENT.name} lacks {START.strip()} and {END}")
    head, rest = text.split(START, 1)
    return head + START + content + END + rest.split(END, 1)[1]


def publish() -> list[str]:
    """Copy the run's matrix into deploy/ and docs/servers.md; return what changed."""
    measured = load_matrix(RUN_JSON)
    missing = measured.missing_cells()
    if missing:
        raise MatrixError(
            "the last run was partial; run the whole suite first. Missing: "
            + ", ".join(missing)
        )
    try:
        changes = matrix_changes(load_matrix(PUBLISHED_JSON), measured)
    except MatrixError:
        changes = ["no committed matrix yet"]
    shutil.copyfile(RUN_JSON, PUBLISHED_JSON)
    markdown = measured.markdown()
    PUBLISHED_MARKDOWN.write_text(markdown)
    DOCUMENT.write_text(splice(DOCUMENT.read_text(), markdown))
    return changes


def main() -> int:
    try:
        changes = publish()
    except MatrixError as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return 1
    print("Published deploy/capabilities.json and .md, and docs/servers.md.")
    for change in changes:
        print(f"  {change}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
