from flask import Blueprint, abort, request
from flask_login import current_user

from portal.ops.permissions import may_use

bp = Blueprint("ops", __name__)


@bp.before_request
def _staff_only():
    """One gate for every ops route: visitors and customers see nothing (404); staff whose roles
    the permission table does not list for the endpoint are refused (403)."""
    if not current_user.is_authenticated or not current_user.is_staff:
        abort(404)
    if not may_use(request.endpoint, current_user.role_names):
        abort(403)


@bp.context_processor
def _ops_helpers():
    """`ops_may('ops.intake')` in templates: show a link or button only to those who may use it."""
    return {"ops_may": lambda endpoint: may_use(endpoint, current_user.role_names)}


from portal.ops import (  # noqa: E402, F401
    customers,
    intake,
    order_list,
    packing,
    rate_cards,
    views,
)
