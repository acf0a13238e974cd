from django import forms

from apps.tasks.kinds import KINDS
from apps.tasks.models import Job


class JobForm(forms.Form):
    kind = forms.ChoiceField(choices=[(name, name) for name in KINDS])
    steps = forms.IntegerField(min_value=1, max_value=100, initial=10)
    # Capped so that a step never outlasts TASKS_JOB_STALE_AFTER.
    step_ms = forms.IntegerField(min_value=0, max_value=10_000, initial=300)
    runner = forms.ChoiceField(choices=Job.Runner.choices)
