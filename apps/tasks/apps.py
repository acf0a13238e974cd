from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "apps.tasks"

    def ready(self) -> None:
        from apps.core.lifecycle import on_shutdown
        from apps.tasks.services import in_process_jobs_drain

        on_shutdown(in_process_jobs_drain)
