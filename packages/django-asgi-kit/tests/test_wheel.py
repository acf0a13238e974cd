"""The package as a reader installs it: a wheel built from a copy of its
source, installed into a folder of its own, imported from there."""

import email
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.processes import PACKAGE

SHOW = """
import json, django_asgi_kit
print(json.dumps([django_asgi_kit.__file__, django_asgi_kit.__version__]))
"""


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_built_wheel_installs_and_imports(tmp_path):
    # A copy, as a clone has it: building writes build/ and *.egg-info into
    # the source folder, which must not land in the work tree.
    source = tmp_path / "source"
    leave_out = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PACKAGE / "src", source / "src", ignore=leave_out)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PACKAGE / name, source)
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = (sys.executable, "-m", "pip", "--quiet")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, source)
    [wheel] = wheels.glob("django_asgi_kit-*.whl")
    run(*pip, "install", "--no-deps", "--target", target, wheel)

    shown = run(sys.executable, "-c", SHOW, cwd=tmp_path, env={"PYTHONPATH": target})
    file, version = json.loads(shown.stdout)
    assert Path(file).is_relative_to(target)
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith("/METADATA")]
        declared = email.message_from_bytes(archive.read(metadata))
    # pyproject.toml takes the version from __version__; the wheel carries it.
    assert declared["Version"] == version
    assert declared["Name"] == "django-asgi-kit"
    assert {"csp", "redis"} <= set(declared.get_all("Provides-Extra"))
