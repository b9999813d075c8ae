"""Finance: adjusting a customer's balance by hand (调账), with a reason, posted once per form."""

import secrets

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.i18n import format_yuan
from portal.ops import bp
from portal.services import adjustments, ledger
from portal.services.customer_admin import CustomerNotFound, get_customer
from portal.services.errors import DomainError, ValidationFailed


def _form(customer_id: int, status: int = 200, errors: dict | None = None, values=None):
    try:
        customer = get_customer(customer_id)
    except CustomerNotFound:
        abort(404)
    values = values or {"direction": "credit", "amount": "", "reason": "", "token": ""}
    token = values["token"]
    if not adjustments.TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(24)
    return page_or_partial(
        "ops/balance_adjust.html",
        "ops/_balance_adjust_form.html",
        status,
        customer=customer,
        balance_fen=ledger.balance_fen(customer),
        values=values,
        # A fresh token each time the form is drawn (kept while it is corrected): the
        # idempotency key of its one posting.
        token=token,
        errors=errors or {},
        max_fen=adjustments.MAX_ADJUSTMENT_FEN,
    )


@bp.route("/customers/<int:customer_id>/adjust", methods=["GET", "POST"])
def balance_adjust(customer_id: int):
    """Credit or debit a customer's balance with a mandatory reason the customer reads."""
    if request.method == "GET":
        return _form(customer_id)
    form = request.form
    values = {
        name: (form.get(name) or "")[: adjustments.MAX_REASON * 2]
        for name in ("direction", "amount", "reason", "token")
    }
    try:
        done = adjustments.adjust_balance(
            current_user,
            customer_id,
            form.get("direction"),
            form.get("amount"),
            form.get("reason"),
            form.get("token"),
        )
    except CustomerNotFound:
        db.session.rollback()
        abort(404)
    except ValidationFailed as err:
        db.session.rollback()
        return _form(customer_id, 422, {err.field or "form": err.message}, values)
    except DomainError as err:
        db.session.rollback()
        return _form(customer_id, 409, {"form": err.message}, {**values, "token": ""})
    db.session.commit()
    if done.posted_now:
        flash(
            _(
                "Balance adjusted by %(amount)s; it is now %(balance)s.",
                amount=format_yuan(done.amount_fen),
                balance=format_yuan(done.balance_fen),
            ),
            "success",
        )
    else:
        flash(_("This adjustment was already posted; nothing more was changed."), "info")
    return hx_redirect(url_for("ops.customer", customer_id=customer_id))
