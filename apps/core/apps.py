from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"

    def ready(self) -> None:
        from apps.core.health import close_dependencies
        from apps.core.lifecycle import on_shutdown

        on_shutdown(close_dependencies)
