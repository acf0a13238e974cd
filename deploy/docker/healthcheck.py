"""
The container's HEALTHCHECK: exit 0 when this container's server answers /healthz.

Plain HTTP on port 8000 unless HEALTHCHECK_URL says otherwise; an https URL is
verified against HEALTHCHECK_CAFILE (the development CA in var/tls/ by default).
Standard library only, so it runs in the slim image without curl.
"""

import os
import ssl
import sys
import urllib.request

URL = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz")
CAFILE = os.environ.get("HEALTHCHECK_CAFILE", "var/tls/ca.pem")


def main() -> int:
    context = (
        ssl.create_default_context(cafile=CAFILE) if URL.startswith("https:") else None
    )
    try:
        with urllib.request.urlopen(URL, timeout=2, context=context) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"{URL}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
