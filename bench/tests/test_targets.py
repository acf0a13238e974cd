"""`python -m bench targets`: servers the harness did not start."""

import pytest

from bench.targets import Target, parse_target, targets_table


def test_targets_are_name_and_cleartext_url():
    target = parse_target("daphne=http://daphne:8000/")
    assert target == Target("daphne", "http://daphne:8000")
    assert target.ws_url == "ws://daphne:8000"


@pytest.mark.parametrize("text", ["daphne", "x=https://a:1", "x=ftp://a"])
def test_a_bad_target_says_what_is_expected(text):
    with pytest.raises(ValueError, match="NAME=http://host:port"):
        parse_target(text)


def test_the_table_has_a_row_per_target():
    cell = {"requests_per_s": 1234.4, "errors": 1}
    figures = {
        "a": {
            "plaintext": cell,
            "json": cell,
            "echo": {"round_trips_per_s": 9.6, "errors": 0},
        }
    }
    assert targets_table(figures).splitlines()[-1] == "| a | 1,234 | 1,234 | 10 | 2 |"
