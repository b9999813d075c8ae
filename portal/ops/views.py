"""Internal pages for staff."""

from flask import render_template
from flask_babel import lazy_gettext as _l

from portal.ops import bp

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "warehouse": _l("Warehouse"),
    "finance": _l("Finance"),
    "service": _l("Customer service"),
}


@bp.route("/")
def dashboard():
    return render_template("ops/dashboard.html", role_labels=ROLE_LABELS)
