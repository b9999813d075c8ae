"""Internal pages for staff."""

from datetime import date

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.htmx import page_or_partial
from portal.ops import bp
from portal.ops.permissions import may_use
from portal.paging import parse_page
from portal.services import audit

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "warehouse": _l("Warehouse"),
    "finance": _l("Finance"),
    "service": _l("Customer service"),
}


@bp.route("/")
def dashboard():
    return render_template(
        "ops/dashboard.html",
        role_labels=ROLE_LABELS,
        may_audit=may_use("ops.audit_log", current_user.role_names),
    )


def _day(name: str, errors: dict) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None


@bp.route("/audit")
def audit_log():
    """Every staff action, newest first; search by action, entity or actor, and by day."""
    errors: dict[str, str] = {}
    q = (request.args.get("q") or "").strip()
    if len(q) > audit.MAX_QUERY:
        errors["q"] = _("Search for at most %(n)s characters.", n=audit.MAX_QUERY)
    since, until = _day("since", errors), _day("until", errors)
    query = audit.AuditQuery(q, since, until, parse_page(request.args.get("page")))
    found = audit.search(query) if not errors else audit.AuditPage([], 1, 1, 0)
    return page_or_partial(
        "ops/audit.html",
        "ops/_audit_list.html",
        422 if errors else 200,
        found=found,
        query=query,
        errors=errors,
    )
