"""Paid membership (开通会员): buying or renewing a tier from the balance, the discount it gives,
its monthly coupons and the reminder before it ends.

Buying posts the ledger payment first; the customer's balance account row is locked by that
posting, so two purchases of one customer are serialised and each period starts where the
latest one ends. The attempt key makes a resubmitted form find the period it bought.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.i18n import format_fen
from portal.models import Coupon, CouponTemplate, Membership, MembershipTier, User, utcnow
from portal.services import coupons, ledger, notifications
from portal.services.errors import DomainError, ShortOfMoney
from portal.services.ledger import IdempotencyConflict, InsufficientFunds, Line
from portal.services.rate_cards import BUSINESS_ZONE

REMIND_DAYS = 7
MONTH_DAYS = 30
_Ending = aliased(Membership)


class TierNotOffered(DomainError):
    """The tier does not exist or is no longer sold."""


@dataclass(frozen=True)
class Bought:
    membership: Membership
    balance_fen: int


def offered_tiers() -> list[MembershipTier]:
    return list(
        db.session.scalars(
            select(MembershipTier)
            .where(MembershipTier.is_active.is_(True))
            .order_by(MembershipTier.sort, MembershipTier.price_fen, MembershipTier.id)
        )
    )


def active(customer_id: int, at: datetime | None = None) -> Membership | None:
    """The running period with the largest discount at this moment, if any."""
    at = at or utcnow()
    return db.session.scalar(
        select(Membership)
        .where(
            Membership.customer_id == customer_id,
            Membership.starts_at <= at,
            Membership.ends_at > at,
        )
        .order_by(Membership.discount_percent.desc(), Membership.ends_at.desc())
        .limit(1)
    )


def member_percent(customer_id: int, at: datetime | None = None) -> Decimal:
    """The freight discount the customer's membership gives now (0 without one)."""
    running = active(customer_id, at)
    return running.discount_percent if running else Decimal(0)


def ends_at(customer_id: int, tier_id: int) -> datetime | None:
    """When the customer's periods of this tier end (the latest end date), if they have any."""
    return db.session.scalar(
        select(func.max(Membership.ends_at)).where(
            Membership.customer_id == customer_id, Membership.tier_id == tier_id
        )
    )


def buy(customer: User, tier_id: int, attempt_key: str) -> Bought:
    """Pay for one period of the tier from the balance (立即开通 / 续费).

    A renewal starts where the customer's latest period of the same tier ends; another tier
    starts now. Raises TierNotOffered, ShortOfMoney or IdempotencyConflict; then nothing moved.
    """
    key = f"membership:{customer.id}:{attempt_key}"
    posted_before = ledger.find_transaction(key)
    if posted_before is not None:
        return _bought_by(posted_before.id, customer, key)
    tier = db.session.get(MembershipTier, tier_id) if 0 < tier_id < 2**31 else None
    if tier is None or not tier.is_active:
        raise TierNotOffered(_l("This membership is not offered."), "tier")
    try:
        posted = ledger.post(
            "membership",
            [
                Line(ledger.customer_balance(customer), -tier.price_fen),
                Line(ledger.account("platform_revenue"), tier.price_fen),
            ],
            key,
            actor_id=customer.id,
            memo=tier.name_zh,
        )
    except InsufficientFunds:
        shortfall = tier.price_fen - ledger.balance_fen(customer)
        raise ShortOfMoney(
            _l("Your balance is short by ¥%(amount)s.", amount=format_fen(shortfall)), shortfall
        ) from None
    existing = db.session.scalar(select(Membership).where(Membership.transaction_id == posted.id))
    if existing is not None:  # the same press of the button, a moment ago
        return Bought(existing, ledger.balance_fen(customer))
    now = utcnow()
    start = max(now, ends_at(customer.id, tier.id) or now)
    membership = Membership(
        customer_id=customer.id,
        tier_id=tier.id,
        starts_at=start,
        ends_at=start + timedelta(days=tier.duration_days),
        price_fen=tier.price_fen,
        discount_percent=tier.discount_percent,
        coupon_template_id=tier.coupon_template_id,
        monthly_coupons=tier.monthly_coupons,
        transaction_id=posted.id,
    )
    db.session.add(membership)
    db.session.flush()
    if start <= now:
        _issue_month(membership, 1)
    return Bought(membership, ledger.balance_fen(customer))


def _bought_by(transaction_id: int, customer: User, key: str) -> Bought:
    membership = db.session.scalar(
        select(Membership).where(Membership.transaction_id == transaction_id)
    )
    if membership is None or membership.customer_id != customer.id:
        raise IdempotencyConflict(_l("This request was already used for something else."))
    return Bought(membership, ledger.balance_fen(customer))


# ---- the daily job: monthly coupons and reminders ----------------------------------------------


def _issue_month(membership: Membership, month_no: int) -> int:
    """Issue the tier's coupons for one month of the period; numbered, so each is issued once."""
    per_month = membership.monthly_coupons
    if not per_month or membership.coupon_template_id is None:
        return 0
    template = db.session.get(CouponTemplate, membership.coupon_template_id)
    customer = db.session.get(User, membership.customer_id)
    first = (month_no - 1) * per_month + 1
    granted = set(
        db.session.scalars(
            select(Coupon.grant_no).where(
                Coupon.membership_id == membership.id,
                Coupon.grant_no.between(first, first + per_month - 1),
            )
        )
    )
    issued = 0
    for grant_no in range(first, first + per_month):
        if grant_no in granted:
            continue
        try:
            coupons.issue(
                template, customer, "membership", membership_id=membership.id, grant_no=grant_no
            )
        except coupons.CouponRefused:
            continue  # the offer ended, or another run issued this one a moment ago
        issued += 1
    return issued


def run_daily(now: datetime | None = None) -> tuple[int, int]:
    """Issue the monthly coupons due and remind customers whose membership ends within 7 days.

    Safe to run as often as one likes (a cron job, `flask memberships daily`): each coupon and
    each reminder is given once. Returns (coupons issued, reminders sent).
    """
    now = now or utcnow()
    issued = 0
    running = db.session.scalars(
        select(Membership)
        .where(
            Membership.starts_at <= now,
            Membership.ends_at > now,
            Membership.monthly_coupons > 0,
        )
        .order_by(Membership.id)
    ).all()
    for membership in running:
        month_no = (now - membership.starts_at).days // MONTH_DAYS + 1
        months_paid = max(1, (membership.ends_at - membership.starts_at).days // MONTH_DAYS)
        if month_no <= months_paid:
            issued += _issue_month(membership, month_no)
    return issued, _remind(now)


def _remind(now: datetime) -> int:
    """One message per period ending within REMIND_DAYS that no later period follows."""
    later = select(Membership.id).where(
        Membership.customer_id == _Ending.customer_id, Membership.ends_at > _Ending.ends_at
    )
    ending = db.session.scalars(
        select(_Ending)
        .where(
            _Ending.ends_at > now,
            _Ending.ends_at <= now + timedelta(days=REMIND_DAYS),
            _Ending.reminded_at.is_(None),
            ~later.exists(),
        )
        .order_by(_Ending.id)
    ).all()
    sent = 0
    for membership in ending:
        claimed = db.session.execute(
            update(Membership)
            .where(Membership.id == membership.id, Membership.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue
        notifications.notify(
            membership.customer_id,
            notifications.MEMBERSHIP_EXPIRING,
            "/member/",
            name_zh=membership.tier.name_zh,
            name_en=membership.tier.name_en,
            day=f"{membership.ends_at.astimezone(BUSINESS_ZONE):%Y-%m-%d}",
        )
        sent += 1
    return sent
