"""The simulator's pages: WeChat's authorize page (inside WeChat) and qrconnect page (QR login
on a desktop), where a test WeChat user is picked or made and Allows or Denies."""

from flask import redirect, render_template, request

from portal.wechat_simulator import bp
from portal.wechat_simulator.service import (
    RequestRefused,
    allow,
    check_authorize_request,
    check_test_user,
    deny,
    known_users,
    new_test_user_defaults,
)

PAGES = {"mp": "wechat_simulator.authorize", "qr": "wechat_simulator.qrconnect"}


def _page(flow: str, args: dict[str, str], values=None, errors=None, status: int = 200):
    try:
        checked = check_authorize_request(flow, args, request.host)
    except RequestRefused as refused:
        # Like WeChat, an unacceptable request gets an error page, not an HTTP error.
        return render_template("wechat_simulator/authorize.html", flow=flow, error=refused.code)
    return (
        render_template(
            "wechat_simulator/authorize.html",
            flow=flow,
            error=None,
            checked=checked,
            users=known_users(checked),
            values=values or new_test_user_defaults(),
            errors=errors or {},
        ),
        status,
    )


@bp.route("/connect/oauth2/authorize")
def authorize():
    """The 公众号 web authorization page shown inside WeChat."""
    return _page("mp", request.args.to_dict())


@bp.route("/connect/qrconnect")
def qrconnect():
    """The website app's QR login page (the test user "scans" it by pressing Allow)."""
    return _page("qr", request.args.to_dict())


@bp.route("/connect/confirm", methods=["POST"])
def confirm():
    """Allow (a one-time code for the redirect_uri) or Deny (back without a code)."""
    fields = request.form.to_dict()
    flow = "qr" if fields.get("flow") == "qr" else "mp"
    try:
        checked = check_authorize_request(flow, fields, request.host)
    except RequestRefused:
        return _page(flow, fields)
    if fields.get("action") != "allow":
        return redirect(deny(checked), 303)
    values, errors = check_test_user(fields)
    if errors:
        return _page(flow, fields, values, errors, 422)
    return redirect(allow(checked, values), 303)
