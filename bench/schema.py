"""The shape of results.json (bench/schema.json), checked before it is written."""

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = json.loads(Path(__file__).with_name("schema.json").read_text())


def validate_run(run: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError, naming the bad field, if `run` is off."""
    jsonschema.validate(run, SCHEMA)
