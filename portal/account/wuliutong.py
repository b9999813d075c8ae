"""Linking a 物流通 account to the customer's account (after logging in here), and unlinking it."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, fresh_login_required, login_required

from portal.account import bp
from portal.account.forms import WuliutongBindForm
from portal.account.views import unlink
from portal.extensions import db
from portal.forms import add_error
from portal.gateways.wuliutong_config import is_enabled
from portal.htmx import hx_redirect, page_or_partial
from portal.services import wuliutong_login
from portal.services.errors import DomainError


@bp.route("/wuliutong", methods=["GET", "POST"])
@fresh_login_required
def wuliutong_bind():
    """物流通 checks the account's password; then its logins land in this account."""
    if not is_enabled():
        abort(404)
    form = WuliutongBindForm()
    status, unavailable = (422 if form.is_submitted() else 200), None
    if form.validate_on_submit():
        try:
            wuliutong_login.bind_wuliutong(
                current_user, form.account.data, form.password.data, request.remote_addr or ""
            )
        except wuliutong_login.SisterNotAnswering as err:
            db.session.commit()  # keep the counted attempt and any security event
            status, unavailable = 503, err.message
        except DomainError as err:
            db.session.commit()  # the attempt counts; nothing else was written
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("Your 物流通 account is now linked: you can log in with it."), "success")
            return hx_redirect(url_for("account.index"))
    return page_or_partial(
        "account/wuliutong.html",
        "account/_wuliutong_bind_form.html",
        status,
        form=form,
        unavailable=unavailable,
    )


@bp.route("/wuliutong/unbind", methods=["POST"])
@login_required
def wuliutong_unbind():
    """Remove the 物流通 link, if the account can still log in another way."""
    return unlink(
        wuliutong_login.unbind_wuliutong, _("物流通 is no longer linked to your account.")
    )
