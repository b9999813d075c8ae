"""Internal pages for staff."""

from datetime import date

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.htmx import is_partial, page_or_partial
from portal.ops import bp
from portal.ops.permissions import may_use
from portal.paging import parse_page
from portal.services import audit, ops_dashboard
from portal.services.charts import build_chart

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "warehouse": _l("Warehouse"),
    "finance": _l("Finance"),
    "service": _l("Customer service"),
}


def _period(errors: dict) -> int:
    value = request.args.get("days", "7")
    if value not in {str(days) for days in ops_dashboard.PERIODS}:
        errors["days"] = _("Choose 7 or 30 days.")
        return ops_dashboard.PERIODS[0]
    return int(value)


def _charts(trends: ops_dashboard.Trends) -> list[dict]:
    return [
        {
            "id": "orders-placed",
            "title": _("Orders placed per day"),
            "unit": "count",
            "chart": build_chart(trends.orders_placed, "bars"),
        },
        {
            "id": "parcels-received",
            "title": _("Parcels received per day"),
            "unit": "count",
            "chart": build_chart(trends.parcels_received, "bars"),
        },
        {
            "id": "revenue",
            "title": _("Revenue per day (orders paid, CNY)"),
            "unit": "fen",
            "chart": build_chart(trends.revenue_fen, "line", minimum_step=100),
        },
    ]


@bp.route("/")
def dashboard():
    """The to-do counts, each linking to its list, and the trends of the last 7 or 30 days."""
    errors: dict[str, str] = {}
    days = _period(errors)
    trends = ops_dashboard.trends(days)
    return page_or_partial(
        "ops/dashboard.html",
        "ops/_dashboard_trends.html",
        422 if errors else 200,
        counts=None if is_partial() else ops_dashboard.counts(),
        days=days,
        periods=ops_dashboard.PERIODS,
        charts=_charts(trends),
        errors=errors,
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
