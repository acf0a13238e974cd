from django.urls import path

from apps.core import metrics, probes, views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("scope/", views.scope_page, name="scope"),
    path("scope.json", views.scope_json, name="scope-json"),
    path("servers/", views.servers, name="servers"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("probe/echo", probes.echo_body, name="probe-echo"),
    path("probe/stream", probes.stream, name="probe-stream"),
]
