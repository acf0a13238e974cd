from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("apps.core.urls")),
    path("echo/", include("apps.echo.urls")),
    path("chat/", include("apps.chat.urls")),
    path("live/", include("apps.live.urls")),
    path("tasks/", include("apps.tasks.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("bench/", include("apps.bench.urls")),
    path("admin/", admin.site.urls),
]
