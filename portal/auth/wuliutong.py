"""Logging in with a 物流通 account: the second tab of the login page."""

from flask import abort, redirect, request, url_for
from flask_login import current_user, login_fresh

from portal.auth import bp
from portal.auth.forms import WuliutongLoginForm
from portal.auth.views import _start_session
from portal.extensions import db
from portal.forms import add_error
from portal.gateways.wuliutong_config import is_enabled
from portal.htmx import page_or_partial
from portal.i18n import select_locale
from portal.security import safe_next
from portal.services.errors import DomainError
from portal.services.wuliutong_login import SisterNotAnswering, log_in_with_wuliutong


@bp.app_template_global("wuliutong_login_enabled")
def wuliutong_login_enabled() -> bool:
    """Whether the login page shows the 物流通 tab."""
    return is_enabled()


@bp.route("/login/wuliutong", methods=["GET", "POST"])
def login_wuliutong():
    if not is_enabled():
        abort(404)
    if current_user.is_authenticated and login_fresh():
        return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    form = WuliutongLoginForm()
    status, unavailable = (422 if form.is_submitted() else 200), None
    if form.validate_on_submit():
        try:
            user = log_in_with_wuliutong(
                form.account.data, form.password.data, select_locale(), request.remote_addr or ""
            )
        except SisterNotAnswering as err:
            db.session.commit()  # keep the counted attempt and any security event
            status, unavailable = 503, err.message
        except DomainError as err:
            db.session.commit()
            add_error(form, err)
        else:
            db.session.commit()
            return _start_session(user, form.remember.data)
    return page_or_partial(
        "auth/login.html",
        "auth/_wuliutong_form.html",
        status,
        form=form,
        login_tab="wuliutong",
        unavailable=unavailable,
    )
