"""Customers: search, a customer's page, disabling an account."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.ops import bp
from portal.orders.labels import STATUS_LABELS as ORDER_STATUS_LABELS
from portal.paging import parse_page
from portal.services import customer_admin, ledger
from portal.services.customer_admin import AlreadyChanged, CustomerNotFound, CustomerPage
from portal.services.errors import ValidationFailed

PARCEL_STATUS_LABELS = {
    "expected": _l("Expected"),
    "received": _l("In stock"),
    "consolidated": _l("Consolidated"),
}


@bp.route("/customers")
def customers():
    """Find customers by customer code, phone or email (a prefix), 50 a page, newest first."""
    errors: dict[str, str] = {}
    try:
        q = customer_admin.check_query(request.args.get("q"))
    except ValidationFailed as err:
        q, errors["q"] = "", str(err.message)
    page = parse_page(request.args.get("page"))
    found = CustomerPage([], 1, 1, 0) if errors else customer_admin.search_customers(q, page)
    return page_or_partial(
        "ops/customers.html",
        "ops/_customer_list.html",
        422 if errors else 200,
        found=found,
        q=request.args.get("q", "") if errors else q,
        errors=errors,
    )


def _customer_page(customer_id: int, status: int = 200, **extra):
    try:
        profile = customer_admin.customer_profile(customer_id)
    except CustomerNotFound:
        abort(404)
    return page_or_partial(
        "ops/customer.html",
        "ops/_customer_status.html",
        status,
        profile=profile,
        customer=profile.customer,
        balance_fen=ledger.balance_fen(profile.customer),
        parcel_labels=PARCEL_STATUS_LABELS,
        order_labels=ORDER_STATUS_LABELS,
        errors=extra.pop("errors", {}),
        reason=extra.pop("reason", ""),
        **extra,
    )


@bp.route("/customers/<int:customer_id>")
def customer(customer_id: int):
    """A customer's profile, parcels and orders."""
    return _customer_page(customer_id)


def _change(customer_id: int, act, done_message: str):
    reason = request.form.get("reason", "")
    try:
        act(current_user, customer_id, reason)
    except CustomerNotFound:
        db.session.rollback()
        abort(404)
    except ValidationFailed as err:
        db.session.rollback()
        return _customer_page(customer_id, 422, errors={err.field: err.message}, reason=reason)
    except AlreadyChanged as err:
        db.session.rollback()
        return _customer_page(customer_id, 409, errors={"form": err.message})
    db.session.commit()
    flash(done_message, "success")
    return hx_redirect(url_for("ops.customer", customer_id=customer_id))


@bp.route("/customers/<int:customer_id>/disable", methods=["POST"])
def customer_disable(customer_id: int):
    """Disable the account (reason required): every session of the customer ends."""
    return _change(
        customer_id, customer_admin.disable_customer, _("The account has been disabled.")
    )


@bp.route("/customers/<int:customer_id>/enable", methods=["POST"])
def customer_enable(customer_id: int):
    """Let the customer log in again."""
    return _change(customer_id, customer_admin.enable_customer, _("The account has been enabled."))
