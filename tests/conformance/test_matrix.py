"""The committed capability matrix is what the servers do today."""

import pytest

from serving.capabilities import load_matrix, matrix_changes

pytestmark = pytest.mark.conformance


def test_this_run_matches_the_committed_matrix(measured_matrix):
    """
    Runs last (see conftest.py) and compares every cell this run measured with
    deploy/capabilities.json: a new server version that behaves differently
    fails here, saying what changed.
    """
    if not measured_matrix.capabilities:
        pytest.skip("this run checked no capability (select tests/conformance)")
    changes = matrix_changes(load_matrix(), measured_matrix)
    assert not changes, (
        "The servers no longer behave as deploy/capabilities.json says:\n  "
        + "\n  ".join(changes)
        + "\nIf the change is expected, run `make capabilities` and commit the result."
    )
