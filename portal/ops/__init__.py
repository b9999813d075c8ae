from flask import Blueprint, abort, current_app, request
from flask_login import current_user

from portal.extensions import csrf
from portal.ops.permissions import may_use

bp = Blueprint("ops", __name__)
# The gate below checks the CSRF token itself, after the access checks, so that a visitor or a
# customer posting to an ops URL learns nothing (404) rather than meeting a CSRF error (400).
csrf.exempt(bp)


@bp.before_request
def _staff_only():
    """One gate for every ops route: visitors and customers see nothing (404); staff whose roles
    the permission table does not list for the endpoint are refused (403); then the CSRF check,
    with a larger body allowed (several photos) once we know the sender is staff."""
    if not current_user.is_authenticated or not current_user.is_staff:
        abort(404)
    if not may_use(request.endpoint, current_user.role_names):
        abort(403)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        request.max_content_length = current_app.config["OPS_MAX_CONTENT_LENGTH"]
        csrf.protect()


@bp.context_processor
def _ops_helpers():
    """`ops_may('ops.intake')` in templates: show a link or button only to those who may use it."""
    return {"ops_may": lambda endpoint: may_use(endpoint, current_user.role_names)}


from portal.ops import (  # noqa: E402, F401
    claims,
    coupons,
    customers,
    finance_adjustments,
    finance_recharges,
    finance_reconciliation,
    finance_settings,
    intake,
    online_reconcile,
    order_cancel,
    order_detail,
    order_list,
    order_print,
    order_refund,
    packing,
    packing_services,
    rate_cards,
    rebate_rules,
    shipping,
    site_settings,
    staff,
    tiers,
    views,
    warehouses,
)
