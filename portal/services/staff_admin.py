"""Staff accounts set up by an admin: invitations, roles, disabling; one admin always remains."""

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import STAFF_ROLES, StaffInvitation, User, UserRole, utcnow
from portal.services import accounts, audit
from portal.services.errors import DomainError, ValidationFailed
from portal.services.identifiers import parse_identifier
from portal.services.passwords import check_password_policy, hash_password

INVITATION_LIFETIME = timedelta(hours=72)
TOKEN_BYTES = 32
# What secrets.token_urlsafe(32) produces; anything else is not looked up.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


class StaffNotFound(DomainError):
    """No staff member with this id (customers are not managed here)."""


class LastAdmin(DomainError):
    """The change would leave no active admin; nothing was changed."""


class InvitationNotFound(DomainError):
    """No invitation has this token."""


class InvitationGone(DomainError):
    """The invitation was used, replaced by a newer one or has expired."""


@dataclass(frozen=True)
class StaffRow:
    user: User
    roles: list[str]
    pending_until: datetime | None


@dataclass(frozen=True)
class Invited:
    """The new staff account and its invitation link's token (shown once)."""

    user: User
    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _pending(user_ids: Iterable[int]) -> dict[int, datetime]:
    """The expiry of each user's usable invitation, if any."""
    rows = db.session.execute(
        select(StaffInvitation.user_id, func.max(StaffInvitation.expires_at))
        .where(
            StaffInvitation.user_id.in_(list(user_ids)),
            StaffInvitation.used_at.is_(None),
            StaffInvitation.expires_at > utcnow(),
        )
        .group_by(StaffInvitation.user_id)
    )
    return dict(rows.all())


def staff_list() -> list[StaffRow]:
    """Every account holding a staff role, oldest first, with its pending invitation."""
    users = list(
        db.session.scalars(
            select(User).where(User.id.in_(select(UserRole.user_id))).order_by(User.id)
        )
    )
    pending = _pending(u.id for u in users)
    return [StaffRow(u, sorted(u.role_names), pending.get(u.id)) for u in users]


def get_staff(user_id: int) -> User:
    """A staff member by id; raises StaffNotFound for a customer or an unknown id."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        raise StaffNotFound(_l("No such staff member."))
    return user


def pending_until(user: User) -> datetime | None:
    return _pending([user.id]).get(user.id)


def check_roles(roles: Iterable[str]) -> list[str]:
    """At least one known role, sorted; raises ValidationFailed on the roles field."""
    chosen = set(roles)
    if not chosen:
        raise ValidationFailed(
            _l("Choose at least one role. To remove someone, disable the account."), "roles"
        )
    if chosen - set(STAFF_ROLES):
        raise ValidationFailed(_l("Unknown staff role."), "roles")
    return sorted(chosen)


def _active_admins_after_lock() -> set[int]:
    """Lock the admin role rows, then read which admins can log in (not disabled, a password
    set: an admin still invited cannot save the portal if their link expires).

    PostgreSQL: two admins changing each other at the same moment queue on these row locks, and
    the second reads (in a new statement, so a new snapshot) what the first committed. SQLite
    runs write transactions one at a time (BEGIN IMMEDIATE), so the lock is not needed there.
    """
    db.session.execute(
        select(UserRole.user_id)
        .where(UserRole.role == "admin")
        .order_by(UserRole.user_id)
        .with_for_update()
    )
    return set(
        db.session.scalars(
            select(UserRole.user_id)
            .join(User, User.id == UserRole.user_id)
            .where(UserRole.role == "admin", *accounts.CAN_LOG_IN)
        )
    )


def _lock_for_change(user: User) -> set[int]:
    """Lock the admin rows, then reload the user's roles and state as committed meanwhile."""
    admins = _active_admins_after_lock()
    db.session.refresh(user, ["roles", "is_disabled"])
    return admins


def _refuse_if_last_admin(user: User, admins: set[int], field: str) -> None:
    if user.id in admins and not admins - {user.id}:
        raise LastAdmin(
            _l("This is the last active admin. Make someone else an admin first."), field
        )


def _new_invitation(actor: User, user: User) -> tuple[str, StaffInvitation]:
    """A fresh link for the user; every earlier unused link stops working."""
    now = utcnow()
    db.session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.user_id == user.id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = StaffInvitation(
        user_id=user.id,
        token_hash=token_hash(token),
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    db.session.add(invitation)
    db.session.flush()
    return token, invitation


def invite_staff(actor: User, identifier: str, roles: Iterable[str]) -> Invited:
    """Create a staff account without a password and an invitation link valid 72 hours;
    audited.

    A login that has an account already is refused: nobody has shown that account is the
    colleague's (mobile numbers and emails are not verified), and giving it roles would let
    whoever registered it into the staff console. Raises ValidationFailed (identifier, roles).
    """
    chosen = check_roles(roles)
    ident = parse_identifier(identifier)
    if accounts.find_user(ident) is not None:
        raise ValidationFailed(
            _l(
                "This login already has an account. Invite the staff member with a mobile "
                "number or email of their own that has no account yet."
            ),
            "identifier",
        )
    user = accounts.create_invited_staff(ident, chosen)
    token, invitation = _new_invitation(actor, user)
    audit.record(
        actor, "staff.invite", "user", user.id, None, {"login": user.login_name, "roles": chosen}
    )
    return Invited(user, token, invitation.expires_at)


def reissue_invitation(actor: User, user_id: int) -> tuple[str, StaffInvitation]:
    """A new link for a staff member who has no password yet; the old link stops working.

    Raises StaffNotFound, or ValidationFailed when the account already has a password.
    """
    user = get_staff(user_id)
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    db.session.refresh(user, ["password_hash"])
    if user.password_hash is not None:
        raise ValidationFailed(
            _l("This staff member has set a password already; they log in with it."), "invite"
        )
    token, invitation = _new_invitation(actor, user)
    audit.record(actor, "staff.reinvite", "user", user.id, None, {"login": user.login_name})
    return token, invitation


def change_roles(actor: User, user_id: int, roles: Iterable[str]) -> User:
    """Replace a staff member's roles (at least one); audited.

    Raises StaffNotFound, ValidationFailed (roles) or LastAdmin when the last active admin would
    lose the admin role.
    """
    user = get_staff(user_id)
    chosen = check_roles(roles)
    admins = _lock_for_change(user)
    before = sorted(user.role_names)
    if "admin" not in chosen:
        _refuse_if_last_admin(user, admins, "roles")
    if before == chosen:
        return user
    for row in [r for r in user.roles if r.role not in chosen]:
        user.roles.remove(row)
    for role in sorted(set(chosen) - user.role_names):
        user.roles.append(UserRole(role=role))
    db.session.flush()
    audit.record(actor, "staff.roles", "user", user.id, {"roles": before}, {"roles": chosen})
    return user


def set_active(actor: User, user_id: int, active: bool) -> User:
    """Enable or disable a staff account (disabling ends all its sessions); audited.

    Raises StaffNotFound, ValidationFailed (one's own account) or LastAdmin.
    """
    user = get_staff(user_id)
    if not active and actor.id == user.id:
        raise ValidationFailed(_l("You cannot disable your own account."), "active")
    admins = _lock_for_change(user)
    if not active:
        _refuse_if_last_admin(user, admins, "active")
    if user.is_disabled == (not active):
        return user
    accounts.set_disabled(actor, user, not active)
    audit.record(
        actor,
        "staff.enable" if active else "staff.disable",
        "user",
        user.id,
        {"is_disabled": active},
        {"is_disabled": not active},
    )
    return user


def find_invitation(token: str) -> StaffInvitation:
    """The usable invitation of a token; raises InvitationNotFound or InvitationGone."""
    found = None
    if TOKEN_SHAPE.fullmatch(token or ""):
        found = db.session.scalar(
            select(StaffInvitation).where(StaffInvitation.token_hash == token_hash(token))
        )
    if found is None:
        raise InvitationNotFound(_l("This invitation link is not valid."))
    if found.used_at is not None or found.expires_at <= utcnow() or found.user.is_disabled:
        raise InvitationGone(
            _l("This invitation link has been used or has expired. Ask an admin for a new one.")
        )
    return found


def accept_invitation(token: str, password: str) -> User:
    """Set the invited staff member's password and use up the link; audited.

    Raises InvitationNotFound, InvitationGone (also when a parallel request used it first) or
    ValidationFailed (password policy).
    """
    invitation = find_invitation(token)
    check_password_policy(password)
    used = db.session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.id == invitation.id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise InvitationGone(
            _l("This invitation link has been used or has expired. Ask an admin for a new one.")
        )
    user = invitation.user
    user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.flush()
    audit.record(user, "staff.invitation_accept", "user", user.id)
    return user
