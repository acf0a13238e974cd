"""
The commands a newcomer copies from the README and docs/, run as written: from a shell
where .venv is not activated, on a fresh SQLite database.
"""

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving.processes import HOST, ROOT, free_port

pytestmark = pytest.mark.servers

# Where the "try production settings locally" command is.
STACK = (ROOT / "docs" / "stack.md").read_text()
# A shell without .venv/bin on its PATH: what a new terminal has.
PLAIN_PATH = "/usr/local/bin:/usr/bin:/bin"


def newcomer_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": PLAIN_PATH,
        "HOME": os.environ.get("HOME", "/root"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        **extra,
    }


@pytest.fixture
def started() -> Iterator:
    """Run a shell command in a session of its own; stop it afterwards."""
    processes: list[subprocess.Popen] = []

    def start(command: str, env: dict[str, str]) -> subprocess.Popen:
        process = subprocess.Popen(
            ["sh", "-c", command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        with_signal(process, signal.SIGTERM)


def with_signal(process: subprocess.Popen, sig: int) -> str:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output.decode(errors="replace")


def wait_until_serving(process: subprocess.Popen, url: str) -> httpx.Response:
    """The first answer of `url`; fails with the command's output if it ends
    or does not answer within 90 s (migrate and collectstatic run first)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.5)
    pytest.fail(f"{url} never answered:\n{with_signal(process, signal.SIGTERM)}")


def test_make_without_a_target_lists_the_targets():
    result = subprocess.run(
        ["make", "--no-print-directory"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\S+) ", result.stdout, re.M)
    for target in ("run", "serve", "test", "test-servers", "bench"):
        assert target in listed, result.stdout


def test_make_serve_runs_a_server_without_an_activated_venv(tmp_path, started):
    port = free_port()
    process = started(
        f"make --no-print-directory serve SERVER=uvicorn PORT={port}",
        newcomer_environment(tmp_path),
    )
    page = wait_until_serving(process, f"http://{HOST}:{port}/")
    assert page.status_code == 200
    assert "uvicorn" in page.headers["server"]


def try_production_command() -> str:
    block = STACK.split("<!-- try-production:start -->\n", 1)[1]
    block = block.split("<!-- try-production:end -->", 1)[0]
    return re.search(r"```sh\n(.*?)\n```", block, re.S).group(1)


def test_the_docs_local_production_command_serves_pages(tmp_path, started):
    """Production settings over plain HTTP: pages answer, no redirect to https."""
    port = free_port()
    command = try_production_command()
    assert "DJANGO_DEBUG=0" in command and command.endswith("make serve SERVER=uvicorn")
    process = started(
        f"{command} PORT={port}", newcomer_environment(tmp_path, DJANGO_DEBUG="")
    )
    page = wait_until_serving(process, f"http://{HOST}:{port}/chat/")
    assert page.status_code == 200
    stylesheet = re.search(r'href="(/static/core/site\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, "production settings: the hashed stylesheet from collectstatic"
    assert httpx.get(f"http://{HOST}:{port}{stylesheet.group(1)}").status_code == 200


def test_serve_names_a_missing_certificate_and_fails(tmp_path):
    missing = tmp_path / "cert.pem"
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "manage.py",
            "serve",
            *shlex.split(f"--server hypercorn --tls --certfile {missing}"),
            "--keyfile",
            str(tmp_path / "key.pem"),
        ],
        cwd=ROOT,
        env=newcomer_environment(tmp_path, DJANGO_DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"No file at {missing}." in result.stderr
