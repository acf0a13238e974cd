"""The URLconf tests.threads_urls.other_urlconf_middleware picks per request."""

from django.http import HttpRequest, JsonResponse
from django.urls import path


def other_thread_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"urlconf": "other"})


urlpatterns = [path("thread", other_thread_view)]
