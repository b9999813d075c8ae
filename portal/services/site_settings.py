"""Site settings: the portal's name, the service contacts and a notice for customers.

Every page shows them, so each process keeps the row in memory (see `cached`).
"""

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from time import monotonic

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db
from portal.models import SiteSettings, User, utcnow
from portal.services import audit, settings_row
from portal.services.errors import FieldErrors, ValidationFailed
from portal.services.identifiers import parse_email
from portal.services.text import clean_line

LIMITS = {
    "site_name": 40,
    "service_phone": 30,
    "service_wechat": 40,
    "service_email": 254,
    "service_hours": 60,
    "notice": 300,
}
PHONE = re.compile(r"\+?[0-9][0-9 ()-]{4,29}")
WECHAT_ID = re.compile(r"[A-Za-z0-9_-]{5,40}")


class InvalidSettings(FieldErrors):
    """Some site settings are not acceptable."""


@dataclass(frozen=True)
class SiteInfo:
    """What pages show: a plain copy of the row, safe to share between requests and threads."""

    site_name: str = ""
    service_phone: str = ""
    service_wechat: str = ""
    service_email: str = ""
    service_hours: str = ""
    notice: str = ""

    @property
    def has_contacts(self) -> bool:
        return bool(self.service_phone or self.service_wechat or self.service_email)


EMPTY = SiteInfo()
# Per database (tests run a SQLite and a PostgreSQL app in one process): (read at, info).
_cache: dict[str, tuple[float, SiteInfo]] = {}
_lock = threading.Lock()


def current() -> SiteSettings | None:
    """The settings row, or None before an admin first saved it."""
    return db.session.scalar(select(SiteSettings).order_by(SiteSettings.id).limit(1))


def _info(row: SiteSettings | None) -> SiteInfo:
    if row is None:
        return EMPTY
    return SiteInfo(**{f.name: getattr(row, f.name) or "" for f in fields(SiteInfo)})


def cached() -> SiteInfo:
    """The settings as this process last read them, re-read at most every
    SITE_SETTINGS_CACHE_SECONDS (5 s; never under test, where each test starts afresh).

    A save in this process clears the cache at once; a save in another worker process shows
    here within that time. When the database cannot be read (an error page after a failed
    transaction) the defaults are shown and nothing is cached.
    """
    config = current_app.config
    key = config["SQLALCHEMY_DATABASE_URI"]
    now = monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < config["SITE_SETTINGS_CACHE_SECONDS"]:
        return hit[1]
    try:
        # No autoflush: a page may be rendered while its view still holds unflushed changes.
        with db.session.no_autoflush:
            info = _info(current())
    except SQLAlchemyError:
        current_app.logger.warning("site settings could not be read", exc_info=True)
        return hit[1] if hit else EMPTY
    with _lock:
        _cache[key] = (now, info)
    return info


def clear_cache() -> None:
    """Forget the cached settings of every app in this process (after a save; in tests)."""
    with _lock:
        _cache.clear()


def site_name(info: SiteInfo | None = None) -> str:
    """The saved site name, or the configured SITE_NAME when none was saved."""
    info = info if info is not None else cached()
    return info.site_name or current_app.config["SITE_NAME"]


def _check_phone(text: str) -> str:
    if text and (not PHONE.fullmatch(text) or sum(ch.isdigit() for ch in text) < 5):
        raise ValidationFailed(
            _l("Enter a phone number: digits, spaces, +, - and brackets."), "service_phone"
        )
    return text


def _check_wechat(text: str) -> str:
    if text and not WECHAT_ID.fullmatch(text):
        raise ValidationFailed(
            _l("Enter a WeChat ID: 5 to 40 letters, digits, _ or -."), "service_wechat"
        )
    return text


def _check_email(text: str) -> str:
    if not text:
        return ""
    try:
        return parse_email(text)
    except ValidationFailed as err:
        raise ValidationFailed(err.message, "service_email") from None


CHECKS = {
    "service_phone": _check_phone,
    "service_wechat": _check_wechat,
    "service_email": _check_email,
}


def clean_values(values: Mapping[str, object]) -> dict[str, str]:
    """Every field checked; raises InvalidSettings with a message for each bad one."""
    errors: dict[str, object] = {}
    clean: dict[str, str] = {}
    for field, limit in LIMITS.items():
        raw = values.get(field)
        try:
            text = clean_line(raw if isinstance(raw, str) else "", field, limit)
            clean[field] = CHECKS[field](text) if field in CHECKS else text
        except ValidationFailed as err:
            errors[field] = err.message
    if errors:
        raise InvalidSettings(errors)
    return clean


def _snapshot(row: SiteSettings | None) -> dict:
    if row is None:
        return {}
    return {**{field: getattr(row, field) for field in LIMITS}, "revision": row.revision}


def save(actor: User, values: Mapping[str, object], revision: int) -> SiteSettings:
    """Save the settings if nobody saved since `revision` was read (0: never saved); audited.

    Raises InvalidSettings or SettingsChanged (409); nothing is written then. Clears this
    process's cache; the caller clears it again after committing, so that no request in between
    caches the old row for CACHE_SECONDS.
    """
    clean = clean_values(values)
    before = current()
    old = _snapshot(before)
    row = {**clean, "updated_by": actor.id, "updated_at": utcnow()}
    settings = settings_row.write_row(SiteSettings, before, revision, row)
    audit.record(
        actor, "site_settings.edit", "site_settings", settings.id, old, _snapshot(settings)
    )
    clear_cache()
    return settings
