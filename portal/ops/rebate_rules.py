"""Finance: the invite-rebate rule (返利规则) and the programme's totals."""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.ops import bp
from portal.services import amounts, rebate_rules
from portal.services.rebate_rules import InvalidRule, RuleInput


def _values_of(rule) -> dict[str, str]:
    if rule is None:
        return {"percent": "0", "duration_days": "", "min_withdraw": "10.00"}
    return {
        "percent": f"{rule.percent.normalize():f}",
        "duration_days": str(rule.duration_days or ""),
        "min_withdraw": amounts.plain_yuan(rule.min_withdraw_fen),
    }


def _page(values: dict[str, str], errors: dict, status: int = 200):
    return page_or_partial(
        "ops/rebate_rules.html",
        "ops/_rebate_rule_form.html",
        status,
        values=values,
        errors=errors,
        overview=rebate_rules.overview(),
    )


@bp.route("/rebates", methods=["GET", "POST"], endpoint="rebate_rules")
def rebate_rules_page():
    """Show the rule in force with the totals; a POST puts a new rule in force."""
    if request.method == "GET":
        return _page(_values_of(rebate_rules.current_rule()), {})
    values = {
        name: (request.form.get(name) or "")[:40]
        for name in ("percent", "duration_days", "min_withdraw")
    }
    try:
        rebate_rules.save_rule(current_user, RuleInput(**values))
    except InvalidRule as err:
        db.session.rollback()
        return _page(values, err.errors, 422)
    db.session.commit()
    flash(_("The new rebate rule is in force."), "success")
    return hx_redirect(url_for("ops.rebate_rules"))
