from django.core.management.base import BaseCommand

from serving.devcert import DEFAULT_DIRECTORY, ca_file, ensure_dev_certificates


class Command(BaseCommand):
    help = "Create a local CA and a TLS certificate for localhost in var/tls/."

    def handle(self, *args, **options) -> None:
        files = ensure_dev_certificates(DEFAULT_DIRECTORY)
        self.stdout.write(f"certificate: {files.certfile}")
        self.stdout.write(f"private key: {files.keyfile}")
        self.stdout.write(f"trust this CA in clients: {ca_file()}")
