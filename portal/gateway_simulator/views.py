"""The simulator's pages: Alipay's pay page for a signed request, Pay/Cancel, and its API."""

from flask import Response, redirect, render_template, request

from portal.gateway_simulator import bp
from portal.gateway_simulator.service import (
    RequestRefused,
    answer_gateway_post,
    check_pay_request,
    pay,
    return_url,
)
from portal.i18n import format_fen


def _refused(refused: RequestRefused):
    # Like Alipay's cashier, an unacceptable request gets an error page, not an HTTP error.
    return render_template("gateway_simulator/pay.html", error=refused.code)


@bp.route("/gateway.do", methods=["GET"])
def pay_page():
    """Alipay's cashier: check our signed request, show the amount, offer Pay and Cancel."""
    try:
        checked = check_pay_request(request.args.to_dict())
    except RequestRefused as refused:
        return _refused(refused)
    return render_template(
        "gateway_simulator/pay.html",
        error=None,
        checked=checked,
        amount=format_fen(checked.amount_fen),
    )


@bp.route("/pay", methods=["POST"])
def pay_or_cancel():
    """Pay (record the trade, queue its notification, send the browser back) or Cancel."""
    fields = request.form.to_dict()
    action = fields.pop("action", "")
    try:
        checked = check_pay_request(fields)
    except RequestRefused as refused:
        return _refused(refused)
    if action != "pay":
        return redirect(checked.return_url or "/", 303)
    trade = pay(checked)
    return redirect(return_url(checked, trade), 303)


@bp.route("/gateway.do", methods=["POST"])
def gateway_api():
    """Server-to-server calls (alipay.trade.query): a signed JSON answer."""
    params = {**request.args.to_dict(), **request.form.to_dict()}
    return Response(answer_gateway_post(params), mimetype="application/json")
