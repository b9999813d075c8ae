"""The member discount and the coupon on an order: choosing the best coupon, and the bill's
discount lines, rewritten from its base freight line whenever the discounts are decided
(when the warehouse packs it, and again at payment, which is what counts)."""

from dataclasses import dataclass, replace
from decimal import Decimal

from portal.extensions import db
from portal.models import Coupon, Order, OrderChargeLine, User
from portal.services import coupons, memberships
from portal.services.pricing import discount_lines
from portal.services.pricing_types import LineCode, Quote, QuoteLine

DISCOUNT_CODES = (LineCode.MEMBER_DISCOUNT.value, LineCode.COUPON.value)


@dataclass(frozen=True)
class Choice:
    """One of the customer's coupons offered for an order: what it takes off, or why not."""

    coupon: Coupon
    discount_fen: int
    refusal: object = None


@dataclass(frozen=True)
class Payable:
    """What the customer pays for a packed order with these discounts."""

    gross_fen: int
    member_percent: Decimal
    lines: tuple[QuoteLine, ...]
    coupon: Coupon | None

    @property
    def discount_fen(self) -> int:
        return -sum(line.amount_fen for line in self.lines)

    @property
    def total_fen(self) -> int:
        return self.gross_fen - self.discount_fen


def eligible_fen(offer: Quote) -> int:
    """What a coupon may take off a quote: the base freight less the member discount."""
    return sum(
        line.amount_fen
        for line in offer.lines
        if line.code in (LineCode.BASE, LineCode.MEMBER_DISCOUNT)
    )


def coupon_discount(base_fen: int, member_percent: Decimal, coupon: Coupon) -> int:
    lines, _notices = discount_lines(base_fen, member_percent, coupons.as_priced(coupon))
    return -sum(line.amount_fen for line in lines if line.code == LineCode.COUPON)


def choices(
    customer: User, use: coupons.Use, base_fen: int, member_percent: Decimal
) -> list[Choice]:
    """The customer's live coupons for this use: usable ones first, largest discount first."""
    offered = [
        Choice(c, 0 if why else coupon_discount(base_fen, member_percent, c), why)
        for c, why in coupons.candidates(customer, use)
    ]
    return sorted(
        offered,
        key=lambda ch: (
            ch.refusal is not None,
            -ch.discount_fen,
            ch.coupon.holding_order_id != use.order_id,
            ch.coupon.valid_until,
        ),
    )


def best(offered: list[Choice]) -> Coupon | None:
    """The coupon to preselect: the one taking off the most (None when none is usable)."""
    usable = [ch for ch in offered if ch.refusal is None and ch.discount_fen > 0]
    return usable[0].coupon if usable else None


# ---- the bill ----------------------------------------------------------------------------------


def _bill_lines(order: Order) -> list[OrderChargeLine]:
    return order.charges("bill")


def bill_base_fen(order: Order) -> int:
    return sum(line.amount_fen for line in _bill_lines(order) if line.code == LineCode.BASE)


def bill_use(order: Order, member_percent: Decimal) -> coupons.Use:
    """Where a coupon would be used on this packed order."""
    base = bill_base_fen(order)
    member = -sum(
        line.amount_fen
        for line in discount_lines(base, member_percent, None)[0]
        if line.code == LineCode.MEMBER_DISCOUNT
    )
    return coupons.Use(
        customer_id=order.customer_id,
        channel_code=order.channel_code,
        country=order.ship_country,
        eligible_fen=base - member,
        order_id=order.id,
    )


def payable(order: Order, coupon: Coupon | None, member_percent: Decimal) -> Payable:
    """The bill with these discounts, computed without writing anything."""
    applied = sum(line.amount_fen for line in _bill_lines(order) if line.code in DISCOUNT_CODES)
    gross = (order.bill_fen or 0) - applied
    priced = coupons.as_priced(coupon) if coupon is not None else None
    lines, _notices = discount_lines(bill_base_fen(order), member_percent, priced)
    lines = _within(lines, gross)
    used = coupon if any(line.code == LineCode.COUPON for line in lines) else None
    return Payable(gross, member_percent, tuple(lines), used)


def _within(lines: list[QuoteLine], gross_fen: int) -> list[QuoteLine]:
    """The discount lines cut, the coupon first, so that they never take the bill below zero
    (a negative adjustment at packing may have left less than the base freight)."""
    excess = -sum(line.amount_fen for line in lines) - max(gross_fen, 0)
    kept = []
    for line in reversed(lines):
        cut = min(excess, -line.amount_fen) if excess > 0 else 0
        excess -= cut
        if line.amount_fen + cut:
            kept.append(replace(line, amount_fen=line.amount_fen + cut))
    return kept[::-1]


def write_bill_discounts(order: Order, bill: Payable) -> None:
    """Replace the bill's discount lines with these and set the bill's total."""
    kept = [line for line in _bill_lines(order) if line.code not in DISCOUNT_CODES]
    for line in _bill_lines(order):
        if line.code in DISCOUNT_CODES:
            order.charge_lines.remove(line)
    seq = max((line.seq for line in kept), default=0)
    for n, line in enumerate(bill.lines, 1):
        detail = (
            str(bill.coupon.id)
            if line.code == LineCode.COUPON and bill.coupon
            else f"{bill.member_percent}"
        )
        order.charge_lines.append(
            OrderChargeLine(
                stage="bill",
                seq=seq + n,
                code=line.code.value,
                amount_fen=line.amount_fen,
                detail=detail,
            )
        )
    order.bill_fen = bill.total_fen
    db.session.flush()


def discount_at_packing(order: Order) -> None:
    """Apply the membership running now and the coupon the order holds, if it still fits."""
    percent = memberships.member_percent(order.customer_id)
    coupon = coupons.held_by(order)
    if coupon is not None and coupons.refusal(coupon, bill_use(order, percent)) is not None:
        coupon = None
    write_bill_discounts(order, payable(order, coupon, percent))
