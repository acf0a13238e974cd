from collections.abc import Awaitable, Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

NEEDS_ASGI = (
    "This endpoint keeps its response open and needs an ASGI server. Under WSGI "
    "Django would read the whole stream into memory before sending any of it.\n"
)


def asgi_only(
    view: Callable[..., Awaitable[HttpResponse]],
) -> Callable[..., Awaitable[HttpResponse]]:
    """Answer 501 under WSGI instead of buffering an endless response."""

    @wraps(view)
    async def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Only ASGIRequest has the scope; WSGIRequest has an environ.
        if not hasattr(request, "scope"):
            return HttpResponse(NEEDS_ASGI, status=501, content_type="text/plain")
        return await view(request, *args, **kwargs)

    return wrapper
