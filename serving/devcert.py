"""
Development TLS: a throwaway local CA and a certificate for localhost,
127.0.0.1 and ::1, made with trustme. Nothing here is ever committed: the files
go to var/tls/ (git-ignored) and are made again when missing.

Trust var/tls/ca.pem in a client (curl --cacert, httpx verify=...) to connect
without warnings.
"""

import ssl
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

from serving.registry import ROOT, TLSFiles

DEFAULT_DIRECTORY = ROOT / "var" / "tls"
NAMES = ("localhost", "127.0.0.1", "::1")


def _pkcs8(private_key_pem: bytes) -> bytes:
    # granian reads only PKCS#8 keys; trustme writes the traditional format.
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ensure_dev_certificates(directory: Path = DEFAULT_DIRECTORY) -> TLSFiles:
    """Return the development certificate and key, creating them if missing."""
    files = TLSFiles(certfile=directory / "cert.pem", keyfile=directory / "key.pem")
    ca_file = directory / "ca.pem"
    if files.certfile.exists() and files.keyfile.exists() and ca_file.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="django-asgi development CA")
    issued = ca.issue_cert(*NAMES)
    ca.cert_pem.write_to_path(str(ca_file))
    files.certfile.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
    files.keyfile.touch(mode=0o600)
    files.keyfile.write_bytes(_pkcs8(issued.private_key_pem.bytes()))
    return files


def ca_file(directory: Path = DEFAULT_DIRECTORY) -> Path:
    """The CA certificate clients should trust for the development certificate."""
    return directory / "ca.pem"


def trusting_context(directory: Path = DEFAULT_DIRECTORY) -> ssl.SSLContext:
    """A client TLS context trusting the development CA (httpx's verify=)."""
    return ssl.create_default_context(cafile=str(ca_file(directory)))
