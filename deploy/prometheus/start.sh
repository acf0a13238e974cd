#!/bin/sh
# Start Prometheus with the token the app servers expect (DJANGO_METRICS_TOKEN),
# written where prometheus.yml's `credentials_file` reads it: the token stays
# out of the configuration file and the image.
set -eu
if [ -z "${DJANGO_METRICS_TOKEN:-}" ]; then
    echo "Set DJANGO_METRICS_TOKEN (.env.example): without it every scrape gets 404." >&2
    exit 1
fi
umask 077
printf '%s' "$DJANGO_METRICS_TOKEN" > /tmp/metrics-token
exec prometheus \
    --config.file=/etc/prometheus/prometheus.yml \
    --storage.tsdb.path=/prometheus \
    --storage.tsdb.retention.time=2d \
    --web.listen-address=:9090 \
    "$@"
