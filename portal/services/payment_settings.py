"""The finance settings customers pay to: the company's bank account and collection QR images."""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import PaymentSettings, User, utcnow
from portal.models.recharge import QR_CHANNELS
from portal.services import audit, images, settings_row, storage
from portal.services.errors import FieldErrors, ValidationFailed
from portal.services.settings_row import SettingsChanged
from portal.services.text import clean_line

TEXT_FIELDS = {"bank_name": 60, "bank_branch": 100, "account_name": 100}
ACCOUNT_NO = re.compile(r"[0-9 ]+")
MIN_DIGITS, MAX_DIGITS = 8, 30


class InvalidSettings(FieldErrors):
    """Some payment settings are not acceptable."""


@dataclass(frozen=True)
class QrChange:
    """What to do with one channel's QR image: a new upload (bytes), removal, or neither."""

    upload: bytes | None = None
    remove: bool = False


@dataclass(frozen=True)
class Saved:
    settings: PaymentSettings
    # Files of replaced or removed QR images: delete them once the transaction has committed.
    replaced: list[str]
    # Files stored by this save: delete them if the transaction does not commit.
    stored: list[images.StoredImage]


def current() -> PaymentSettings | None:
    """The settings row, or None before finance first saved it."""
    return db.session.scalar(select(PaymentSettings).order_by(PaymentSettings.id).limit(1))


def parse_account_no(raw: object) -> str:
    """A bank account number of 8 to 30 digits (spaces allowed), grouped by four for reading."""
    text = raw.strip() if isinstance(raw, str) else ""
    digits = text.replace(" ", "")
    if not ACCOUNT_NO.fullmatch(text or "x") or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise ValidationFailed(
            _l(
                "Enter the account number: %(min)s to %(max)s digits.",
                min=MIN_DIGITS,
                max=MAX_DIGITS,
            ),
            "account_no",
        )
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _text_values(values: Mapping[str, object]) -> dict[str, str]:
    """The bank fields, checked together: a bank account needs its bank, holder and number."""
    errors: dict[str, object] = {}
    clean: dict[str, str] = {}
    for field, limit in TEXT_FIELDS.items():
        raw = values.get(field)
        try:
            clean[field] = clean_line(raw if isinstance(raw, str) else "", field, limit)
        except ValidationFailed as err:
            errors[field] = err.message
    raw_no = values.get("account_no")
    clean["account_no"] = ""
    if isinstance(raw_no, str) and raw_no.strip():
        try:
            clean["account_no"] = parse_account_no(raw_no)
        except ValidationFailed as err:
            errors["account_no"] = err.message
    bank = ("bank_name", "account_name", "account_no")
    if not errors and any(clean[f] for f in (*bank, "bank_branch")):
        for field in bank:
            if not clean[field]:
                errors[field] = _l("Fill in the bank, the account holder and the number together.")
    if errors:
        raise InvalidSettings(errors)
    return clean


def _store_qr(changes: Mapping[str, QrChange]) -> dict[str, images.StoredImage]:
    """Store every uploaded QR image, or none of them when one is refused."""
    stored: dict[str, images.StoredImage] = {}
    try:
        for channel in QR_CHANNELS:
            change = changes.get(channel, QrChange())
            if change.upload and not change.remove:
                stored[channel] = images.store_image(change.upload, f"{channel}_qr")
                storage.delete(stored[channel].thumb_key)
    except images.InvalidImage:
        images.discard(list(stored.values()))
        raise
    return stored


def _snapshot(settings: PaymentSettings | None) -> dict:
    if settings is None:
        return {}
    return {
        **{field: getattr(settings, field) for field in (*TEXT_FIELDS, "account_no")},
        "wechat_qr": bool(settings.wechat_qr_key),
        "alipay_qr": bool(settings.alipay_qr_key),
        "revision": settings.revision,
    }


def save(
    actor: User,
    values: Mapping[str, object],
    revision: int,
    qr_changes: Mapping[str, QrChange],
) -> Saved:
    """Save the bank account and QR images if nobody saved since `revision` was read; audited.

    Raises InvalidSettings or InvalidImage (nothing stored), SettingsChanged (409: the new files
    were discarded). The caller deletes `replaced` after committing and `stored` on failure.
    """
    clean = _text_values(values)
    before = current()
    old_snapshot = _snapshot(before)
    stored = _store_qr(qr_changes)
    keys: dict[str, str | None] = {}
    replaced: list[str] = []
    for channel in QR_CHANNELS:
        change = qr_changes.get(channel, QrChange())
        old_key = getattr(before, f"{channel}_qr_key", None) if before else None
        if channel in stored or change.remove:
            keys[f"{channel}_qr_key"] = stored[channel].image_key if channel in stored else None
            if old_key:
                replaced.append(old_key)
    row = {**clean, **keys, "updated_by": actor.id, "updated_at": utcnow()}
    try:
        settings = settings_row.write_row(PaymentSettings, before, revision, row)
    except SettingsChanged:
        images.discard(list(stored.values()))
        raise
    audit.record(
        actor,
        "payment_settings.edit",
        "payment_settings",
        settings.id,
        old_snapshot,
        _snapshot(settings),
    )
    return Saved(settings, replaced, list(stored.values()))
