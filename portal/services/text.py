"""Checks shared by the services that store what customers type on one line."""

import unicodedata

from flask_babel import lazy_gettext as _l

from portal.services.errors import ValidationFailed

# Control characters (NUL included: PostgreSQL refuses it), lone surrogates, line breaks.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value)


def clean_line(value: str | None, field: str, max_length: int, required_message=None) -> str:
    """One line of text with the outer spaces removed; raises ValidationFailed when it is
    missing (if required), too long or holds control characters."""
    text = (value or "").strip()
    if not text:
        if required_message is not None:
            raise ValidationFailed(required_message, field)
        return ""
    if has_control_characters(text):
        raise ValidationFailed(_l("Remove the control characters or line breaks."), field)
    if len(text) > max_length:
        raise ValidationFailed(_l("At most %(count)s characters.", count=max_length), field)
    return text
