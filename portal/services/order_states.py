"""The order state machine: one transition table, compare-and-set on the status, one audit row per
change (DESIGN.md, "State machines")."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from portal.extensions import db
from portal.models import Order, OrderEvent, utcnow
from portal.services.errors import DomainError

CUSTOMER = "customer"
STAFF = "staff"

# (from, to) -> who may make the change. Any pair not listed is refused.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("pending_pack", "awaiting_payment"): frozenset({STAFF}),
    ("awaiting_payment", "paid"): frozenset({CUSTOMER}),
    ("paid", "shipped"): frozenset({STAFF}),
    ("shipped", "delivered"): frozenset({STAFF}),
    ("pending_pack", "cancelled"): frozenset({CUSTOMER, STAFF}),
    ("awaiting_payment", "cancelled"): frozenset({CUSTOMER, STAFF}),
    ("paid", "cancelled"): frozenset({STAFF}),
}


class TransitionRefused(DomainError):
    """The change is not in the table for this actor, or the order has moved on meanwhile."""


def allowed(from_status: str, to_status: str, role: str) -> bool:
    return role in TRANSITIONS.get((from_status, to_status), frozenset())


def transition(
    order: Order, to_status: str, actor_id: int | None, role: str, reason: str = ""
) -> None:
    """Move an order from the status it was read with to `to_status`, or raise TransitionRefused.

    The UPDATE only matches while the row still has the status we read, so of two racing
    changes exactly one wins; the loser gets a message and writes nothing.
    """
    from_status = order.status
    if not allowed(from_status, to_status, role):
        raise TransitionRefused(_l("This order cannot be changed that way in its current state."))
    now = utcnow()
    result = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == from_status)
        .values(status=to_status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(order)
        raise TransitionRefused(
            _l("This order has just been changed by someone else; please look at it again.")
        )
    db.session.add(
        OrderEvent(
            order_id=order.id,
            actor_id=actor_id,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            created_at=now,
        )
    )
    db.session.flush()
    db.session.refresh(order)
