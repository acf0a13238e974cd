import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in an interpreter of its own, on these tests' settings."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
