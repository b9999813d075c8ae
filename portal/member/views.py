"""Paid membership (会员): the customer's current membership and the tiers on offer, bought or
renewed from the balance; a short balance leads to the recharge page."""

import uuid

from flask import flash, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.coupons import labels
from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.member import bp
from portal.member.forms import BuyForm
from portal.models import utcnow
from portal.orders.pay import recharge_url
from portal.services import ledger, memberships
from portal.services.errors import DomainError, ShortOfMoney


@bp.context_processor
def _member_labels() -> dict:
    return labels.HELPERS


def _render(error=None, status: int = 200):
    """The whole page (or for htmx its tier list); every render carries fresh attempt keys."""
    customer_id = current_user.id
    running = memberships.active(customer_id)
    tiers = memberships.offered_tiers()
    return page_or_partial(
        "member/index.html",
        "member/_tiers.html",
        status,
        running=running,
        running_until=memberships.ends_at(customer_id, running.tier_id) if running else None,
        tiers=[(t, memberships.ends_at(customer_id, t.id), uuid.uuid4().hex) for t in tiers],
        balance_fen=ledger.balance_fen(current_user),
        error=error,
        now=utcnow(),
    )


@bp.route("/")
@login_required
def index():
    return _render()


@bp.route("/buy", methods=["POST"])
@login_required
def buy():
    """Buy or renew a tier (立即开通 / 续费); the form's key makes a resubmission charge once."""
    form = BuyForm()
    if not form.validate_on_submit():
        return _render(" ".join(str(e) for e in [*form.tier.errors, *form.key.errors]), 422)
    try:
        bought = memberships.buy(current_user._get_current_object(), form.tier.data, form.key.data)
    except ShortOfMoney as short:
        db.session.rollback()
        flash(str(short.message), "info")
        return hx_redirect(recharge_url(short.shortfall_fen))
    except DomainError as err:
        db.session.rollback()
        return _render(err.message, 409 if isinstance(err, ledger.IdempotencyConflict) else 422)
    day = labels.beijing_day(bought.membership.ends_at)
    db.session.commit()
    flash(_("Your membership is active until %(day)s.", day=day), "success")
    return hx_redirect(url_for("member.index"))
