from django.contrib import admin

from apps.chat.models import Message, Presence, Room

admin.site.register(Room)
admin.site.register(Message, list_display=["room", "author", "text", "created_at"])
admin.site.register(Presence, list_display=["room", "name", "last_seen"])
