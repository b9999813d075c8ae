"""Claims on unclaimed parcels (认领): the queue of open claims, approving, rejecting, proofs."""

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.errors import HTMX_ERROR_HEADERS
from portal.extensions import db
from portal.htmx import hx_redirect, is_htmx, page_or_partial
from portal.models import User
from portal.ops import bp
from portal.paging import parse_page
from portal.photos import send_photo
from portal.services import claims
from portal.services.claims import ClaimClosed, ClaimNotFound
from portal.services.errors import ValidationFailed


def _refuse(message, status: int = 409):
    """A refusal with nothing changed: the error page, or the flash region for htmx."""
    if is_htmx():
        body = render_template("errors/_error.html", status=status, message=message)
        return body, status, HTMX_ERROR_HEADERS
    return render_template("errors/error.html", status=status, message=message), status


@bp.route("/claims", endpoint="claims")
def claims_queue():
    """Open claims, oldest first, with the parcel's photos, the proof and the customer."""
    found = claims.pending_claims(parse_page(request.args.get("page")))
    return page_or_partial("ops/claims.html", "ops/_claims_list.html", found=found, errors={})


@bp.route("/claims/<int:claim_id>/proof")
def claim_proof(claim_id: int):
    """The screenshot a customer sent with a claim."""
    try:
        key = claims.proof_key(claim_id)
    except ClaimNotFound:
        abort(404)
    return send_photo(key, f"claim-{claim_id}-proof")


@bp.route("/claims/<int:claim_id>/approve", methods=["POST"])
def claim_approve(claim_id: int):
    """Give the parcel to the claiming customer (the other claims on it are rejected)."""
    try:
        parcel = claims.approve_claim(current_user, claim_id)
    except ClaimNotFound:
        abort(404)
    except ClaimClosed as err:
        db.session.rollback()
        return _refuse(err.message)
    code = db.session.get(User, parcel.customer_id).customer_code
    db.session.commit()
    flash(
        _(
            "Claim approved: parcel %(no)s is now in stock for customer %(code)s.",
            no=parcel.tracking_no,
            code=code,
        ),
        "success",
    )
    return hx_redirect(url_for("ops.claims"))


@bp.route("/claims/<int:claim_id>/reject", methods=["POST"])
def claim_reject(claim_id: int):
    """Reject an open claim with a reason the customer is told."""
    try:
        claim = claims.reject_claim(current_user, claim_id, request.form.get("reason"))
    except ClaimNotFound:
        abort(404)
    except ClaimClosed as err:
        db.session.rollback()
        return _refuse(err.message)
    except ValidationFailed as err:
        db.session.rollback()
        row = claims.pending_row(claim_id)
        if row is None:
            abort(404)
        errors = {claim_id: err.message}
        reason = (request.form.get("reason") or "")[: claims.MAX_REASON * 2]
        return page_or_partial(
            "ops/claims.html",
            "ops/_claim_card.html",
            422,
            row=row,
            found=claims.pending_claims(),
            errors=errors,
            reasons={claim_id: reason},
        )
    db.session.commit()
    flash(_("Claim for parcel %(no)s rejected.", no=claim.tracking_no), "success")
    return hx_redirect(url_for("ops.claims"))
