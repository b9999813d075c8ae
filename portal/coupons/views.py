"""The coupon wallet (优惠券): the customer's coupons by state, coupons on offer to claim, and
redeeming a coupon code."""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from portal.coupons import bp, labels
from portal.coupons.forms import ClaimForm, RedeemForm
from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import Order
from portal.services import coupons

TABS = ("usable", "used", "expired")


@bp.context_processor
def _coupon_labels() -> dict:
    return labels.HELPERS


def _order_numbers(found: coupons.Wallet) -> dict[int, str]:
    """Order id -> order number for the orders that hold or used the customer's coupons."""
    ids = {
        order_id
        for group in (found.usable, found.used, found.expired)
        for c in group
        for order_id in (c.holding_order_id, c.used_order_id)
        if order_id is not None
    }
    if not ids:
        return {}
    return dict(db.session.execute(select(Order.id, Order.order_no).where(Order.id.in_(ids))).all())


def _render(
    partial: str = "coupons/_wallet.html",
    redeem: RedeemForm | None = None,
    claim_error: tuple[int, str] | None = None,
    status: int = 200,
):
    """The whole page, or for htmx the fragment named: the wallet (tabs) or one of the forms."""
    customer = current_user._get_current_object()
    tab = request.args.get("tab", "usable")
    if tab not in TABS:
        tab = "usable"
    found = coupons.wallet(customer)
    return page_or_partial(
        "coupons/index.html",
        partial,
        status,
        tab=tab,
        tabs=TABS,
        found=found,
        shown=getattr(found, tab),
        order_numbers=_order_numbers(found),
        offers=coupons.claimable_templates(customer),
        claim_error=claim_error,
        redeem=redeem or RedeemForm(formdata=None),
    )


@bp.route("/")
@login_required
def index():
    return _render()


@bp.route("/claim", methods=["POST"])
@login_required
def claim():
    """Take one of the coupons on offer; a refusal is shown beside its button."""
    form = ClaimForm()
    template_id = form.template.data if isinstance(form.template.data, int) else 0
    if not form.validate_on_submit():
        message = " ".join(str(e) for e in form.template.errors) or _("Please try again.")
        return _render("coupons/_claim.html", claim_error=(template_id, message), status=422)
    try:
        coupon = coupons.claim(current_user._get_current_object(), template_id)
    except coupons.CouponRefused as err:
        db.session.rollback()
        return _render("coupons/_claim.html", claim_error=(template_id, err.message), status=422)
    name = labels.local_name(coupon.template)
    db.session.commit()
    flash(_("%(name)s is in your coupons.", name=name), "success")
    return hx_redirect(url_for("coupons.index"))


@bp.route("/redeem", methods=["POST"])
@login_required
def redeem():
    """Turn a coupon code into a coupon; a bad code is shown beside the field."""
    form = RedeemForm()
    if not form.validate_on_submit():
        return _render("coupons/_redeem.html", redeem=form, status=422)
    try:
        coupon = coupons.redeem(current_user._get_current_object(), form.code.data)
    except coupons.CouponRefused as err:
        db.session.rollback()
        # The service names the field "coupon"; on this form the code is what was wrong.
        form.code.errors = [*form.code.errors, err.message]
        return _render("coupons/_redeem.html", redeem=form, status=422)
    name = labels.local_name(coupon.template)
    db.session.commit()
    flash(_("%(name)s is in your coupons.", name=name), "success")
    return hx_redirect(url_for("coupons.index"))
