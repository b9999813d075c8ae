"""The customer's parcels: the list with its tabs, registering one or many, editing, deleting,
and the intake photos."""

import re

from flask import (
    abort,
    flash,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from portal import page_cache
from portal.errors import HTMX_ERROR_HEADERS
from portal.extensions import db
from portal.forms import add_error
from portal.htmx import hx_redirect, is_htmx, page_or_partial
from portal.parcels import bp
from portal.parcels.forms import BulkForm, ParcelForm
from portal.photos import send_photo
from portal.quote.labels import CATEGORY_LABELS
from portal.services import couriers, parcel_import, parcel_list, parcels, storage
from portal.services.errors import DomainError, ValidationFailed
from portal.services.parcel_list import ParcelQuery
from portal.services.parcels import ParcelLocked, ParcelNotFound, RowsInvalid
from portal.services.text import has_control_characters

TAB_LABELS = {
    "expected": _l("Expected"),
    "received": _l("In stock"),
    "consolidated": _l("Consolidated"),
}
PAGE_NUMBER = re.compile(r"[0-9]{1,6}")


def _context(**extra) -> dict:
    return {
        "category_labels": CATEGORY_LABELS,
        "courier_label": couriers.courier_label,
        **extra,
    }


def _guess(form: ParcelForm) -> str:
    """The courier the form's tracking number looks like, or ""."""
    number = couriers.normalise_tracking_no(form.tracking_no.data or "")
    return couriers.guess_courier(number) or ""


def _own_parcel(parcel_id: int):
    try:
        return parcels.get_parcel(current_user, parcel_id)
    except ParcelNotFound:
        abort(404)


def _refuse(message, status: int = 409):
    """A refusal with nothing changed: the error page, or the flash region for htmx."""
    if is_htmx():
        body = render_template("errors/_error.html", status=status, message=message)
        return body, status, HTMX_ERROR_HEADERS
    return render_template("errors/error.html", status=status, message=message), status


# ---------------------------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------------------------


def _list_query(args) -> tuple[ParcelQuery, str | None]:
    """The list's parameters; a bad search is refused with a message, the rest fall back."""
    status = args.get("status", "")
    if status not in TAB_LABELS:
        status = "expected"
    q = (args.get("q") or "").strip()
    error = None
    if len(q) > parcel_list.MAX_SEARCH:
        error = _("Search for at most %(n)s characters.", n=parcel_list.MAX_SEARCH)
    elif has_control_characters(q):
        error = _("Remove the control characters from the search.")
    page_text = args.get("page", "")
    # Out of range is shown as the nearest page; anything but a plain number as the first.
    page = int(page_text) if PAGE_NUMBER.fullmatch(page_text) else 1
    query = ParcelQuery(
        status=status,
        q="" if error else q,
        expiring=args.get("expiring") == "1",
        page=page,
    )
    return query, error


@bp.route("/")
@login_required
@page_cache.cached_page(vary=parcel_list.storage_settings)
def index():
    query, search_error = _list_query(request.args)
    listing = parcel_list.list_parcels(current_user, query)
    page_cache.expires_at(listing.changes_at)
    return page_or_partial(
        "parcels/index.html",
        "parcels/_list.html",
        422 if search_error else 200,
        **_context(
            listing=listing,
            q=(request.args.get("q") or "")[: parcel_list.MAX_SEARCH * 2],
            search_error=search_error,
            tab_labels=TAB_LABELS,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Registering
# ---------------------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = ParcelForm()
    if form.validate_on_submit():
        try:
            parcel = parcels.register_parcel(current_user, form.parsed)
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("Parcel %(no)s registered.", no=parcel.tracking_no), "success")
            return hx_redirect(url_for("parcels.index", status="expected"))
    status = 422 if form.is_submitted() else 200
    return page_or_partial(
        "parcels/new.html", "parcels/_form.html", status, **_context(form=form, guess=_guess(form))
    )


@bp.route("/new/courier")
@login_required
def courier_guess():
    """The courier field refreshed while the tracking number is typed: the guess is selected
    unless the customer chose a courier themselves. Without htmx, the whole form prefilled."""
    form = ParcelForm(formdata=request.args)
    guess = _guess(form)
    previous_guess = request.args.get("courier_guess", "")
    if form.courier.data in ("", previous_guess, None):
        form.courier.data = guess
    return page_or_partial(
        "parcels/new.html", "parcels/_courier_field.html", **_context(form=form, guess=guess)
    )


@bp.route("/bulk", methods=["GET", "POST"])
@login_required
def bulk():
    form = BulkForm()
    row_errors = []
    if form.validate_on_submit():
        try:
            created = parcels.register_parcels(current_user, _bulk_rows(form))
        except RowsInvalid as err:
            db.session.rollback()
            form.form_errors.append(err.message)
            row_errors = err.errors
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("Parcels registered: %(n)s.", n=len(created)), "success")
            return hx_redirect(url_for("parcels.index", status="expected"))
    status = 422 if form.is_submitted() else 200
    return page_or_partial(
        "parcels/bulk.html",
        "parcels/_bulk_form.html",
        status,
        **_context(form=form, row_errors=row_errors, max_rows=parcels.MAX_BULK_ROWS),
    )


def _bulk_rows(form: BulkForm) -> list:
    text = form.rows.data if isinstance(form.rows.data, str) else ""
    upload = form.file.data
    if upload and text.strip():
        raise ValidationFailed(_("Paste the list or upload a file, not both."), "rows")
    if upload:
        return parcel_import.rows_from_upload(
            upload.stream.read(parcel_import.MAX_UPLOAD_BYTES + 1)
        )
    if not text.strip():
        raise ValidationFailed(_("Paste tracking numbers or choose a file."), "rows")
    return parcel_import.rows_from_text(text)


@bp.route("/bulk/template.<any(csv, xlsx):fmt>")
@login_required
def bulk_template(fmt: str):
    if fmt == "csv":
        body, mimetype = parcel_import.template_csv(), "text/csv"
    else:
        body = parcel_import.template_xlsx()
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = make_response(body)
    response.mimetype = mimetype
    if fmt == "csv":
        response.charset = "utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename=parcels-template.{fmt}"
    return response


# ---------------------------------------------------------------------------------------------
# Editing and deleting
# ---------------------------------------------------------------------------------------------


@bp.route("/<int:parcel_id>/edit", methods=["GET", "POST"])
@login_required
def edit(parcel_id: int):
    parcel = _own_parcel(parcel_id)
    if parcels.is_bound(parcel):
        return _refuse(parcels.LOCKED)
    form = ParcelForm() if request.method == "POST" else ParcelForm.for_parcel(parcel)
    number_locked = parcel.status != "expected"
    if number_locked:
        # The warehouse matched the parcel by its number: what is posted for it is ignored.
        form.tracking_no.data = parcel.tracking_no
    if form.validate_on_submit():
        try:
            parcels.update_parcel(current_user, parcel_id, form.parsed)
        except ParcelNotFound:
            abort(404)
        except ParcelLocked as err:
            db.session.rollback()
            return _refuse(err.message)
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("Parcel %(no)s updated.", no=parcel.tracking_no), "success")
            return hx_redirect(url_for("parcels.index", status=parcel.status))
    status = 422 if form.is_submitted() else 200
    return page_or_partial(
        "parcels/edit.html",
        "parcels/_form.html",
        status,
        **_context(form=form, parcel=parcel, number_locked=number_locked, guess=_guess(form)),
    )


@bp.route("/<int:parcel_id>/delete", methods=["GET", "POST"])
@login_required
def delete(parcel_id: int):
    """GET asks for confirmation (works without JavaScript); POST deletes."""
    parcel = _own_parcel(parcel_id)
    if request.method == "GET":
        if parcels.is_bound(parcel):
            return _refuse(parcels.LOCKED)
        if parcels.had_order(parcel):
            return _refuse(parcels.HAS_HISTORY)
        return render_template("parcels/delete.html", **_context(parcel=parcel))
    number, status = parcel.tracking_no, parcel.status
    try:
        keys = parcels.delete_parcel(current_user, parcel_id)
    except ParcelNotFound:
        abort(404)
    except ParcelLocked as err:
        db.session.rollback()
        return _refuse(err.message)
    db.session.commit()
    for key in keys:
        storage.delete(key)
    flash(_("Parcel %(no)s deleted.", no=number), "success")
    return hx_redirect(url_for("parcels.index", status=status))


# ---------------------------------------------------------------------------------------------
# Intake photos
# ---------------------------------------------------------------------------------------------


@bp.route("/<int:parcel_id>/photos/<int:photo_id>", defaults={"size": "full"})
@bp.route("/<int:parcel_id>/photos/<int:photo_id>/thumb", defaults={"size": "thumb"})
@login_required
def photo(parcel_id: int, photo_id: int, size: str):
    """An intake photo, only for the parcel's owner (404 for anyone else)."""
    try:
        found = parcels.get_photo(current_user, parcel_id, photo_id)
    except ParcelNotFound:
        abort(404)
    return send_photo(
        found.thumb_key if size == "thumb" else found.image_key,
        f"parcel-{parcel_id}-photo-{photo_id}",
    )
