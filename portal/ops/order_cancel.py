"""Staff cancelling an order with a reason: service staff before payment (代打包, 待支付), finance a
paid order (已支付), whose payment goes back to the customer's balance."""

from flask import abort, flash, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal.extensions import db
from portal.forms import printable, strip
from portal.htmx import hx_redirect
from portal.models import Order
from portal.models.base import is_id
from portal.ops import bp
from portal.ops.order_refund import stale_form_message, submitted_key
from portal.services import orders as order_service
from portal.services import refunds
from portal.services.errors import DomainError


class StaffCancelForm(FlaskForm):
    reason = StringField(
        _l("Reason"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Say why the order is cancelled.")),
            Length(max=200, message=_l("At most 200 characters.")),
            printable,
        ],
    )


def _order(order_id: int) -> Order:
    order = db.session.get(Order, order_id) if is_id(order_id) else None
    if order is None:
        abort(404)
    return order


def _page(order: Order, form: StaffCancelForm, status: int = 200, error: str = ""):
    return (
        render_template("ops/order_cancel.html", order=order, form=form, error=error),
        status,
    )


@bp.route("/orders/<int:order_id>/cancel", methods=["GET", "POST"])
def order_cancel(order_id: int):
    """Confirm, then cancel an order for the customer; its parcels go back to their list."""
    order = _order(order_id)
    form = StaffCancelForm()
    if not form.is_submitted():
        return _page(order, form)
    if not form.validate():
        return _page(order, form, 422)
    try:
        order_service.cancel_order(
            current_user._get_current_object(), order, form.reason.data, by_staff=True
        )
    except DomainError as err:
        db.session.rollback()
        return _page(_order(order_id), form, 409, str(err.message))
    db.session.commit()
    flash(_("Order %(order_no)s has been cancelled.", order_no=order.order_no), "success")
    return hx_redirect(url_for("ops.order", order_id=order.id))


@bp.route("/orders/<int:order_id>/cancel-refund", methods=["GET", "POST"])
def order_cancel_refund(order_id: int):
    """Confirm, then cancel a paid order: parcels released, what is left of the payment refunded."""
    order = _order(order_id)
    form = StaffCancelForm()
    if not form.is_submitted():
        return _page(order, form)
    key = submitted_key()
    if not form.validate() or key is None:
        return _page(order, form, 422, "" if key else stale_form_message())
    try:
        refunds.cancel_paid_order(current_user._get_current_object(), order, form.reason.data, key)
    except DomainError as err:
        db.session.rollback()
        return _page(_order(order_id), form, 422 if err.field else 409, str(err.message))
    db.session.commit()
    flash(
        _(
            "Order %(order_no)s has been cancelled and its payment refunded to the balance.",
            order_no=order.order_no,
        ),
        "success",
    )
    return hx_redirect(url_for("ops.order", order_id=order.id))
