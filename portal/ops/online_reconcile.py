"""Finance: ask the payment gateway about online recharges whose notification never came."""

from flask import current_app, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.gateways.config import GatewayNotConfigured
from portal.htmx import hx_redirect
from portal.ops import bp
from portal.services import online_payments


def _back() -> str:
    if "ops.reconciliation" in current_app.view_functions:
        return url_for("ops.reconciliation")
    return url_for("ops.dashboard")


@bp.route("/online-payments/reconcile", methods=["POST"])
def online_reconcile():
    """Query the gateway for every waiting online recharge; credit the paid ones (audited)."""
    try:
        summary = online_payments.reconcile_pending(current_user)
    except GatewayNotConfigured:
        flash(_("Online payments are not configured, so there is nothing to check."), "error")
        return hx_redirect(_back())
    db.session.commit()
    flash(
        _(
            "Checked %(checked)s online recharges with the gateway: %(credited)s credited,"
            " %(unpaid)s not paid, %(failed)s could not be checked.",
            checked=summary.checked,
            credited=summary.credited,
            unpaid=summary.unpaid,
            failed=summary.failed,
        ),
        "error" if summary.failed else "success",
    )
    return hx_redirect(_back())
