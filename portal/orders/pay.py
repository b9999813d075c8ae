"""Paying an order from the balance (支付): the pay panel of the order page and its form."""

import re
import uuid
from dataclasses import dataclass

from flask import flash, g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.extensions import db
from portal.htmx import hx_redirect
from portal.models import Order
from portal.orders import bp
from portal.orders.forms import CancelForm
from portal.orders.views import own_order, render_detail
from portal.services import amounts, ledger, memberships, order_discounts, payments, refunds
from portal.services.errors import DomainError

# One press of the pay button: a fresh uuid4 hex on every render of the order page.
ATTEMPT = re.compile(r"[0-9a-f]{32}")
# An id or an amount in fen from a form: ASCII digits only (int() takes "²" and "٣" too).
DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class PayPanel:
    """What the order page needs to offer paying: the coupons, what is due with the chosen one,
    the balance and, when short, by how much."""

    bill: order_discounts.Payable
    choices: list[order_discounts.Choice]
    chosen_id: int | None
    balance_fen: int
    shortfall_fen: int
    attempt: str
    recharge_url: str


def recharge_url(amount_fen: int) -> str:
    return url_for("recharge.index", amount=amounts.plain_yuan(amount_fen))


def coupon_choice(raw: str | None) -> int | None:
    """The pay form's coupon: an id, 0 for "none", or None (keep the order's own)."""
    if raw == "none":
        return 0
    return int(raw) if raw and DIGITS.fullmatch(raw) else None


def _chosen(order: Order, choices: list[order_discounts.Choice], asked: int | None):
    usable = {c.coupon.id: c.coupon for c in choices if c.refusal is None}
    if asked is not None:
        return usable.get(asked)
    held = next((c.coupon for c in choices if c.coupon.holding_order_id == order.id), None)
    return held if held is not None and held.id in usable else order_discounts.best(choices)


def pay_panel(order: Order) -> PayPanel | None:
    """The pay panel for an order waiting for payment with a bill; None for any other order."""
    if order.status != "awaiting_payment" or order.bill_fen is None:
        return None
    customer = current_user._get_current_object()
    percent = memberships.member_percent(customer.id)
    use = order_discounts.bill_use(order, percent)
    choices = order_discounts.choices(customer, use, order_discounts.bill_base_fen(order), percent)
    asked = g.get("pay_coupon", coupon_choice(request.args.get("coupon")))
    coupon = _chosen(order, choices, asked)
    bill = order_discounts.payable(order, coupon, percent)
    balance = ledger.balance_fen(customer)
    shortfall = max(bill.total_fen - balance, 0)
    return PayPanel(
        bill,
        choices,
        coupon.id if coupon else None,
        balance,
        shortfall,
        uuid.uuid4().hex,
        recharge_url(shortfall) if shortfall else "",
    )


@bp.context_processor
def _order_money() -> dict:
    return {
        "pay_panel": pay_panel,
        "pay_error": g.get("pay_error"),
        "order_refunds": refunds.order_refunds,
    }


def _refused(order_no: str, message, status: int):
    g.pay_error = message
    return render_detail(own_order(order_no), CancelForm(formdata=None), status)


@bp.route("/<order_no>/pay", methods=["POST"])
@login_required
def pay(order_no: str):
    """Pay an order in 待支付 from the balance; a short balance leads to the recharge page."""
    order = own_order(order_no)
    attempt = request.form.get("attempt", "")
    if not ATTEMPT.fullmatch(attempt):
        return _refused(order_no, _("This payment form is out of date; please try again."), 422)
    coupon_id = coupon_choice(request.form.get("coupon"))
    shown = request.form.get("shown", "")
    g.pay_coupon = coupon_id
    try:
        payments.pay_order(
            current_user._get_current_object(),
            order,
            attempt,
            coupon_id,
            int(shown) if DIGITS.fullmatch(shown) else None,
        )
    except payments.ShortOfMoney as short:
        db.session.rollback()
        flash(str(short.message), "info")
        return hx_redirect(recharge_url(short.shortfall_fen))
    except DomainError as err:
        db.session.rollback()
        return _refused(order_no, err.message, 409)
    db.session.commit()
    flash(_("Order %(order_no)s has been paid.", order_no=order.order_no), "success")
    return hx_redirect(url_for("orders.detail", order_no=order.order_no))
