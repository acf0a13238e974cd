from django.urls import path

from apps.live import views

app_name = "live"
urlpatterns = [
    path("", views.index, name="index"),
    path("export.csv", views.export_csv, name="export-csv"),
    path("exports.json", views.exports_json, name="exports-json"),
    path("exports/<int:export_id>.json", views.export_json, name="export-json"),
    path("topics/<str:topic>/sse", views.topic_sse, name="topic-sse"),
    path("topics/<str:topic>/poll", views.topic_poll, name="topic-poll"),
    path("topics/<str:topic>/events", views.topic_publish, name="topic-publish"),
    path("chat/<str:room>/sse", views.chat_sse, name="chat-sse"),
    path("stats.json", views.stats_json, name="stats-json"),
]
