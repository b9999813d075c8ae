"""Issuing coupons to customers and checking whether one can be used for an order.

A coupon is held by one live order at a time (a conditional UPDATE, with a partial UNIQUE index on
`holding_order_id` behind it), released when that order is cancelled and used when it is paid;
staff cancelling a paid order give it back.
The per-customer limit is a UNIQUE (template, customer, seq) and the total limit a conditional
UPDATE of the template's `issued_count`, so both hold when two requests issue at once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.i18n import format_fen
from portal.models import Coupon, CouponTemplate, Order, User, utcnow
from portal.services import notifications
from portal.services.errors import ValidationFailed
from portal.services.pricing_types import Coupon as PricedCoupon
from portal.services.rate_cards import BUSINESS_ZONE

FIELD = "coupon"


class CouponRefused(ValidationFailed):
    """A coupon cannot be issued or used; the message says why, in words."""

    def __init__(self, message):
        super().__init__(message, FIELD)


# ---- issuing -----------------------------------------------------------------------------------


def issue(
    template: CouponTemplate,
    customer: User,
    source: str,
    *,
    issued_by: User | None = None,
    membership_id: int | None = None,
    grant_no: int | None = None,
) -> Coupon:
    """Give the customer one coupon of the template; raises CouponRefused (ended, exhausted,
    limit reached). A membership's monthly coupon ignores the limits and a template switched off
    since: the tier promised it."""
    now = utcnow()
    limited = source != "membership"
    if limited and not template.is_active:
        raise CouponRefused(_l("This coupon is no longer offered."))
    valid_from, valid_until = _period(template, now)
    if valid_until <= max(now, valid_from):
        raise CouponRefused(_l("This coupon offer has ended."))
    held, limited_held = count_held(template, customer)
    if limited and limited_held >= template.per_customer_limit:
        raise CouponRefused(_l("You already have as many of this coupon as one customer may."))
    coupon = Coupon(
        template_id=template.id,
        customer_id=customer.id,
        seq=held + 1,
        source=source,
        valid_from=valid_from,
        valid_until=valid_until,
        issued_by_id=issued_by.id if issued_by else None,
        membership_id=membership_id,
        grant_no=grant_no,
    )
    try:
        with db.session.begin_nested():
            if not _count_issue(template, limited):
                raise CouponRefused(_l("All of these coupons have been given out."))
            db.session.add(coupon)
    except IntegrityError:
        # Another request issued the same n-th coupon a moment ago.
        raise CouponRefused(
            _l("You already have as many of this coupon as one customer may.")
        ) from None
    db.session.refresh(template, ["issued_count"])
    notifications.notify(
        customer.id,
        notifications.COUPON_ISSUED,
        "/coupons/",
        name_zh=template.name_zh,
        name_en=template.name_en,
    )
    return coupon


def _period(template: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    if template.valid_days is not None:
        return now, now + timedelta(days=template.valid_days)
    return template.valid_from or now, template.valid_until


def count_held(template: CouponTemplate, customer: User) -> tuple[int, int]:
    """The customer's coupons of this template: all of them, and those the per-customer limit
    counts (a membership's monthly coupons do not)."""
    rows = dict(
        db.session.execute(
            select(Coupon.source, func.count())
            .where(Coupon.template_id == template.id, Coupon.customer_id == customer.id)
            .group_by(Coupon.source)
        ).all()
    )
    limited = sum(n for source, n in rows.items() if source != "membership")
    return sum(rows.values()), limited


def _count_issue(template: CouponTemplate, limited: bool) -> bool:
    """Count one more coupon toward the total limit, unless it is reached (a conditional UPDATE).
    A membership's monthly coupon does not count: it was promised when the tier was bought."""
    if not limited:
        return True
    result = db.session.execute(
        update(CouponTemplate)
        .where(
            CouponTemplate.id == template.id,
            or_(
                CouponTemplate.total_limit.is_(None),
                CouponTemplate.issued_count < CouponTemplate.total_limit,
            ),
        )
        .values(issued_count=CouponTemplate.issued_count + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claimable_templates(customer: User) -> list[tuple[CouponTemplate, bool]]:
    """The coupons on the claim page, each with whether this customer may still claim one."""
    now = utcnow()
    templates = db.session.scalars(
        select(CouponTemplate)
        .where(
            CouponTemplate.claimable.is_(True),
            CouponTemplate.is_active.is_(True),
            or_(CouponTemplate.valid_until.is_(None), CouponTemplate.valid_until > now),
        )
        .order_by(CouponTemplate.id)
    ).all()
    held = dict(
        db.session.execute(
            select(Coupon.template_id, func.count())
            .where(Coupon.customer_id == customer.id)
            .group_by(Coupon.template_id)
        ).all()
    )
    return [(t, held.get(t.id, 0) < t.per_customer_limit and not _exhausted(t)) for t in templates]


def _exhausted(template: CouponTemplate) -> bool:
    return template.total_limit is not None and template.issued_count >= template.total_limit


def claim(customer: User, template_id: int) -> Coupon:
    """The customer takes a coupon offered on the claim page."""
    template = db.session.get(CouponTemplate, template_id) if template_id > 0 else None
    if template is None or not template.claimable:
        raise CouponRefused(_l("This coupon is not offered."))
    return issue(template, customer, "claim")


def redeem(customer: User, code: str) -> Coupon:
    """The customer enters a coupon code (from a leaflet, a chat group, a partner)."""
    code = code.strip().upper()
    if not code:
        raise CouponRefused(_l("Enter a coupon code."))
    template = db.session.scalar(select(CouponTemplate).where(CouponTemplate.redeem_code == code))
    if template is None:
        raise CouponRefused(_l("No coupon has this code; check it and try again."))
    return issue(template, customer, "code")


def welcome(customer: User) -> list[Coupon]:
    """The coupons every new customer gets at registration (an ended offer is skipped)."""
    templates = db.session.scalars(
        select(CouponTemplate)
        .where(CouponTemplate.for_new_customers.is_(True), CouponTemplate.is_active.is_(True))
        .order_by(CouponTemplate.id)
    )
    given = []
    for template in templates:
        try:
            given.append(issue(template, customer, "new_customer"))
        except CouponRefused:
            continue
    return given


# ---- the customer's coupons --------------------------------------------------------------------


@dataclass(frozen=True)
class Wallet:
    usable: list[Coupon]
    used: list[Coupon]
    expired: list[Coupon]


def wallet(customer: User) -> Wallet:
    """The customer's coupons: usable (soonest to expire first), used, and expired unused."""
    now = utcnow()
    coupons = db.session.scalars(
        select(Coupon)
        .where(Coupon.customer_id == customer.id)
        .order_by(Coupon.valid_until, Coupon.id)
    ).all()
    used = [c for c in coupons if c.used_order_id is not None]
    unused = [c for c in coupons if c.used_order_id is None]
    return Wallet(
        usable=[c for c in unused if c.valid_until > now],
        used=sorted(used, key=lambda c: c.used_at or now, reverse=True),
        expired=[c for c in unused if c.valid_until <= now],
    )


def as_priced(coupon: Coupon) -> PricedCoupon:
    """The coupon as the pricing service reads it."""
    t = coupon.template
    return PricedCoupon(
        code=str(coupon.id),
        kind=t.kind,
        value_fen=t.value_fen,
        percent=t.percent,
        threshold_fen=t.threshold_fen,
        cap_fen=t.cap_fen,
    )


@dataclass(frozen=True)
class Use:
    """Where a coupon would be used: the customer, the channel, the country, the freight it
    reduces (the base freight less the member discount) and the order it may already hold."""

    customer_id: int
    channel_code: str
    country: str
    eligible_fen: int
    order_id: int | None = None


def refusal(coupon: Coupon, use: Use):
    """Why the coupon cannot be used here (a message in words), or None when it can."""
    now = utcnow()
    template = coupon.template
    if coupon.customer_id != use.customer_id:
        return _l("This coupon is not yours.")
    if coupon.used_order_id is not None:
        return _l("This coupon has already been used.")
    if coupon.holding_order_id is not None and coupon.holding_order_id != use.order_id:
        return _l("Another of your orders holds this coupon; cancel that order to use it here.")
    if now < coupon.valid_from:
        return _l("This coupon can be used from %(day)s.", day=_day(coupon.valid_from))
    if now >= coupon.valid_until:
        return _l("This coupon expired on %(day)s.", day=_day(coupon.valid_until))
    if template.channel_list and use.channel_code not in template.channel_list:
        return _l("This coupon cannot be used with this shipping channel.")
    if template.country_list and use.country not in template.country_list:
        return _l("This coupon cannot be used for this destination.")
    if use.eligible_fen < template.threshold_fen or use.eligible_fen <= 0:
        return _l(
            "This coupon needs at least ¥%(amount)s of freight.",
            amount=format_fen(template.threshold_fen),
        )
    return None


def _day(moment: datetime) -> str:
    return f"{moment.astimezone(BUSINESS_ZONE):%Y-%m-%d}"


def find(customer: User, coupon_id: int) -> Coupon:
    """The customer's coupon with this id; raises CouponRefused for any other."""
    coupon = db.session.get(Coupon, coupon_id) if 0 < coupon_id < 2**31 else None
    if coupon is None or coupon.customer_id != customer.id:
        raise CouponRefused(_l("This coupon is not yours."))
    return coupon


def checked(customer: User, coupon_id: int, use: Use) -> Coupon:
    """The customer's coupon when it can be used here; raises CouponRefused saying why not."""
    coupon = find(customer, coupon_id)
    reason = refusal(coupon, use)
    if reason is not None:
        raise CouponRefused(reason)
    return coupon


def candidates(customer: User, use: Use) -> list[tuple[Coupon, object]]:
    """The customer's unused, unexpired coupons, each with why it cannot be used here (or None)."""
    return [(c, refusal(c, use)) for c in wallet(customer).usable]


# ---- holding, releasing, using -----------------------------------------------------------------


def hold(coupon: Coupon, order: Order) -> None:
    """The order takes the coupon; raises CouponRefused when another order took it first."""
    try:
        with db.session.begin_nested():
            result = db.session.execute(
                update(Coupon)
                .where(
                    Coupon.id == coupon.id,
                    Coupon.customer_id == order.customer_id,
                    Coupon.used_order_id.is_(None),
                    or_(Coupon.holding_order_id.is_(None), Coupon.holding_order_id == order.id),
                )
                .values(holding_order_id=order.id)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise CouponRefused(_l("This coupon has just been used for another order."))
    except IntegrityError:
        raise CouponRefused(_l("This order already holds another coupon.")) from None
    db.session.expire(coupon)


def held_by(order: Order) -> Coupon | None:
    return db.session.scalar(select(Coupon).where(Coupon.holding_order_id == order.id))


def used_by(order: Order) -> Coupon | None:
    return db.session.scalar(select(Coupon).where(Coupon.used_order_id == order.id))


def release(order: Order) -> None:
    """A cancelled (or re-chosen) order lets go of its coupon; a used one stays used (see
    give_back)."""
    db.session.execute(
        update(Coupon)
        .where(Coupon.holding_order_id == order.id, Coupon.used_order_id.is_(None))
        .values(holding_order_id=None)
        .execution_options(synchronize_session=False)
    )


def give_back(order: Order) -> None:
    """A paid order cancelled (and refunded) by staff gives its coupon back to the customer,
    usable again until it expires."""
    db.session.execute(
        update(Coupon)
        .where(Coupon.used_order_id == order.id)
        .values(used_order_id=None, used_at=None, used_fen=None)
        .execution_options(synchronize_session=False)
    )


def use(coupon: Coupon, order: Order, amount_fen: int) -> None:
    """The paid order consumes the coupon; raises CouponRefused when another order used it."""
    result = db.session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon.id,
            Coupon.customer_id == order.customer_id,
            Coupon.used_order_id.is_(None),
            or_(Coupon.holding_order_id.is_(None), Coupon.holding_order_id == order.id),
        )
        .values(
            used_order_id=order.id, used_at=utcnow(), used_fen=amount_fen, holding_order_id=None
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise CouponRefused(_l("This coupon has just been used for another order."))
    db.session.expire(coupon)
