"""The promotion center's figures (推广中心): who a customer invited, what each earned them, the
totals; and entering an inviter's code after registering, refusing self-invites and cycles."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import ReferralRebate, User
from portal.models.base import utcnow
from portal.services.accounts import find_referrer
from portal.services.errors import ValidationFailed

PER_PAGE = 20
# How long after registering a customer may still enter the code of whoever invited them.
BIND_DAYS = 7


@dataclass(frozen=True)
class Totals:
    invitees: int
    earned_fen: int  # rebates less what refunds took back
    paying_invitees: int


@dataclass(frozen=True)
class InviteeRow:
    login: str  # masked: 138****8000, a***@example.com
    registered_at: datetime
    earned_fen: int


@dataclass(frozen=True)
class InviteesPage:
    rows: list[InviteeRow]
    page: int
    has_next: bool


def mask_login(login: str) -> str:
    """Enough of a login for the inviter to recognise a friend, not enough to contact them."""
    if "@" in login:
        name, _, domain = login.partition("@")
        return f"{name[:1]}***@{domain}"
    digits = login.removeprefix("+86")
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"


def totals(inviter: User) -> Totals:
    invitees = db.session.scalar(
        select(func.count()).select_from(User).where(User.referred_by_id == inviter.id)
    )
    earned, paying = db.session.execute(
        select(
            func.coalesce(func.sum(ReferralRebate.amount_fen - ReferralRebate.reversed_fen), 0),
            func.count(func.distinct(ReferralRebate.invitee_id)),
        ).where(ReferralRebate.inviter_id == inviter.id)
    ).one()
    return Totals(invitees, int(earned), paying)


def invitees(inviter: User, page: int) -> InviteesPage:
    """A page of the customer's invitees, newest first, with what each has earned them."""
    earned = (
        select(
            ReferralRebate.invitee_id,
            func.sum(ReferralRebate.amount_fen - ReferralRebate.reversed_fen).label("earned"),
        )
        .where(ReferralRebate.inviter_id == inviter.id)
        .group_by(ReferralRebate.invitee_id)
        .subquery()
    )
    rows = db.session.execute(
        select(User.phone, User.email, User.created_at, func.coalesce(earned.c.earned, 0))
        .outerjoin(earned, earned.c.invitee_id == User.id)
        .where(User.referred_by_id == inviter.id)
        .order_by(User.id.desc())
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE + 1)
    ).all()
    found = [
        InviteeRow(mask_login(phone or email or ""), created_at, int(amount))
        for phone, email, created_at, amount in rows[:PER_PAGE]
    ]
    return InviteesPage(found, page, len(rows) > PER_PAGE)


def can_bind(customer: User) -> bool:
    """Whether the customer may still enter an inviter's code (none yet, registered lately)."""
    return customer.referred_by_id is None and utcnow() < customer.created_at + timedelta(
        days=BIND_DAYS
    )


def bind_inviter(customer: User, invite_code: str) -> User:
    """Record who invited the customer; raises ValidationFailed on the invite_code field for
    an unknown or own code, a code of someone the customer invited (directly or not), or when
    the time to enter one has passed."""
    if not can_bind(customer):
        raise ValidationFailed(
            _l("An inviter can only be entered in the first %(days)s days.", days=BIND_DAYS),
            "invite_code",
        )
    if not (invite_code or "").strip():
        raise ValidationFailed(_l("Enter the invite code."), "invite_code")
    inviter = find_referrer(invite_code)
    if inviter.id == customer.id:
        raise ValidationFailed(_l("This is your own invite code."), "invite_code")
    # Lock both rows in id order: two customers entering each other's code at once queue here.
    db.session.execute(
        select(User.id)
        .where(User.id.in_((customer.id, inviter.id)))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if _invited_by(inviter.id, customer.id):
        raise ValidationFailed(
            _l("This code belongs to someone you invited; invites cannot go in a circle."),
            "invite_code",
        )
    result = db.session.execute(
        update(User)
        .where(User.id == customer.id, User.referred_by_id.is_(None))
        .values(referred_by_id=inviter.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(customer)
    if result.rowcount != 1:
        raise ValidationFailed(_l("You already have an inviter."), "invite_code")
    return inviter


def _invited_by(user_id: int, ancestor_id: int) -> bool:
    """Whether ancestor_id is somewhere up user_id's chain of inviters."""
    seen: set[int] = set()
    current: int | None = user_id
    while current is not None and current not in seen:
        if current == ancestor_id:
            return True
        seen.add(current)
        current = db.session.scalar(select(User.referred_by_id).where(User.id == current))
    return False
