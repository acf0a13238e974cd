from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from apps.core.activity import sample_database_pool
        from apps.core.health import close_dependencies
        from apps.core.lifecycle import on_shutdown
        from apps.core.metrics import count_dropped_group_messages, count_kit_events

        on_shutdown(close_dependencies)
        count_dropped_group_messages()
        count_kit_events()
        # Connected after Django's close_old_connections (connected on import).
        request_finished.connect(sample_database_pool, dispatch_uid="sample-db-pool")
