from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from apps.chat.protocol import room_name_error
from apps.chat.selectors import room_access_error, room_recent_list
from apps.core.scope import server_program


@require_safe
async def index(request: HttpRequest) -> HttpResponse:
    """Recent rooms, and a form that opens any room by name."""
    room = request.GET.get("room", "").strip().lower()
    error = room_name_error(room) if room else None
    if room and error is None:
        return redirect("chat:room", room=room)
    context = {
        "rooms": await room_recent_list(limit=20),
        "error": error.detail if error else "",
        "program": server_program(),
    }
    return render(request, "chat/index.html", context, status=400 if error else 200)


@require_safe
async def room(request: HttpRequest, room: str) -> HttpResponse:
    """The chat page of one room; the client connects to /ws/chat/<room>/."""
    error = await room_access_error(name=room, user=await request.auser())
    if error and error.code == "login_required":
        return redirect_to_login(request.get_full_path())
    if error:
        raise Http404(error.detail)
    context = {
        "room": room,
        "max_message_chars": settings.CHAT_MAX_MESSAGE_CHARS,
        "program": server_program(),
    }
    return render(request, "chat/room.html", context)
