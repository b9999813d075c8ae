"""WeChat login: web authorization inside WeChat and QR login on a desktop.

The browser goes to WeChat with a random `state` kept in the session beside what to do on its
return (log in or bind, the next page, the invite code); the callback accepts only that state,
once, then exchanges the code server-side. Every refusal is flashed and sends the browser back
to the login page (or the account page for a bind); an attack-looking one is recorded.
"""

import logging
import secrets
import time

from flask import abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from portal.auth import bp
from portal.database import writes
from portal.extensions import db
from portal.gateways.wechat import (
    CODE_EXPIRED,
    CODE_USED,
    WeChatError,
    WeChatRefused,
    WeChatUnreachable,
)
from portal.gateways.wechat_config import (
    WeChatNotConfigured,
    flow_for,
    is_enabled,
    scope_for,
    wechat_app,
)
from portal.i18n import remember_language, select_locale
from portal.security import safe_next
from portal.services import accounts, recharges, wechat_login
from portal.services.errors import LoginRefused, ValidationFailed

log = logging.getLogger(__name__)

SESSION_KEY = "wechat_login"
# The person has this long on WeChat's page before the state is forgotten.
STATE_MAX_AGE_SECONDS = 600
MAX_INVITE = 20


def _default_next() -> str:
    return url_for("parcels.index")


def begin(purpose: str, flow: str, next_url: str, invite: str = "", user_id: int | None = None):
    """Send the browser to WeChat for `purpose` ("login" or "bind") with a fresh state."""
    try:
        client = wechat_app(flow)
    except WeChatNotConfigured:
        flash(_("WeChat login is not available here."), "error")
        return redirect(url_for("account.index" if purpose == "bind" else "auth.login"), 303)
    state = secrets.token_hex(16)
    session[SESSION_KEY] = {
        "state": state,
        "purpose": purpose,
        "flow": flow,
        "next": next_url,
        "invite": invite[:MAX_INVITE],
        "user_id": user_id,
        "at": int(time.time()),
    }
    callback = url_for("auth.wechat_callback", _external=True)
    return redirect(client.authorization_url(callback, state, scope_for(flow)), 303)


@bp.route("/wechat/start")
def wechat_start():
    """The WeChat button: the 公众号 flow inside WeChat, the QR flow elsewhere."""
    if not is_enabled():
        abort(404)
    next_url = safe_next(request.args.get("next"), _default_next())
    if current_user.is_authenticated:
        return redirect(next_url)
    invite = request.args.get("invite", "")
    return begin("login", flow_for(request.user_agent.string), next_url, invite)


def _back(pending: dict | None):
    if pending and pending.get("purpose") == "bind":
        return redirect(url_for("account.index"), 303)
    pending = pending or {}
    target = url_for("auth.login", next=pending.get("next"), invite=pending.get("invite") or None)
    return redirect(target, 303)


def _refuse(pending: dict | None, message: str, event: str | None = None, **detail):
    """Flash `message`, record a security event when `event` names one, go back."""
    if event:
        detail = {k: str(v)[:200] for k, v in detail.items()}
        recharges.record_security_event(event, detail, (request.remote_addr or "")[:45])
        db.session.commit()
    flash(message, "error")
    return _back(pending)


def _refused_message(errcode: int) -> str:
    if errcode == CODE_USED:
        return _("This WeChat login was already used. Please log in again.")
    if errcode == CODE_EXPIRED:
        return _("This WeChat login has expired. Please log in again.")
    return _("WeChat refused the login. Please try again.")


def _identity(flow: str, code: str) -> wechat_login.WeChatIdentity:
    client = wechat_app(flow)
    token = client.exchange_code(code)
    info = client.user_info(token) if token.allows_userinfo else None
    return wechat_login.WeChatIdentity(
        openid=token.openid,
        unionid=(info.unionid if info else "") or token.unionid,
        nickname=info.nickname if info else "",
    )


@bp.route("/wechat/callback")
@writes
def wechat_callback():
    """Where WeChat sends the browser back: check the state, exchange the code, log in/bind."""
    if not is_enabled():
        abort(404)
    pending = session.pop(SESSION_KEY, None)
    if not isinstance(pending, dict) or not isinstance(pending.get("state"), str):
        return _refuse(
            None,
            _("This WeChat login has expired or was already used. Please try again."),
            "wechat_state_missing",
            has_code=bool(request.args.get("code")),
        )
    state = request.args.get("state", "")
    if not secrets.compare_digest(state.encode(), pending["state"].encode()):
        return _refuse(
            pending,
            _("This WeChat login does not belong to this browser. Please try again."),
            "wechat_state_mismatch",
            state=state[:64],
        )
    if time.time() - pending.get("at", 0) > STATE_MAX_AGE_SECONDS:
        return _refuse(pending, _("This WeChat login has expired. Please log in again."))
    code = request.args.get("code", "")
    if not code:
        flash(_("WeChat login was cancelled."), "info")
        return _back(pending)
    flow = pending.get("flow")
    try:
        identity = _identity(flow, code[:512])
    except WeChatNotConfigured:
        return _refuse(pending, _("WeChat login is not available here."))
    except WeChatRefused as err:
        return _refuse(
            pending,
            _refused_message(err.errcode),
            "wechat_code_refused",
            flow=flow,
            errcode=err.errcode,
            errmsg=err.errmsg,
        )
    except WeChatUnreachable as err:
        log.warning("WeChat login: %s", err)
        return _refuse(pending, _("WeChat did not answer. Please try again in a moment."))
    except WeChatError as err:
        return _refuse(
            pending,
            _("WeChat refused the login. Please try again."),
            "wechat_bad_answer",
            flow=flow,
            reason=err,
        )
    if pending.get("purpose") == "bind":
        return _finish_bind(pending, identity)
    return _finish_login(pending, identity)


def _finish_login(pending: dict, identity: wechat_login.WeChatIdentity):
    try:
        user, created = wechat_login.log_in_with_wechat(
            identity, pending.get("invite") or "", select_locale()
        )
    except LoginRefused as err:
        db.session.rollback()
        return _refuse(pending, err.message)
    except ValidationFailed:
        db.session.rollback()
        return _refuse(pending, _("WeChat login failed. Please try again."))
    if user.locale is None:
        accounts.set_locale(user, select_locale())
    db.session.commit()
    session.clear()
    login_user(user)
    target = safe_next(pending.get("next"), _default_next())
    if created:
        flash(_("Welcome! Your customer code is %(code)s.", code=user.customer_code), "success")
        if not user.phone:
            target = url_for("account.phone", next=target, welcome=1)
    response = redirect(target, 303)
    remember_language(response, user.locale)
    return response


def _finish_bind(pending: dict, identity: wechat_login.WeChatIdentity):
    if not current_user.is_authenticated or current_user.id != pending.get("user_id"):
        return _refuse(
            None,
            _("Log in again to link WeChat."),
            "wechat_bind_other_session",
            user_id=pending.get("user_id"),
        )
    try:
        wechat_login.bind_wechat(current_user, identity)
    except ValidationFailed as err:
        db.session.rollback()
        return _refuse(pending, err.message)
    db.session.commit()
    flash(_("WeChat is now linked to your account."), "success")
    return redirect(url_for("account.index"), 303)
