"""Helpers shared by every feature's forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import ValidationError

from portal.services.errors import DomainError


def add_error(form: FlaskForm, err: DomainError) -> None:
    """Show a service's refusal next to its field, or above the form when it names none."""
    field = getattr(form, err.field, None) if err.field else None
    if field is not None:
        field.errors = [*field.errors, err.message]
    else:
        form.form_errors.append(err.message)


def strip(value):
    return value.strip() if isinstance(value, str) else value


def printable(_form, field) -> None:
    """Refuse control characters (a NUL byte, say), which no one-line text needs."""
    if field.data and any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in field.data):
        raise ValidationError(_l("Remove the control characters."))
