"""Register, log in, log out."""

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_fresh, login_required, login_user, logout_user

from portal.auth import bp
from portal.auth.forms import LoginForm, RegisterForm
from portal.extensions import db
from portal.forms import add_error
from portal.htmx import hx_redirect, page_or_partial
from portal.i18n import remember_language, select_locale
from portal.security import safe_next
from portal.services import accounts
from portal.services.errors import DomainError


def _next_page() -> str:
    return safe_next(request.args.get("next"), url_for("main.index"))


def _start_session(user, remember: bool, welcome: str | None = None):
    """Log the user in on a fresh session (no fixation) and go on to the next page."""
    session.clear()
    login_user(user, remember=remember)
    if welcome:
        flash(welcome, "success")
    response = hx_redirect(_next_page())
    remember_language(response, user.locale)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and login_fresh():
        return redirect(_next_page())
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.identifier.data, form.password.data)
        except DomainError as err:
            db.session.commit()  # keep the counted attempt
            add_error(form, err)
        else:
            if user.locale is None:
                accounts.set_locale(user, select_locale())
            db.session.commit()
            return _start_session(user, form.remember.data)
    status = 422 if form.is_submitted() else 200
    return page_or_partial("auth/login.html", "auth/_login_form.html", status, form=form)


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm(invite_code=request.args.get("invite", "")[:20])
    if form.validate_on_submit():
        try:
            user = accounts.register_customer(
                form.identifier.data, form.password.data, form.invite_code.data, select_locale()
            )
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            welcome = _("Welcome! Your customer code is %(code)s.", code=user.customer_code)
            return _start_session(user, remember=False, welcome=welcome)
    status = 422 if form.is_submitted() else 200
    return page_or_partial("auth/register.html", "auth/_register_form.html", status, form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    accounts.end_sessions(current_user)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    response = hx_redirect(url_for("main.index"))
    response.delete_cookie(current_app.config["REMEMBER_COOKIE_NAME"])
    return response
