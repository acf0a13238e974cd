"""
gunicorn settings for the ASGI app with uvicorn's worker, with gunicorn's own
ASGI worker (`--worker-class asgi`, registry entry gunicorn-asgi) and, with
`--worker-class sync`, for the WSGI reference. gunicorn manages the processes:
it restarts a crashed or stuck worker and drains workers on SIGTERM.

Start: python manage.py serve --server gunicorn-uvicorn
   or: gunicorn --config deploy/gunicorn/gunicorn.conf.py project.asgi:application
Docs: https://docs.gunicorn.org/en/stable/settings.html
"""

import os

# Each worker runs one uvicorn event loop (uvloop, httptools).
worker_class = "uvicorn_worker.UvicornWorker"
workers = 1
# A worker whose event loop does not check in for this long is blocked by sync
# code; gunicorn kills and replaces it.
timeout = 30
# On SIGTERM, workers stop accepting and get this long to finish requests and
# close WebSockets (1001) before they are killed. Matches compose's grace period.
graceful_timeout = 20
# Keep idle HTTP/1.1 connections this long. Behind nginx this must exceed the
# upstream's keepalive_timeout (deploy/nginx: 4 s), or nginx may reuse a
# connection the worker has just closed.
keepalive = 5
# Believe no X-Forwarded-* header (gunicorn's default trusts 127.0.0.1 and ::1):
# behind a proxy, DJANGO_TRUSTED_PROXIES says whose to believe, under every
# server alike (deploy/README.md). The WSGI reference has no such switch.
forwarded_allow_ips = ""
# Log to stdout/stderr, where containers collect them.
accesslog = "-"
errorlog = "-"


def child_exit(server, worker) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, /metrics sums every worker's values
    (apps/core/metrics.py): a dead worker's open-connection gauges go with it."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
