"""Rate cards: list, edit, activate channels, import and export spreadsheets."""

from portal.ops import bp  # noqa: F401
