"""Finance: where customers send money (收款设置): the bank account and collection QR images."""

import re

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models.recharge import QR_CHANNELS
from portal.ops import bp
from portal.photos import send_photo
from portal.services import images, payment_settings, storage
from portal.services.errors import ValidationFailed
from portal.services.payment_settings import InvalidSettings, QrChange
from portal.services.settings_row import SettingsChanged

REVISION = re.compile(r"[0-9]{1,9}")
FORM_FIELDS = ("bank_name", "bank_branch", "account_name", "account_no")


def _form(status: int = 200, errors: dict | None = None, values: dict | None = None):
    settings = payment_settings.current()
    if values is None:
        values = {f: getattr(settings, f) if settings else "" for f in FORM_FIELDS}
    return page_or_partial(
        "ops/payment_settings.html",
        "ops/_payment_settings_form.html",
        status,
        settings=settings,
        values=values,
        errors=errors or {},
        channels=QR_CHANNELS,
    )


def _qr_changes() -> dict[str, QrChange]:
    changes = {}
    for channel in QR_CHANNELS:
        upload = request.files.get(f"{channel}_qr")
        data = upload.read(images.MAX_BYTES + 1) if upload and upload.filename else None
        changes[channel] = QrChange(data or None, request.form.get(f"{channel}_qr_remove") == "y")
    return changes


@bp.route("/payment-settings", methods=["GET", "POST"], endpoint="payment_settings")
def payment_settings_page():
    """The bank account and QR images customers pay to; saving is revision-checked."""
    if request.method == "GET":
        return _form()
    values = {f: (request.form.get(f) or "")[:200] for f in FORM_FIELDS}
    raw_revision = request.form.get("revision") or ""
    revision = int(raw_revision) if REVISION.fullmatch(raw_revision) else -1
    try:
        saved = payment_settings.save(current_user, request.form, revision, _qr_changes())
    except InvalidSettings as err:
        db.session.rollback()
        return _form(422, err.errors, values)
    except ValidationFailed as err:
        db.session.rollback()
        return _form(422, {err.field: err.message}, values)
    except SettingsChanged as err:
        db.session.rollback()
        return _form(409, {"form": err.message}, values)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        images.discard(saved.stored)
        raise
    for key in saved.replaced:
        storage.delete(key)
    flash(_("Payment settings saved."), "success")
    return hx_redirect(url_for("ops.payment_settings"))


@bp.route("/payment-settings/qr/<any(wechat, alipay):channel>")
def payment_qr(channel: str):
    """The collection QR image of a channel as customers see it."""
    settings = payment_settings.current()
    key = getattr(settings, f"{channel}_qr_key", None) if settings else None
    if not key:
        abort(404)
    return send_photo(key, f"{channel}-qr.jpg")
