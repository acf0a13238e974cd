"""
`python manage.py serve --server NAME`: start any server of deploy/servers.toml
with the same options for all of them.
"""

import os
import shutil
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from serving.devcert import ensure_dev_certificates
from serving.registry import ROOT, TLSFiles, load_servers


def commands_table() -> str:
    """docs/servers.md's table: each server and its exact commands, as Markdown."""
    rows = [
        "| server | serves | command |",
        "|---|---|---|",
    ]
    tls = TLSFiles(Path("var/tls/cert.pem"), Path("var/tls/key.pem"))
    for variant in load_servers().values():
        argv = " ".join(variant.argv(host="127.0.0.1", port=8000))
        rows.append(f"| {variant.name} | {', '.join(variant.protocols)} | `{argv}` |")
        if variant.supports_tls:
            argv = " ".join(variant.argv(host="127.0.0.1", port=8443, tls=tls))
            # HTTP/3 only with --http3, which has a row of its own.
            protocols = ", ".join(
                p
                for p in variant.tls_protocols
                if p != "h3" or not variant.supports_http3
            )
            rows.append(f"| {variant.name} (TLS) | {protocols} | `{argv}` |")
        if variant.supports_http3:
            argv = " ".join(
                variant.argv(host="127.0.0.1", port=8443, tls=tls, http3=True)
            )
            rows.append(f"| {variant.name} (TLS, `--http3`) | + h3 | `{argv}` |")
    return "\n".join(rows) + "\n"


def installed_program(name: str) -> str:
    """The path of `name` in this Python's environment (its bin/, where pip put
    the servers), so that `.venv/bin/python manage.py serve` works without
    activating .venv; "python" is this Python itself."""
    if name == "python":
        return sys.executable
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        raise CommandError(f"{name} is not installed: pip install -r requirements.txt")
    return found


class Command(BaseCommand):
    help = "Start one of the servers in deploy/servers.toml (replaces this process)."

    def add_arguments(self, parser) -> None:
        servers = list(load_servers())
        parser.add_argument("--server", choices=servers, help="which server")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument(
            "--tls",
            action="store_true",
            help="serve HTTPS (and HTTP/2, HTTP/3 where the server can); "
            "without --certfile a development certificate is made in var/tls/",
        )
        parser.add_argument(
            "--http3",
            action="store_true",
            help="with --tls, also serve HTTP/3 over QUIC where the server can",
        )
        parser.add_argument("--certfile", type=Path)
        parser.add_argument("--keyfile", type=Path)
        parser.add_argument(
            "--print", action="store_true", help="print the command, do not run it"
        )
        parser.add_argument(
            "--table", action="store_true", help="print every command as Markdown"
        )

    def handle(self, *args, **options) -> None:
        if options["table"]:
            self.stdout.write(commands_table(), ending="")
            return
        if not options["server"]:
            raise CommandError("Choose a server with --server (see --table).")
        variant = load_servers()[options["server"]]
        tls = self._tls_files(options) if options["tls"] else None
        try:
            argv = variant.argv(
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                tls=tls,
                http3=options["http3"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["print"]:
            self.stdout.write(" ".join(argv))
            return
        os.chdir(ROOT)
        program = installed_program(argv[0])
        os.execv(program, [program, *argv[1:]])

    @staticmethod
    def _tls_files(options: dict) -> TLSFiles:
        certfile, keyfile = options["certfile"], options["keyfile"]
        if certfile and keyfile:
            for path in (certfile, keyfile):
                if not path.is_file():
                    # Some servers die on it in a child process and exit 0.
                    raise CommandError(f"No file at {path}.")
            return TLSFiles(certfile.resolve(), keyfile.resolve())
        if certfile or keyfile:
            raise CommandError("Give both --certfile and --keyfile, or neither.")
        return ensure_dev_certificates()
