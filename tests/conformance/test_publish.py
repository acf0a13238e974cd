"""`make capabilities` publishes only a complete run, and loses nothing if not."""

import json

import pytest

from serving.capabilities import SUPPORTED, Cell, Matrix, MatrixError
from tests.conformance import publish

pytestmark = pytest.mark.conformance

README = (
    "# Title\n\n<!-- capabilities:start -->\nold\n<!-- capabilities:end -->\nrest\n"
)


def test_splice_replaces_only_what_stands_between_the_markers():
    assert publish.splice(README, "new\n") == README.replace("old\n", "new\n")


def test_splice_refuses_a_readme_without_markers():
    with pytest.raises(MatrixError, match="capabilities:start"):
        publish.splice("# Title\n", "new\n")


def test_a_partial_run_is_not_published(tmp_path, monkeypatch):
    run = Matrix({"daphne": {}, "uvicorn": {}})
    run.record("h2", "HTTP/2", "daphne", Cell(SUPPORTED, "ALPN h2"))
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(run.to_json()))
    published = tmp_path / "published.json"
    published.write_text("kept")
    monkeypatch.setattr(publish, "RUN_JSON", run_file)
    monkeypatch.setattr(publish, "PUBLISHED_JSON", published)
    with pytest.raises(MatrixError, match="partial.*h2 / uvicorn"):
        publish.publish()
    assert published.read_text() == "kept"
