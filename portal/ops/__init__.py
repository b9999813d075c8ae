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


from portal.ops import views  # noqa: E402, F401
