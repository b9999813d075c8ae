"""The customer's account: profile and password."""

from flask import current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, fresh_login_required, login_required, login_user

from portal.account import bp
from portal.account.forms import ChangePasswordForm
from portal.extensions import db
from portal.forms import add_error
from portal.htmx import hx_redirect, page_or_partial
from portal.services import accounts
from portal.services.errors import DomainError


@bp.route("/")
@login_required
def index():
    return render_template("account/index.html")


@bp.route("/password", methods=["GET", "POST"])
@fresh_login_required
def password():
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
