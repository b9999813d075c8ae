"""Unclaimed parcels for customers: search by part of a number (the rest stays hidden), claim
one with its whole number, and follow the claims."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.parcels import bp
from portal.services import claims, images, unclaimed
from portal.services.claims import InvalidClaim
from portal.services.errors import DomainError, ValidationFailed
from portal.services.unclaimed import UnclaimedNotFound

CLAIM_FIELDS = ("tracking_no", "contents")


@bp.route("/unclaimed")
@login_required
def unclaimed_search():
    """Search unclaimed parcels by at least 4 characters of the number; the customer's claims."""
    raw = request.args.get("q") or ""
    matches, error, term = None, None, ""
    if raw.strip():
        try:
            term = unclaimed.customer_search_term(raw)
        except ValidationFailed as err:
            error = err.message
        else:
            matches = unclaimed.search_for_customer(term)
    return page_or_partial(
        "parcels/unclaimed.html",
        "parcels/_unclaimed_results.html",
        422 if error else 200,
        matches=matches,
        q=raw[: unclaimed.MAX_SEARCH * 2],
        term=term,
        search_error=error,
        claims=claims.customer_claims(current_user),
    )


def _proof() -> bytes | None:
    upload = request.files.get("proof")
    if upload is None:
        return None
    data = upload.stream.read(images.MAX_BYTES + 1)
    return data if data or upload.filename else None


def _masked(found) -> str:
    """The number as the customer's search showed it (their search term rides along as ?q=)."""
    try:
        term = unclaimed.customer_search_term(request.args.get("q"))
    except ValidationFailed:
        return unclaimed.MASK
    return unclaimed.mask(found.tracking_no, term)


@bp.route("/unclaimed/<int:unclaimed_id>/claim", methods=["GET", "POST"])
@login_required
def claim(unclaimed_id: int):
    """Claim an unclaimed parcel: the whole tracking number, what is inside, an optional proof."""
    try:
        found = unclaimed.get_unclaimed(unclaimed_id, waiting_only=True)
    except UnclaimedNotFound:
        abort(404)
    errors: dict = {}
    if request.method == "POST":
        try:
            claims.submit_claim(current_user, found.id, request.form, _proof())
        except UnclaimedNotFound:
            abort(404)
        except InvalidClaim as err:
            db.session.rollback()
            errors = err.errors
        except DomainError as err:
            db.session.rollback()
            errors = {err.field or "form": err.message}
        else:
            db.session.commit()
            flash(_("Claim sent. We will check it and tell you in your messages."), "success")
            return hx_redirect(url_for("parcels.unclaimed_search"))
    values = {name: (request.form.get(name) or "")[:100] for name in CLAIM_FIELDS}
    return page_or_partial(
        "parcels/claim.html",
        "parcels/_claim_form.html",
        422 if errors else 200,
        found=found,
        masked=_masked(found),
        errors=errors,
        values=values,
    )
