"""A new staff member accepts an invitation by choosing a password."""

from flask import flash, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user

from portal.auth import bp
from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.i18n import remember_language
from portal.services import staff_admin
from portal.services.errors import ValidationFailed
from portal.services.passwords import MAX_LENGTH
from portal.services.staff_admin import InvitationGone, InvitationNotFound


def _refused(err, status: int):
    db.session.rollback()
    return render_template("auth/invitation_refused.html", message=err.message), status


def _form(token: str, invitation, status: int = 200, errors: dict | None = None):
    return page_or_partial(
        "auth/invitation.html",
        "auth/_invitation_form.html",
        status,
        token=token,
        invitation=invitation,
        errors=errors or {},
    )


def _start_staff_session(user):
    """As auth.views._start_session: a fresh session (no fixation), then the staff console."""
    session.clear()
    login_user(user, remember=False)
    flash(_("Your password is set. Welcome to the staff console."), "success")
    response = hx_redirect(url_for("ops.dashboard"))
    remember_language(response, user.locale)
    return response


@bp.route("/invitation/<token>", methods=["GET", "POST"], endpoint="invitation")
def invitation(token: str):
    """GET: the set-password form of a valid invitation; POST: set it and log in.

    An unknown link answers 404, a used, replaced or expired one 410; nothing is changed.
    """
    try:
        found = staff_admin.find_invitation(token)
    except InvitationNotFound as err:
        return _refused(err, 404)
    except InvitationGone as err:
        return _refused(err, 410)
    if request.method == "GET":
        return _form(token, found)
    password = (request.form.get("password") or "")[: MAX_LENGTH + 1]
    if password != (request.form.get("password_confirm") or "")[: MAX_LENGTH + 1]:
        return _form(token, found, 422, {"password_confirm": _("The two passwords differ.")})
    try:
        user = staff_admin.accept_invitation(token, password)
    except ValidationFailed as err:
        db.session.rollback()
        return _form(token, found, 422, {"password": err.message})
    except InvitationGone as err:
        return _refused(err, 410)
    db.session.commit()
    return _start_staff_session(user)
