from django import forms
from django.conf import settings


class ExportForm(forms.Form):
    rows = forms.IntegerField(min_value=1, max_value=settings.LIVE_EXPORT_MAX_ROWS)


class NoteForm(forms.Form):
    """A note anyone may publish to a topic from the page."""

    text = forms.CharField(max_length=500, strip=True)


class PollForm(forms.Form):
    # Without `after`, only events published from now on count.
    after = forms.IntegerField(min_value=0, required=False)
    timeout = forms.FloatField(min_value=0, max_value=60, required=False)
