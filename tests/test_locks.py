"""requirements*.lock (made by `make lock`) still lock what requirements*.txt pin."""

import re

import pytest

from serving.processes import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)", re.M)


def pins(text: str) -> dict[str, str]:
    """name -> version of each `name==version` line (extras dropped)."""
    return {
        re.sub(r"[-_.]+", "-", name).lower(): version
        for name, version in PIN.findall(text)
    }


def locked_hashes(text: str) -> int:
    return text.count("--hash=sha256:")


@pytest.mark.parametrize(
    ("edited", "lock"),
    [
        (["requirements.txt"], "requirements.lock"),
        (["requirements.txt", "requirements-dev.txt"], "requirements-dev.lock"),
    ],
)
def test_each_lock_has_every_pin_of_its_inputs_with_hashes(edited, lock):
    wanted: dict[str, str] = {}
    for name in edited:
        wanted |= pins((ROOT / name).read_text())
    locked_text = (ROOT / lock).read_text()
    locked = pins(locked_text)
    stale = {
        name: (version, locked.get(name))
        for name, version in wanted.items()
        if locked.get(name) != version
    }
    assert stale == {}, f"run `make lock`: {lock} differs from {edited}"
    assert locked_hashes(locked_text) >= len(locked), "every release has a hash"
    # Nothing of this machine's pip configuration.
    assert "--find-links" not in locked_text and "--index-url" not in locked_text
