"""Set-up: staff users, their roles and invitations."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, is_partial, page_or_partial
from portal.models.user import STAFF_ROLES
from portal.ops import bp
from portal.ops.permissions import may_use
from portal.services import staff_admin
from portal.services.errors import DomainError
from portal.services.staff_admin import StaffNotFound

ROLE_LABELS = {
    "admin": _l("Admin"),
    "warehouse": _l("Warehouse"),
    "finance": _l("Finance"),
    "service": _l("Customer service"),
}


def _roles_from_form() -> list[str]:
    return [r[:20] for r in request.form.getlist("roles")[: len(STAFF_ROLES) + 1]]


def _staff_page(status: int = 200, errors: dict | None = None, values: dict | None = None, **kw):
    response = page_or_partial(
        "ops/staff.html",
        "ops/_staff_invite_form.html" if request.method == "POST" else "ops/_staff_list.html",
        status,
        rows=staff_admin.staff_list(),
        errors=errors or {},
        values=values or {"identifier": "", "roles": []},
        role_labels=ROLE_LABELS,
        **kw,
    )
    if kw.get("invited") is not None and is_partial():
        response.headers["HX-Trigger"] = "staffChanged"
    return response


@bp.route("/staff", methods=["GET", "POST"], endpoint="staff")
def staff():
    """The staff list and the invite form; an invitation link is shown once, here."""
    if request.method == "GET":
        return _staff_page()
    identifier = (request.form.get("identifier") or "")[:254]
    roles = _roles_from_form()
    try:
        invited = staff_admin.invite_staff(current_user, identifier, roles)
    except DomainError as err:
        db.session.rollback()
        values = {"identifier": identifier, "roles": roles}
        return _staff_page(422, {err.field or "form": err.message}, values)
    db.session.commit()
    link = url_for("auth.invitation", token=invited.token, _external=True)
    return _staff_page(invited=invited, link=link)


def _member_page(
    user_id: int, status: int = 200, partial: str = "ops/_staff_roles_form.html", **kw
):
    try:
        member = staff_admin.get_staff(user_id)
    except StaffNotFound:
        abort(404)
    return page_or_partial(
        "ops/staff_member.html",
        partial,
        status,
        member=member,
        pending_until=staff_admin.pending_until(member),
        role_labels=ROLE_LABELS,
        errors=kw.pop("errors", {}),
        chosen=kw.pop("chosen", sorted(member.role_names)),
        **kw,
    )


def _after_change(user_id: int, message: str):
    db.session.commit()
    flash(message, "success")
    # An admin who gave up their own admin role can no longer open this page.
    if not may_use("ops.staff_member", current_user.role_names):
        return hx_redirect(url_for("ops.dashboard"))
    return hx_redirect(url_for("ops.staff_member", user_id=user_id))


@bp.route("/staff/<int:user_id>", methods=["GET", "POST"], endpoint="staff_member")
def staff_member(user_id: int):
    """A staff member's page; POST replaces their roles (the last admin keeps admin)."""
    if request.method == "GET":
        return _member_page(user_id)
    roles = _roles_from_form()
    try:
        staff_admin.change_roles(current_user, user_id, roles)
    except StaffNotFound:
        db.session.rollback()
        abort(404)
    except staff_admin.LastAdmin as err:
        db.session.rollback()
        return _member_page(user_id, 409, errors={"roles": err.message}, chosen=roles)
    except DomainError as err:
        db.session.rollback()
        return _member_page(user_id, 422, errors={err.field or "roles": err.message}, chosen=roles)
    return _after_change(user_id, _("The roles have been saved."))


@bp.route("/staff/<int:user_id>/active", methods=["POST"], endpoint="staff_active")
def staff_active(user_id: int):
    """Disable (ending every session) or enable a staff account; the last admin stays."""
    wanted = request.form.get("active")
    partial = "ops/_staff_status.html"
    if wanted not in ("0", "1"):
        return _member_page(user_id, 422, partial, errors={"active": _("Choose an action.")})
    try:
        staff_admin.set_active(current_user, user_id, wanted == "1")
    except StaffNotFound:
        db.session.rollback()
        abort(404)
    except staff_admin.LastAdmin as err:
        db.session.rollback()
        return _member_page(user_id, 409, partial, errors={"active": err.message})
    except DomainError as err:
        db.session.rollback()
        return _member_page(user_id, 422, partial, errors={"active": err.message})
    done = (
        _("The account has been enabled.") if wanted == "1" else _("The account has been disabled.")
    )
    return _after_change(user_id, done)


@bp.route("/staff/<int:user_id>/invite", methods=["POST"], endpoint="staff_invite")
def staff_invite(user_id: int):
    """A new invitation link (shown once); the previous link stops working."""
    partial = "ops/_staff_invitation.html"
    try:
        token, invitation = staff_admin.reissue_invitation(current_user, user_id)
    except StaffNotFound:
        db.session.rollback()
        abort(404)
    except DomainError as err:
        db.session.rollback()
        return _member_page(user_id, 422, partial, errors={"invite": err.message})
    db.session.commit()
    link = url_for("auth.invitation", token=token, _external=True)
    return _member_page(user_id, 200, partial, link=link, link_expires=invitation.expires_at)
