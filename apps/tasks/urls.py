from django.urls import path

from apps.tasks import views

app_name = "tasks"
urlpatterns = [
    path("", views.index, name="index"),
    path("jobs/", views.submit, name="submit"),
    path("jobs.json", views.jobs_json, name="jobs-json"),
    path("jobs/<uuid:job_id>.json", views.job_json, name="job-json"),
    path("jobs/<uuid:job_id>/sse", views.job_sse, name="job-sse"),
]
