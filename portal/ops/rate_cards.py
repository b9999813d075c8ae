"""Rate cards: list, edit, activate channels, import and export spreadsheets."""

import io
import re
import tempfile
from pathlib import Path

from flask import abort, flash, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import SURCHARGE_KINDS
from portal.ops import bp
from portal.quote.labels import LINE_LABELS, SERVICE_LEVEL_LABELS
from portal.services import audit, rate_card_admin, rate_cards
from portal.services.pricing_types import LineCode
from portal.services.rate_card_admin import ChangedMeanwhile, ChannelFieldsInvalid, NotFound
from portal.services.rate_sheets import RateSheetInvalid, export_rate_card, import_rate_card

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# An .xlsx file is a zip archive; anything else is refused before the sheet reader sees it.
ZIP_MAGIC = b"PK\x03\x04"
CHANNEL_FIELDS = ("name_zh", "name_en", "transit_min_days", "transit_max_days", "sort_order")
UNSAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _card_or_404(card_id: int):
    try:
        return rate_card_admin.get_card(card_id)
    except NotFound:
        abort(404)


def _in_force_id() -> int | None:
    card = rate_cards.current_card(rate_cards.business_today())
    return card.id if card else None


@bp.route("/rate-cards", endpoint="rate_cards")
def card_list():
    """Every rate card version, the one in force marked."""
    return page_or_partial(
        "ops/rate_cards.html",
        "ops/_rate_card_list.html",
        rows=rate_card_admin.list_cards(),
        in_force_id=_in_force_id(),
    )


def _card_page(card, status: int = 200, errors: dict | None = None):
    return page_or_partial(
        "ops/rate_card.html",
        "ops/_rate_card_channels.html",
        status,
        card=card,
        in_force=card.id == _in_force_id(),
        level_labels=SERVICE_LEVEL_LABELS,
        surcharge_labels={kind: LINE_LABELS[LineCode(kind.upper())] for kind in SURCHARGE_KINDS},
        errors=errors or {},
    )


@bp.route("/rate-cards/<int:card_id>")
def rate_card(card_id: int):
    """A card's channels, zones, rate rows and surcharges."""
    return _card_page(_card_or_404(card_id))


@bp.route("/rate-cards/<int:card_id>/channels/<int:channel_id>/toggle", methods=["POST"])
def channel_toggle(card_id: int, channel_id: int):
    """Switch a channel on (active=1) or off (active=0) for quotes and new orders."""
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        return _card_page(
            _card_or_404(card_id), 422, {"toggle": _("Choose to activate or deactivate.")}
        )
    try:
        channel = rate_card_admin.set_channel_active(
            current_user, card_id, channel_id, wanted == "1"
        )
    except NotFound:
        db.session.rollback()
        abort(404)
    except ChangedMeanwhile as err:
        db.session.rollback()
        return _card_page(_card_or_404(card_id), 409, {"toggle": err.message})
    code, active = channel.code, channel.is_active
    db.session.commit()
    rate_cards.clear_caches()
    if active:
        flash(_("Channel %(code)s is active again.", code=code), "success")
    else:
        flash(_("Channel %(code)s is no longer offered.", code=code), "success")
    return hx_redirect(url_for("ops.rate_card", card_id=card_id))


@bp.route("/rate-cards/<int:card_id>/channels/<int:channel_id>", methods=["GET", "POST"])
def rate_card_edit_channel(card_id: int, channel_id: int):
    """Edit a channel's names, transit days and sort order."""
    try:
        channel = rate_card_admin.get_channel(card_id, channel_id)
    except NotFound:
        abort(404)
    card = channel.rate_card
    values = {name: str(getattr(channel, name)) for name in CHANNEL_FIELDS}
    revision = str(card.revision)
    errors: dict[str, object] = {}
    status = 200
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in CHANNEL_FIELDS}
        revision = request.form.get("revision", "")
        status, errors = _save_channel(card_id, channel_id, values, revision)
        if not errors:
            return hx_redirect(url_for("ops.rate_card", card_id=card_id))
    return page_or_partial(
        "ops/rate_card_channel.html",
        "ops/_rate_card_channel_form.html",
        status,
        card=card,
        channel=channel,
        values=values,
        revision=revision,
        errors=errors,
    )


def _save_channel(card_id: int, channel_id: int, values: dict, revision: str) -> tuple:
    """(status, errors): commits and flashes when the fields are good and the card unchanged."""
    try:
        display = rate_card_admin.check_channel_display(values)
        if not revision.isdigit() or len(revision) > 9:
            raise ChangedMeanwhile(_("The form is out of date; please open it again."))
        rate_card_admin.edit_channel(current_user, card_id, channel_id, int(revision), display)
    except ChannelFieldsInvalid as err:
        db.session.rollback()
        return 422, err.errors
    except ChangedMeanwhile as err:
        db.session.rollback()
        return 409, {"form": err.message}
    except NotFound:
        db.session.rollback()
        abort(404)
    db.session.commit()
    rate_cards.clear_caches()
    flash(_("The channel has been saved."), "success")
    return 200, {}


def _check_upload(upload) -> str | None:
    """Why an uploaded file cannot be a rate sheet, or None."""
    if upload is None or not upload.filename:
        return _("Choose a rate sheet (.xlsx) to upload.")
    if not upload.filename.lower().endswith(".xlsx"):
        return _("Upload an .xlsx spreadsheet.")
    if upload.stream.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
        return _("This file is not an .xlsx spreadsheet.")
    upload.stream.seek(0)
    return None


def _import_form(status: int, errors: dict | None = None, problems=(), version: str = ""):
    return page_or_partial(
        "ops/rate_card_import.html",
        "ops/_rate_card_import_form.html",
        status,
        errors=errors or {},
        problems=problems,
        version=version,
    )


@bp.route("/rate-cards/import", methods=["GET", "POST"])
def rate_card_import():
    """Upload a rate sheet: every problem is listed with its sheet, row and column, or the card
    is added as a new version (in force from its valid_from day)."""
    if request.method == "GET":
        return _import_form(200)
    version = request.form.get("version", "").strip()
    upload = request.files.get("sheet")
    refused = _check_upload(upload)
    if refused:
        return _import_form(422, {"sheet": refused}, version=version)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rate-sheet.xlsx"
        upload.save(path)
        try:
            card = import_rate_card(path, version=version or None)
        except RateSheetInvalid as err:
            db.session.rollback()
            return _import_form(422, {"sheet": err.message}, err.problems, version)
    audit.record(
        current_user,
        "rate_card.import",
        "rate_card",
        card.id,
        None,
        {
            "version": card.version,
            "valid_from": card.valid_from.isoformat(),
            "channels": len(card.channels),
        },
    )
    card_id, card_version = card.id, card.version
    db.session.commit()
    rate_cards.clear_caches()
    flash(_("Rate card %(version)s has been imported.", version=card_version), "success")
    return hx_redirect(url_for("ops.rate_card", card_id=card_id))


@bp.route("/rate-cards/<int:card_id>/export")
def rate_card_export(card_id: int):
    """The card as an .xlsx file in the import format."""
    card = _card_or_404(card_id)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rate-card.xlsx"
        export_rate_card(card, path)
        data = path.read_bytes()
    name = UNSAFE_FILE_NAME.sub("-", card.version).strip("-") or str(card.id)
    return send_file(
        io.BytesIO(data),
        mimetype=XLSX_TYPE,
        as_attachment=True,
        download_name=f"rate-card-{name}.xlsx",
        max_age=0,
    )
