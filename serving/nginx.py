"""
Debian's nginx in front of app servers, as a child process on a free loopback
port, configured from deploy/nginx/default.conf.template (the same template the
official nginx image fills in with envsubst).

Everything nginx writes (pid, logs, temporary files) goes to a directory of its
own; no privileged port, no system configuration is touched.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from serving.processes import HOST, ROOT, free_port
from serving.registry import TLSFiles

TEMPLATE = ROOT / "deploy" / "nginx" / "default.conf.template"
PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# The main configuration around the template, as the official image's
# /etc/nginx/nginx.conf includes conf.d/*.conf inside `http`.
MAIN_CONFIG = """\
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/site.conf;
}}
"""


def render_template(text: str, values: dict[str, str]) -> str:
    """Fill in every ${NAME}; refuse to leave one empty (nginx would not start)."""
    missing = sorted(set(PLACEHOLDER.findall(text)) - values.keys())
    if missing:
        raise KeyError(f"no value for {', '.join(missing)} in {TEMPLATE.name}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


class NginxProcess:
    """nginx terminating TLS on its own port, proxying to two app addresses."""

    def __init__(self, upstreams: list[str], tls: TLSFiles, static_root: Path) -> None:
        self.port = free_port()
        self.tls = tls
        # Readable by nginx's workers, which run as `nobody` when started by root.
        self.directory = Path(tempfile.mkdtemp(prefix="nginx-"))
        self.directory.chmod(0o755)
        self.values = {
            "NGINX_LISTEN": f"{HOST}:{self.port}",
            "NGINX_SERVER_NAME": "localhost",
            "NGINX_CERTFILE": str(tls.certfile),
            "NGINX_KEYFILE": str(tls.keyfile),
            "NGINX_STATIC_ROOT": str(static_root),
            "NGINX_APP_SERVER_1": upstreams[0],
            "NGINX_APP_SERVER_2": upstreams[1],
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"wss://{HOST}:{self.port}"

    def start(self, timeout: float = 10.0) -> "NginxProcess":
        """Write the configuration, check it (nginx -t), start, wait for the port."""
        site = render_template(TEMPLATE.read_text(), self.values)
        (self.directory / "site.conf").write_text(site)
        config = self.directory / "nginx.conf"
        config.write_text(MAIN_CONFIG.format(directory=self.directory))
        command = [NGINX, "-e", "stderr", "-p", str(self.directory), "-c", str(config)]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration:\n{check.stderr}")
        self.log = (self.directory / "nginx.out").open("wb")
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_for_port(timeout)
        return self

    def _wait_for_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.output()}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return (self.directory / "nginx.out").read_text(errors="replace")

    def close(self) -> None:
        """Stop nginx (master and worker, by its process group) and clean up."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self.process is not None:
            self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
