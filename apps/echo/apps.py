from django.apps import AppConfig


class EchoConfig(AppConfig):
    name = "apps.echo"
