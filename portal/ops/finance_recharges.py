"""Finance: the recharge review queue (充值审核), one recharge, approving, rejecting, receipts."""

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.errors import HTMX_ERROR_HEADERS
from portal.extensions import db
from portal.htmx import hx_redirect, is_htmx, is_partial, page_or_partial
from portal.i18n import format_fen
from portal.models.base import is_id
from portal.ops import bp
from portal.ops.permissions import may_use
from portal.paging import parse_page
from portal.photos import send_photo
from portal.recharge.labels import CHANNEL_LABELS, METHOD_LABELS
from portal.services import recharge_queue, recharges
from portal.services.errors import ValidationFailed
from portal.services.recharges import AlreadyReviewed, OwnRecharge, RechargeNotFound

# Staff tell an approved transfer from a paid online recharge; customers just see 已到账.
STATUS_LABELS = {
    "submitted": _l("Waiting for review"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "created": _l("Waiting for payment"),
    "paid": _l("Paid online"),
}
TAB_LABELS = {
    "pending": _l("To review"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "online": _l("Online"),
}
LABELS = {
    "method_labels": METHOD_LABELS,
    "qr_channel_labels": CHANNEL_LABELS,
    "status_labels": STATUS_LABELS,
    "tab_labels": TAB_LABELS,
}


@bp.context_processor
def _finance_nav():
    """`pending_recharges()` for the console's menu, counted only when the menu asks."""

    def pending_recharges() -> int | None:
        if not may_use("ops.recharges", current_user.role_names):
            return None
        return recharge_queue.pending_count()

    return {"pending_recharges": pending_recharges}


@bp.route("/recharges", endpoint="recharges")
def recharges_queue():
    """Recharges by tab (to review, oldest first), with method filter and search, 50 a page."""
    query, errors = recharge_queue.read_query(
        request.args.get("tab"),
        request.args.get("method"),
        request.args.get("q"),
        parse_page(request.args.get("page")),
    )
    found = None if errors else recharge_queue.queue(query)
    return page_or_partial(
        "ops/recharges.html",
        "ops/_recharge_queue.html",
        422 if errors else 200,
        query=query,
        found=found,
        errors=errors,
        q=request.args.get("q", "") if errors else query.q,
        **LABELS,
    )


def _file(recharge_id: int):
    try:
        return recharge_queue.recharge_file(recharge_id)
    except RechargeNotFound:
        abort(404)


def _file_page(recharge_id: int, status: int = 200, **extra):
    return page_or_partial(
        "ops/recharge.html",
        "ops/_recharge_file.html",
        status,
        file=_file(recharge_id),
        errors=extra.pop("errors", {}),
        reason=extra.pop("reason", ""),
        refused=extra.pop("refused", None),
        **LABELS,
    )


@bp.route("/recharges/<int:recharge_id>")
def recharge(recharge_id: int):
    """One recharge: the receipt large, the customer's balance and latest recharges."""
    return _file_page(recharge_id)


@bp.route("/recharges/<int:recharge_id>/receipt", defaults={"size": "full"})
@bp.route("/recharges/<int:recharge_id>/receipt/thumb", defaults={"size": "thumb"})
def recharge_receipt(recharge_id: int, size: str):
    """The receipt a customer uploaded, sent as a download (an <img> still shows it)."""
    found = _file(recharge_id).recharge
    key = found.receipt_thumb_key if size == "thumb" else found.receipt_key
    return send_photo(key, f"receipt-{found.recharge_no}.jpg", attachment=True)


def _not_decided(recharge_id: int, message):
    """409: someone decided first, or it is the reviewer's own recharge; nothing changed."""
    if is_htmx():
        body = render_template("errors/_error.html", status=409, message=message)
        return body, 409, HTMX_ERROR_HEADERS
    return _file_page(recharge_id, 409, refused=message)


def _after_decision(recharge_id: int):
    """From the recharge's page, on to the next one waiting; from the queue, back to it."""
    if request.form.get("next") == "file":
        following = recharge_queue.next_pending(recharge_id)
        if following is not None:
            return hx_redirect(url_for("ops.recharge", recharge_id=following))
    return hx_redirect(url_for("ops.recharges"))


@bp.route("/recharges/<int:recharge_id>/approve", methods=["POST"])
def recharge_approve(recharge_id: int):
    """Approve a recharge: the customer's balance is credited by its amount, once."""
    if not is_id(recharge_id):
        abort(404)
    try:
        done = recharges.approve(current_user, recharge_id)
    except RechargeNotFound:
        db.session.rollback()
        abort(404)
    except (AlreadyReviewed, OwnRecharge) as err:
        db.session.rollback()
        return _not_decided(recharge_id, err.message)
    db.session.commit()
    flash(
        _(
            "Recharge %(no)s approved: ¥%(amount)s credited.",
            no=done.recharge_no,
            amount=format_fen(done.amount_fen),
        ),
        "success",
    )
    return _after_decision(recharge_id)


@bp.route("/recharges/<int:recharge_id>/reject", methods=["POST"])
def recharge_reject(recharge_id: int):
    """Reject a recharge with a reason the customer reads; nothing is credited."""
    if not is_id(recharge_id):
        abort(404)
    reason = request.form.get("reason", "")
    try:
        done = recharges.reject(current_user, recharge_id, reason)
    except RechargeNotFound:
        db.session.rollback()
        abort(404)
    except ValidationFailed as err:
        db.session.rollback()
        return _reject_refused(recharge_id, err, reason)
    except (AlreadyReviewed, OwnRecharge) as err:
        db.session.rollback()
        return _not_decided(recharge_id, err.message)
    db.session.commit()
    flash(_("Recharge %(no)s rejected.", no=done.recharge_no), "info")
    return _after_decision(recharge_id)


def _reject_refused(recharge_id: int, err: ValidationFailed, reason: str):
    """422: the reject form again with the message beside the reason."""
    errors = {err.field or "reason": err.message}
    reason = reason[: recharges.MAX_REASON * 2]
    if is_partial():
        response = make_response(
            render_template(
                "ops/_recharge_reject.html",
                r=_file(recharge_id).recharge,
                errors=errors,
                reason=reason,
                next=request.form.get("next", ""),
            ),
            422,
        )
        response.vary.add("HX-Request")
        return response
    return _file_page(recharge_id, 422, errors=errors, reason=reason)
