"""Finance: the daily reconciliation (日对账) of one Beijing day, on screen or as CSV."""

import csv
import io

from flask import Response, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.htmx import page_or_partial
from portal.i18n import format_fen
from portal.ops import bp
from portal.ops.finance_recharges import METHOD_LABELS
from portal.services import reconciliation
from portal.services.errors import ValidationFailed
from portal.services.reconciliation import DayReport

KIND_LABELS = {
    "recharge": _l("Recharges"),
    "payment": _l("Payments"),
    "refund": _l("Refunds"),
    "adjustment": _l("Adjustments"),
    "reversal": _l("Corrections"),
    "rebate": _l("Invite rebates"),
    "rebate_reversal": _l("Rebates taken back"),
    "withdrawal": _l("Rebate withdrawals"),
    "membership": _l("Memberships sold"),
}


def _csv(report: DayReport) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Section"), _("Line"), _("Count"), _("Amount (CNY)")])
    for line in report.methods:
        label = str(METHOD_LABELS[line.method])
        writer.writerow(
            [_("Recharges credited"), label, line.credited, format_fen(line.credited_fen)]
        )
        writer.writerow([_("Recharges submitted"), label, line.submitted, ""])
        writer.writerow([_("Recharges rejected"), label, line.rejected, ""])
    for kind, line in report.ledger.items():
        label = str(KIND_LABELS[kind])
        writer.writerow([_("Ledger: credits"), label, line.credits, format_fen(line.credit_fen)])
        writer.writerow([_("Ledger: debits"), label, line.debits, format_fen(line.debit_fen)])
    writer.writerow([_("Security events"), "", report.security_events, ""])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=reconciliation-{report.day.isoformat()}.csv"
    )
    return response


@bp.route("/reconciliation", endpoint="reconciliation")
def reconciliation_page():
    """One Beijing day's recharges, payments, refunds and adjustments (today by default)."""
    errors: dict[str, object] = {}
    try:
        day = reconciliation.parse_day(request.args.get("day"))
    except ValidationFailed as err:
        errors["day"], day = err.message, None
    report = reconciliation.day_report(day) if day else None
    if report and request.args.get("format") == "csv":
        return _csv(report)
    return page_or_partial(
        "ops/reconciliation.html",
        "ops/_reconciliation_report.html",
        422 if errors else 200,
        report=report,
        errors=errors,
        day_value=(request.args.get("day") or "")[:40] if errors else day.isoformat(),
        method_labels=METHOD_LABELS,
        kind_labels=KIND_LABELS,
    )
