"""The capability matrix model: JSON round trip, Markdown, and change reports."""

import pytest

from serving.capabilities import (
    BROKEN,
    SUPPORTED,
    UNSUPPORTED,
    Cell,
    Matrix,
    MatrixError,
    matrix_changes,
)

VERSIONS = {"daphne": {"daphne": "4.2.3"}, "uvicorn": {"uvicorn": "0.54.0"}}


def sample() -> Matrix:
    matrix = Matrix({name: dict(versions) for name, versions in VERSIONS.items()})
    matrix.record("h2", "HTTP/2", "daphne", Cell(SUPPORTED, "ALPN h2"))
    matrix.record("h2", "HTTP/2", "uvicorn", Cell(UNSUPPORTED, "ALPN chose nothing"))
    matrix.record("codes", "Close codes", "daphne", Cell(BROKEN, "1009 | 1011"))
    return matrix


def test_json_round_trip_keeps_every_cell_and_the_order():
    matrix = sample()
    again = Matrix.from_json(matrix.to_json())
    assert again == matrix
    assert list(again.capabilities) == ["h2", "codes"]


def test_missing_cells_are_named():
    assert sample().missing_cells() == ["codes / uvicorn"]


def test_markdown_has_a_column_per_server_and_escapes_pipes():
    lines = sample().markdown().splitlines()
    assert "daphne 4.2.3, uvicorn 0.54.0" in lines[0]
    assert lines[2] == "| capability | daphne | uvicorn |"
    assert lines[4] == "| HTTP/2 | ✅ ALPN h2 | ➖ ALPN chose nothing |"
    assert lines[5] == "| Close codes | ❌ 1009 \\| 1011 | ? |"


def test_changes_say_what_changed():
    committed, measured = sample(), sample()
    measured.record("h2", "HTTP/2", "uvicorn", Cell(SUPPORTED, "ALPN h2"))
    measured.record("h3", "HTTP/3", "daphne", Cell(UNSUPPORTED, "no QUIC"))
    measured.servers["uvicorn"] = {"uvicorn": "0.55.0"}
    assert matrix_changes(committed, measured) == [
        "HTTP/2 / uvicorn: was unsupported (ALPN chose nothing), "
        "now supported (ALPN h2)",
        "HTTP/3: a new capability, not committed yet",
        "uvicorn: measured with {'uvicorn': '0.54.0'}, now with {'uvicorn': '0.55.0'}",
    ]


def test_no_change_is_no_change():
    assert matrix_changes(sample(), sample()) == []


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"servers": [], "capabilities": [{"id": "x", "title": "X"}]}, "0"),
        (
            {
                "servers": [],
                "capabilities": [
                    {"id": "x", "title": "X", "cells": {"a": {"status": "maybe"}}}
                ],
            },
            "capabilities/0/cells/a",
        ),
    ],
)
def test_a_malformed_matrix_is_refused_with_where_and_why(data, where):
    with pytest.raises(MatrixError, match=where):
        Matrix.from_json(data)
