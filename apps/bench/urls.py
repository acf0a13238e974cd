from django.urls import path

from apps.bench import views

app_name = "bench"

# /bench/sync/<test> and /bench/async/<test>: contract.py describes them.
ENDPOINT_VIEWS = {
    "plaintext": (views.plaintext, views.plaintext_async),
    "json": (views.json_hello, views.json_hello_async),
    "db": (views.db, views.db_async),
    "queries": (views.queries, views.queries_async),
    "fortunes": (views.fortunes, views.fortunes_async),
    "updates": (views.updates, views.updates_async),
}

urlpatterns = [
    path("", views.results_page, name="results"),
    path("results/<str:run_id>/<str:name>", views.results_chart, name="chart"),
]
for name, (sync_view, async_view) in ENDPOINT_VIEWS.items():
    urlpatterns += [
        path(f"sync/{name}", sync_view, name=f"{name}-sync"),
        path(f"async/{name}", async_view, name=f"{name}-async"),
    ]
