"""Finance refunding part of a paid order to the customer's balance (a weight correction, say)."""

import re
import uuid

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.extensions import db
from portal.forms import add_error, printable, strip
from portal.htmx import hx_redirect
from portal.models import Order
from portal.ops import bp
from portal.ops.order_detail import load_order
from portal.services import amounts, refunds
from portal.services.errors import DomainError

# One submission of a refund form: a fresh uuid4 hex on every render, so a double click
# or a resubmitted form finds the refund it already made.
KEY = re.compile(r"[0-9a-f]{32}")


class RefundForm(FlaskForm):
    amount = StringField(_l("Amount to refund (yuan)"))
    reason = StringField(
        _l("Reason"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Say why the money is refunded.")),
            Length(max=refunds.MAX_REASON, message=_l("At most 200 characters.")),
            printable,
        ],
    )


def submitted_key() -> str | None:
    """The form's key when it is well formed, else None."""
    key = request.form.get("key", "")
    return key if KEY.fullmatch(key) else None


def stale_form_message() -> str:
    return _("This form is out of date; please reload the page and try again.")


@bp.context_processor
def _refund_helpers() -> dict:
    return {
        "order_refunds": refunds.order_refunds,
        "refundable_fen": refunds.refundable_fen,
        "new_refund_form": lambda: RefundForm(formdata=None),
        "fresh_key": lambda: uuid.uuid4().hex,
    }


def _page(order: Order, form: RefundForm, status: int = 200, error: str = ""):
    return (
        render_template("ops/order_refund.html", order=order, refund_form=form, error=error),
        status,
    )


def _amount(form: RefundForm, remaining: int) -> int | None:
    """The amount in fen, or None with the message beside the field."""
    try:
        return amounts.parse_yuan(form.amount.data, "amount", max_fen=remaining)
    except DomainError as err:
        add_error(form, err)
        return None


@bp.route("/orders/<int:order_id>/refund", methods=["GET", "POST"])
def order_refund(order_id: int):
    """Refund part of a paid order to the customer's balance, with a reason; audited."""
    order = load_order(order_id)
    form = RefundForm()
    if not form.is_submitted():
        return _page(order, form)
    try:
        remaining = refunds.check_refundable(order)
    except DomainError as err:
        return _page(order, form, 409, str(err.message))
    key = submitted_key()
    valid = form.validate()
    amount = _amount(form, remaining)
    if key is None:
        form.form_errors.append(stale_form_message())
    if not valid or amount is None or key is None:
        return _page(order, form, 422)
    try:
        refunds.refund(current_user._get_current_object(), order, amount, form.reason.data, key)
    except DomainError as err:
        db.session.rollback()
        add_error(form, err)
        return _page(load_order(order_id), form, 422 if err.field else 409)
    db.session.commit()
    flash(_("The refund has been added to the customer's balance."), "success")
    return hx_redirect(url_for("ops.order", order_id=order_id))
