"""Online recharge through the payment gateway: start, the browser return page, the notification."""

import re
from urllib.parse import urlsplit

from flask import Response, abort, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.extensions import csrf, db
from portal.gateways import config as gateways
from portal.htmx import hx_redirect, page_or_partial
from portal.models import Recharge
from portal.recharge import bp, labels
from portal.recharge.forms import prefill_amount
from portal.recharge.views import method_urls
from portal.security import CSP
from portal.services import online_payments, recharges
from portal.services.amounts import parse_yuan
from portal.services.errors import ValidationFailed
from portal.services.recharges import MAX_RECHARGE_FEN, RechargeNotFound

MOBILE = re.compile(r"Mobile|Android|iPhone|iPad|MicroMessenger|HarmonyOS", re.IGNORECASE)
RECHARGE_NO = re.compile(r"[A-Z0-9]{1,32}")
MAX_ECHO = 32


def _pay_url(recharge: Recharge) -> str:
    return gateways.gateway_client().pay_url(
        recharge.recharge_no,
        recharge.amount_fen,
        _("Wallet recharge %(no)s", no=recharge.recharge_no),
        notify_url=url_for("recharge.notify_alipay", _external=True),
        return_url=url_for(
            "recharge.online_status", recharge_no=recharge.recharge_no, _external=True
        ),
        mobile=bool(MOBILE.search(request.headers.get("User-Agent", ""))),
    )


def _allow_posting_to_gateway(response: Response) -> Response:
    """Without htmx the form's 303 leads to the gateway's site, which form-action must allow."""
    if gateways.is_available():
        parts = urlsplit(gateways.gateway_client().gateway_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            origins = f"{parts.scheme}://{parts.netloc}"
            if parts.hostname and parts.hostname.endswith(".alipay.com"):
                # The gateway answers the form with a redirect to its cashier pages, which
                # form-action must allow too (Chrome applies it to redirects after a post).
                origins += " https://*.alipay.com"
            policy = CSP.replace("form-action 'self'", f"form-action 'self' {origins}")
            response.headers["Content-Security-Policy"] = policy
    return response


@bp.route("/online", methods=["GET", "POST"])
@login_required
def online():
    """The amount to pay online; a valid one starts a recharge and goes to the gateway."""
    available = gateways.is_available()
    errors: dict[str, str] = {}
    amount = prefill_amount(request.args.get("amount", ""))
    if request.method == "POST" and available:
        amount = (request.form.get("amount") or "")[:MAX_ECHO]
        try:
            fen = parse_yuan(request.form.get("amount"), "amount", MAX_RECHARGE_FEN)
            recharge = recharges.start_online(current_user, fen)
        except ValidationFailed as err:
            db.session.rollback()
            errors[err.field] = err.message
        else:
            pay_url = _pay_url(recharge)
            db.session.commit()
            return hx_redirect(pay_url)
    response = page_or_partial(
        "recharge/online.html",
        "recharge/_online_form.html",
        422 if errors else (200 if available or request.method == "GET" else 503),
        available=available,
        amount=amount,
        errors=errors,
        max_fen=MAX_RECHARGE_FEN,
        labels=labels,
        urls=method_urls(prefill_amount(amount)),
    )
    return _allow_posting_to_gateway(response)


@bp.route("/online/<recharge_no>")
@login_required
def online_status(recharge_no: str):
    """The customer's online recharge: waiting for the gateway's word, or credited. Also the
    gateway's return_url, whose parameters prove nothing and are ignored."""
    if not RECHARGE_NO.fullmatch(recharge_no):
        abort(404)
    try:
        recharge = online_payments.online_recharge(current_user, recharge_no)
    except RechargeNotFound:
        abort(404)
    return page_or_partial(
        "recharge/online_status.html", "recharge/_online_status.html", recharge=recharge
    )


@bp.route("/notify/alipay", methods=["POST"])
@csrf.exempt
def notify_alipay():
    """The gateway's asynchronous notification (signed, so exempt from CSRF): credit once and
    answer `success`; anything forged or refused is logged and answered `failure`."""
    if not gateways.is_available():
        abort(404)
    outcome = online_payments.receive_notification(
        request.form.to_dict(), request.remote_addr or ""
    )
    db.session.commit()
    if outcome.acknowledged:
        return Response("success", mimetype="text/plain")
    return Response("failure", 400, mimetype="text/plain")
