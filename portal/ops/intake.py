"""Intake desk (入库): scan, weigh, photograph; the staff list of parcels; unclaimed parcels
(无主件) and their photos."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.i18n import format_kg
from portal.models import PARCEL_STATES, UNCLAIMED_STATES, User
from portal.ops import bp
from portal.paging import parse_page
from portal.photos import send_photo
from portal.services import couriers, images, intake, unclaimed
from portal.services.errors import DomainError, ValidationFailed
from portal.services.intake import AlreadyReceived, InvalidMeasurements
from portal.services.parcels import ParcelNotFound
from portal.services.text import has_control_characters
from portal.services.unclaimed import UnclaimedNotFound

SCAN_FIELD = "scan-tracking-no"
RECEIVE_FORM = "ops/_intake_receive_form.html"
UNCLAIMED_FORM = "ops/_intake_unclaimed_form.html"
# Form fields shown again after a refused POST (never the files: browsers cannot refill them).
FORM_FIELDS = ("tracking_no", "weight", "length", "width", "height", "condition_note")
PARCEL_STATUS_LABELS = {
    "expected": _l("Expected"),
    "received": _l("In stock"),
    "consolidated": _l("Consolidated"),
}
UNCLAIMED_STATUS_LABELS = {"unclaimed": _l("Waiting for its owner"), "claimed": _l("Claimed")}


def _uploads(name: str = "photos") -> list[bytes]:
    """The files sent in a file field; the empty part of a field left blank is not one."""
    files = []
    for upload in request.files.getlist(name):
        data = upload.stream.read(images.MAX_BYTES + 1)
        if data or upload.filename:
            files.append(data)
    return files


def _values() -> dict[str, str]:
    """The posted text fields, to show again beside their errors."""
    return {name: (request.form.get(name) or "")[:100] for name in FORM_FIELDS}


# ---------------------------------------------------------------------------------------------
# The desk: scan, receive, record unclaimed
# ---------------------------------------------------------------------------------------------


def _waiting(scan: intake.Scan) -> bool:
    return any(u.status == "unclaimed" for u in scan.unclaimed)


def _focus(scan: intake.Scan | None, forms: dict) -> str:
    """The field the page focuses: the first bad field of a refused form; the weight when a
    scan found exactly one parcel to receive; else the scan field, ready for the next scan."""
    for form_id, form in forms.items():
        if form.get("errors"):
            field = next(iter(form["errors"]))
            return f"{form_id}-{field}" if field in FORM_FIELDS or field == "photos" else SCAN_FIELD
    if scan is not None and len(scan.matches) == 1 and scan.receivable:
        return f"receive-{scan.matches[0].parcel.id}-weight"
    return SCAN_FIELD


def _desk(
    status: int,
    partial: str,
    scan: intake.Scan | None = None,
    scanned: str = "",
    scan_error=None,
    forms: dict | None = None,
    unclaimed_number: str | None = None,
    **extra,
):
    forms = forms or {}
    if unclaimed_number is None and scan is not None and not scan.matches and not _waiting(scan):
        unclaimed_number = scan.tracking_no
    return page_or_partial(
        "ops/intake.html",
        partial,
        status,
        scan=scan,
        scanned=scanned[:60],
        scan_error=scan_error,
        forms=forms,
        unclaimed_number=unclaimed_number,
        focus=_focus(scan, forms),
        courier_label=couriers.courier_label,
        **extra,
    )


@bp.route("/intake", endpoint="intake")
def intake_desk():
    """The scan field; `?tracking_no=` shows every parcel registered under the number, with the
    receive form for each expected one, or the form recording an unclaimed parcel."""
    raw = request.args.get("tracking_no")
    if raw is None:
        return _desk(200, "ops/_intake_desk.html")
    try:
        number = intake.parse_tracking_no(raw)
    except ValidationFailed as err:
        return _desk(422, "ops/_intake_desk.html", scanned=raw, scan_error=err.message)
    return _desk(200, "ops/_intake_desk.html", scan=intake.lookup(number), scanned=number)


def _refused_form(partial: str, number: str, form_id: str, form: dict, status: int, **extra):
    """A refused POST: the form fragment again, or the whole desk for that number."""
    scan = intake.lookup(number) if number else None
    return _desk(
        status,
        partial,
        scan=scan,
        scanned=number,
        forms={form_id: form},
        form_id=form_id,
        errors=form.get("errors", {}),
        values=form.get("values", {}),
        refusal=form.get("refusal"),
        desk_refusal=form.get("refusal"),
        **extra,
    )


@bp.route("/intake/parcels/<int:parcel_id>", methods=["POST"])
def intake_receive(parcel_id: int):
    """Receive a parcel not yet in stock: weight, sides, photos and a note; then the next scan."""
    try:
        parcel = intake.find_parcel(parcel_id)
    except ParcelNotFound:
        abort(404)
    number, form_id = parcel.tracking_no, f"receive-{parcel.id}"
    errors: dict = {}
    try:
        measurements = intake.parse_measurements(request.form)
    except InvalidMeasurements as err:
        errors.update(err.errors)
    uploads = _uploads()
    if not uploads:
        errors.setdefault("photos", intake.PHOTO_REQUIRED)
    if not errors:
        try:
            intake.receive_parcel(current_user, parcel.id, measurements, uploads)
        except AlreadyReceived as err:
            db.session.rollback()
            form = {"refusal": err.message}
            return _refused_form(RECEIVE_FORM, number, form_id, form, 409, parcel=parcel)
        except DomainError as err:
            db.session.rollback()
            errors[err.field or "form"] = err.message
        else:
            db.session.commit()
            flash(
                _(
                    "Parcel %(no)s received (%(kg)s kg), customer %(code)s.",
                    no=number,
                    kg=format_kg(measurements.weight_g),
                    code=db.session.get(User, parcel.customer_id).customer_code,
                ),
                "success",
            )
            return hx_redirect(url_for("ops.intake"))
    form = {"errors": errors, "values": _values()}
    return _refused_form(RECEIVE_FORM, number, form_id, form, 422, parcel=parcel)


@bp.route("/intake/unclaimed", methods=["POST"])
def intake_unclaimed():
    """Record a parcel no customer registered as unclaimed (photos required)."""
    errors: dict = {}
    number = ""
    try:
        number = intake.parse_tracking_no(request.form.get("tracking_no"))
    except ValidationFailed as err:
        errors["tracking_no"] = err.message
    try:
        measurements = intake.parse_measurements(request.form)
    except InvalidMeasurements as err:
        errors.update(err.errors)
    uploads = _uploads()
    if not uploads:
        errors.setdefault("photos", intake.PHOTO_REQUIRED)
    if not errors:
        try:
            recorded = unclaimed.record_unclaimed(current_user, number, measurements, uploads)
        except DomainError as err:
            db.session.rollback()
            errors[err.field or "form"] = err.message
        else:
            db.session.commit()
            flash(_("Parcel %(no)s recorded as unclaimed.", no=recorded.tracking_no), "success")
            return hx_redirect(url_for("ops.intake"))
    form = {"errors": errors, "values": _values()}
    shown = number or (request.form.get("tracking_no") or "")[:60]
    return _refused_form(UNCLAIMED_FORM, number, "unclaimed", form, 422, unclaimed_number=shown)


# ---------------------------------------------------------------------------------------------
# Lists and photos
# ---------------------------------------------------------------------------------------------


def _search_text(errors: dict) -> str:
    q = (request.args.get("q") or "").strip()
    if len(q) > intake.MAX_SEARCH:
        errors["q"] = _("Search for at most %(n)s characters.", n=intake.MAX_SEARCH)
        return ""
    if has_control_characters(q):
        errors["q"] = _("Remove the control characters from the search.")
        return ""
    return q


def _choice(name: str, allowed, errors: dict, message) -> str:
    value = request.args.get(name) or ""
    if value and value not in allowed:
        errors[name] = message
        return ""
    return value


@bp.route("/parcels")
def parcels():
    """Parcels of every customer: by status, received today, number or customer code."""
    errors: dict = {}
    received = _choice("received", ("today",), errors, _("Choose today or any day."))
    query = intake.ParcelQuery(
        status=_choice("status", PARCEL_STATES, errors, _("Choose a status from the list.")),
        received_today=received == "today",
        q=_search_text(errors),
        page=parse_page(request.args.get("page")),
    )
    found = intake.find_parcels(query) if not errors else intake.ParcelPage([], 1, 1, 0)
    return page_or_partial(
        "ops/parcels.html",
        "ops/_parcels_list.html",
        422 if errors else 200,
        found=found,
        query=query,
        errors=errors,
        status_labels=PARCEL_STATUS_LABELS,
        courier_label=couriers.courier_label,
    )


@bp.route("/parcels/<int:parcel_id>/photos/<int:photo_id>", defaults={"size": "full"})
@bp.route("/parcels/<int:parcel_id>/photos/<int:photo_id>/thumb", defaults={"size": "thumb"})
def parcel_photo(parcel_id: int, photo_id: int, size: str):
    """An intake photo of any customer's parcel."""
    try:
        photo = intake.get_photo(parcel_id, photo_id)
    except ParcelNotFound:
        abort(404)
    key = photo.thumb_key if size == "thumb" else photo.image_key
    return send_photo(key, f"parcel-{parcel_id}-photo-{photo_id}")


@bp.route("/unclaimed", endpoint="unclaimed")
def unclaimed_list():
    """Unclaimed parcels: waiting or claimed, found by number, with their photos."""
    errors: dict = {}
    query = unclaimed.UnclaimedQuery(
        status=_choice("status", UNCLAIMED_STATES, errors, _("Choose a status from the list.")),
        q=_search_text(errors),
        page=parse_page(request.args.get("page")),
    )
    found = unclaimed.find_unclaimed(query) if not errors else unclaimed.UnclaimedPage([], 1, 1, 0)
    return page_or_partial(
        "ops/unclaimed.html",
        "ops/_unclaimed_list.html",
        422 if errors else 200,
        found=found,
        query=query,
        errors=errors,
        status_labels=UNCLAIMED_STATUS_LABELS,
        courier_label=couriers.courier_label,
    )


@bp.route("/unclaimed/<int:unclaimed_id>/photos/<int:photo_id>", defaults={"size": "full"})
@bp.route("/unclaimed/<int:unclaimed_id>/photos/<int:photo_id>/thumb", defaults={"size": "thumb"})
def unclaimed_photo(unclaimed_id: int, photo_id: int, size: str):
    """A photo of an unclaimed parcel."""
    try:
        photo = unclaimed.get_photo(unclaimed_id, photo_id)
    except UnclaimedNotFound:
        abort(404)
    key = photo.thumb_key if size == "thumb" else photo.image_key
    return send_photo(key, f"unclaimed-{unclaimed_id}-photo-{photo_id}")
