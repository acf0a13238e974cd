from django import forms


def form_errors(form: forms.Form) -> str:
    """Every error of a bound, invalid form on one line, field by field."""
    return "; ".join(
        f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()
    )
