"""The customer's account: profile, password, mobile number and the WeChat link (the 物流通
link is in account/wuliutong.py)."""

from collections.abc import Callable

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, fresh_login_required, login_required, login_user

from portal.account import bp
from portal.account.forms import ChangePasswordForm, PhoneForm, SetPasswordForm
from portal.auth.wechat import begin as begin_wechat
from portal.extensions import db
from portal.forms import add_error
from portal.gateways.wechat_config import flow_for
from portal.gateways.wechat_config import is_enabled as wechat_enabled
from portal.gateways.wuliutong_config import is_enabled as wuliutong_enabled
from portal.htmx import hx_redirect, page_or_partial
from portal.models import User
from portal.security import safe_next
from portal.services import accounts, login_methods, wechat_login, wuliutong_login
from portal.services.errors import DomainError


def account_page(status: int = 200):
    """The account page; `status` 422 when it is shown again with a refusal in its flash."""
    wechat = accounts.external_login_of(current_user, wechat_login.PROVIDER)
    wuliutong = accounts.external_login_of(current_user, wuliutong_login.PROVIDER)
    page = render_template(
        "account/index.html",
        wechat_enabled=wechat_enabled(),
        wechat=wechat,
        wuliutong_enabled=wuliutong_enabled(),
        wuliutong=wuliutong,
        can_unlink={
            link.provider: login_methods.has_other_login(current_user, link.provider)
            for link in (wechat, wuliutong)
            if link is not None
        },
    )
    return page, status


@bp.route("/")
@login_required
def index():
    return account_page()


@bp.route("/password", methods=["GET", "POST"])
@fresh_login_required
def password():
    if current_user.password_hash is None:
        return redirect(url_for("account.set_password"))
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user, form.current_password.data, form.new_password.data
            )
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            # Every other session ended; keep this one by issuing cookies with the new version.
            remembered = current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies
            login_user(current_user._get_current_object(), remember=remembered)
            flash(
                _("Your password has been changed. Other devices have been logged out."), "success"
            )
            return hx_redirect(url_for("account.index"))
    status = 422 if form.is_submitted() else 200
    return page_or_partial(
        "account/password.html", "account/_password_form.html", status, form=form
    )


@bp.route("/phone", methods=["GET", "POST"])
@login_required
def phone():
    """Add a mobile number to an account without one (asked after a first WeChat login, may
    be skipped: `next` is where the customer was going)."""
    next_url = safe_next(request.args.get("next"), url_for("account.index"))
    if current_user.phone:
        return redirect(next_url)
    form = PhoneForm()
    if form.validate_on_submit():
        try:
            login_methods.add_phone(current_user, form.phone.data)
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("Your mobile number has been saved."), "success")
            return hx_redirect(next_url)
    status = 422 if form.is_submitted() else 200
    return page_or_partial(
        "account/phone.html", "account/_phone_form.html", status, form=form, next_url=next_url
    )


@bp.route("/set-password", methods=["GET", "POST"])
@fresh_login_required
def set_password():
    """Choose a first password (accounts made by a WeChat or 物流通 login have none)."""
    if current_user.password_hash:
        return redirect(url_for("account.password"))
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            login_methods.set_first_password(current_user, form.new_password.data)
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("Your password has been set."), "success")
            return hx_redirect(url_for("account.index"))
    status = 422 if form.is_submitted() else 200
    return page_or_partial(
        "account/set_password.html", "account/_set_password_form.html", status, form=form
    )


@bp.route("/wechat/bind")
@fresh_login_required
def wechat_bind():
    """Go to WeChat to link it to this account (the callback finishes the bind, for this
    session only). A link, not a form: CSP form-action would stop a form's redirect to WeChat."""
    if not wechat_enabled():
        abort(404)
    flow = flow_for(request.user_agent.string)
    return begin_wechat("bind", flow, url_for("account.index"), user_id=current_user.id)


def unlink(unbind: Callable[[User], None], done: str):
    """Run an unbind service for the current user: back to the account page, with the refusal
    (422) or `done` in the flash."""
    try:
        unbind(current_user)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return account_page(422)
    db.session.commit()
    flash(done, "success")
    return hx_redirect(url_for("account.index"))


@bp.route("/wechat/unbind", methods=["POST"])
@login_required
def wechat_unbind():
    """Remove the WeChat link, if the account can still log in another way."""
    return unlink(wechat_login.unbind_wechat, _("WeChat is no longer linked to your account."))
