"""My wallet: the balances and the history of every movement, filtered by kind and day."""

from datetime import date

from flask import abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from portal.htmx import page_or_partial
from portal.models.ledger import TRANSACTION_KINDS
from portal.paging import parse_page
from portal.services import wallet
from portal.wallet import bp

KIND_LABELS = {
    "recharge": _l("Recharge"),
    "payment": _l("Payment"),
    "refund": _l("Refund"),
    "adjustment": _l("Adjustment"),
    "reversal": _l("Correction"),
    "rebate": _l("Invite rebate"),
    "rebate_reversal": _l("Rebate taken back"),
    "withdrawal": _l("Rebate withdrawal"),
    "membership": _l("Membership"),
}


def _day(name: str, errors: dict) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None


@bp.route("/")
@login_required
def index():
    errors: dict[str, str] = {}
    kind = request.args.get("kind", "")
    if kind and kind not in TRANSACTION_KINDS:
        errors["kind"] = _("Choose a type from the list.")
    since, until = _day("since", errors), _day("until", errors)
    if since and until and until < since:
        errors["until"] = _("The end date is before the start date.")
    query = wallet.HistoryQuery(kind, since, until, parse_page(request.args.get("page")))
    found = wallet.history(current_user, query) if not errors else wallet.HistoryPage([], 1, False)
    if not errors and not found.rows and query.page > 1:
        abort(404)
    return page_or_partial(
        "wallet/index.html",
        "wallet/_history.html",
        422 if errors else 200,
        balances=wallet.balances(current_user),
        found=found,
        query=query,
        errors=errors,
        kind_labels=KIND_LABELS,
    )
