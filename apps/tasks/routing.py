from django.urls import path

from apps.tasks.consumers import JobProgressConsumer, JobWorkerConsumer
from apps.tasks.services import WORKER_CHANNEL

websocket_urlpatterns = [
    path("ws/tasks/jobs/<uuid:job_id>/", JobProgressConsumer.as_asgi())
]
# Channels that `manage.py runworker <channel>` serves.
channel_routes = {WORKER_CHANNEL: JobWorkerConsumer.as_asgi()}
