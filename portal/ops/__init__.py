from flask import Blueprint, abort
from flask_login import current_user

bp = Blueprint("ops", __name__)


@bp.before_request
def _staff_only():
    """One gate for every ops route: visitors and customers see nothing (404)."""
    if not current_user.is_authenticated or not current_user.is_staff:
        abort(404)


from portal.ops import views  # noqa: E402, F401
