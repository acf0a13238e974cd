from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"

    def ready(self) -> None:
        from apps.core.health import close_dependencies
        from apps.core.lifecycle import on_shutdown
        from apps.core.metrics import count_dropped_group_messages, count_kit_events

        on_shutdown(close_dependencies)
        count_dropped_group_messages()
        count_kit_events()
