"""The in-site message centre: other services write messages here; customers read them."""

from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import Notification, User, utcnow

ORDER_PLACED = "order_placed"
ORDER_CANCELLED = "order_cancelled"
PARCEL_RECEIVED = "parcel_received"
CLAIM_APPROVED = "claim_approved"
CLAIM_REJECTED = "claim_rejected"
ORDER_PACKED = "order_packed"
ORDER_SHIPPED = "order_shipped"
ORDER_DELIVERED = "order_delivered"
ORDER_PAID = "order_paid"
RECHARGE_APPROVED = "recharge_approved"
RECHARGE_REJECTED = "recharge_rejected"
RECHARGE_PAID = "recharge_paid"
ORDER_REFUNDED = "order_refunded"
BALANCE_ADJUSTED = "balance_adjusted"
ORDER_PAID_STAFF = "order_paid_staff"
REBATE_EARNED = "rebate_earned"
COUPON_ISSUED = "coupon_issued"
MEMBERSHIP_EXPIRING = "membership_expiring"
KINDS = (
    ORDER_PLACED,
    ORDER_CANCELLED,
    PARCEL_RECEIVED,
    CLAIM_APPROVED,
    CLAIM_REJECTED,
    ORDER_PACKED,
    ORDER_SHIPPED,
    ORDER_DELIVERED,
    ORDER_PAID,
    RECHARGE_APPROVED,
    RECHARGE_REJECTED,
    RECHARGE_PAID,
    ORDER_REFUNDED,
    BALANCE_ADJUSTED,
    ORDER_PAID_STAFF,
    REBATE_EARNED,
    COUPON_ISSUED,
    MEMBERSHIP_EXPIRING,
)


def notify(user_id: int, kind: str, link: str = "", **params: str | int) -> Notification:
    """Leave a message for a user; it is worded in the reader's language when shown."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    message = Notification(user_id=user_id, kind=kind, params=params, link=link)
    db.session.add(message)
    db.session.flush()
    return message


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )


def messages_page(user: User, page: int, per_page: int = 20) -> tuple[list[Notification], bool]:
    """One page of a user's messages, newest first, and whether there is a next page."""
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    ).all()
    return list(rows[:per_page]), len(rows) > per_page


def mark_read(user: User, message_id: int) -> Notification | None:
    """Mark one of the user's messages read; None when it is not theirs."""
    message = db.session.get(Notification, message_id)
    if message is None or message.user_id != user.id:
        return None
    if message.read_at is None:
        message.read_at = utcnow()
        db.session.flush()
    return message


def mark_all_read(user: User) -> int:
    """Mark every unread message of the user read; returns how many were."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount
