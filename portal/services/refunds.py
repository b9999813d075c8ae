"""Refunds to the wallet: part of a paid bill (a weight correction, say), or everything still
unrefunded when staff cancel a paid order. Refunds never exceed what was paid: a conditional
UPDATE on the order's `refunded_fen` decides, and a CHECK constraint stands behind it."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal.extensions import db
from portal.i18n import format_fen
from portal.models import LedgerEntry, LedgerTransaction, Order, User
from portal.services import audit, coupons, ledger, notifications, rebates
from portal.services.errors import DomainError, ValidationFailed
from portal.services.ledger import IdempotencyConflict, Line
from portal.services.order_states import STAFF, TransitionRefused, transition
from portal.services.orders import release_parcels
from portal.services.text import clean_line

MAX_REASON = 200


class NotRefundable(DomainError):
    """The order was never paid, so there is nothing to refund."""


class OwnOrder(DomainError):
    """Staff may not refund an order of their own account (separation of duties)."""


class RefundTooLarge(DomainError):
    """The amount is more than what is left to refund on the order."""


@dataclass(frozen=True)
class RefundRow:
    """One refund of an order, as its pages list it."""

    amount_fen: int
    reason: str
    created_at: datetime


def refundable_fen(order: Order) -> int:
    """What can still be refunded: the payment less the refunds so far (0 if never paid)."""
    return 0 if order.paid_fen is None else order.paid_fen - order.refunded_fen


def check_refundable(order: Order) -> int:
    """What can still be refunded on the order; raises NotRefundable when that is nothing."""
    if order.paid_fen is None:
        raise NotRefundable(_l("This order has not been paid, so there is nothing to refund."))
    remaining = refundable_fen(order)
    if remaining <= 0:
        raise NotRefundable(_l("Everything paid for this order has been refunded."))
    return remaining


def order_refunds(order: Order) -> list[RefundRow]:
    """The refunds of an order, oldest first."""
    rows = db.session.execute(
        select(LedgerEntry.amount_fen, LedgerTransaction.memo, LedgerTransaction.created_at)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerTransaction.order_id == order.id,
            LedgerTransaction.kind == "refund",
            LedgerEntry.amount_fen > 0,
        )
        .order_by(LedgerTransaction.id)
    )
    return [RefundRow(amount, memo, created_at) for amount, memo, created_at in rows]


def _not_own(actor: User, order: Order) -> None:
    if order.customer_id == actor.id:
        raise OwnOrder(_l("You cannot refund your own order; ask a colleague."))


def _reason(reason: str | None) -> str:
    return clean_line(reason, "reason", MAX_REASON, _l("Say why the money is refunded."))


def _refunded_amount(posted: LedgerTransaction) -> int:
    return sum(entry.amount_fen for entry in posted.entries if entry.amount_fen > 0)


def _post_refund(
    actor: User, order: Order, amount_fen: int, reason: str, key: str
) -> tuple[LedgerTransaction, bool]:
    """Raise refunded_fen, credit the balance and take back the inviter's share of the rebate;
    returns the posting and whether it is new."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValidationFailed(_l("Enter an amount above 0."), "amount")
    idempotency_key = f"refund:{key}"
    # Lock the order row first (PostgreSQL; SQLite writers queue anyway): a request racing
    # with the same key has committed by the time we get the lock, and is found just below.
    db.session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    posted = ledger.find_transaction(idempotency_key)
    if posted is not None:
        if (
            posted.kind != "refund"
            or posted.order_id != order.id
            or _refunded_amount(posted) != amount_fen
        ):
            raise IdempotencyConflict(_l("This request was already used for something else."))
        return posted, False
    result = db.session.execute(
        update(Order)
        .where(
            Order.id == order.id,
            Order.paid_fen.is_not(None),
            Order.refunded_fen + amount_fen <= Order.paid_fen,
        )
        .values(refunded_fen=Order.refunded_fen + amount_fen)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(order)
    if result.rowcount != 1:
        if order.paid_fen is None:
            raise NotRefundable(_l("This order has not been paid, so there is nothing to refund."))
        raise RefundTooLarge(
            _l(
                "At most ¥%(amount)s can still be refunded on this order.",
                amount=format_fen(refundable_fen(order)),
            ),
            "amount",
        )
    customer = db.session.get(User, order.customer_id)
    posted = ledger.post(
        "refund",
        [
            Line(ledger.account("platform_refunds"), -amount_fen),
            Line(ledger.customer_balance(customer), amount_fen),
        ],
        idempotency_key,
        order_id=order.id,
        actor_id=actor.id,
        memo=reason,
    )
    if posted.order_id != order.id:
        # The same key refunded another order a moment ago: the caller rolls back.
        raise IdempotencyConflict(_l("This request was already used for something else."))
    rebates.reverse_for_refund(order, posted)
    notifications.notify(
        order.customer_id,
        notifications.ORDER_REFUNDED,
        f"/orders/{order.order_no}",
        order_no=order.order_no,
        amount=format_fen(amount_fen),
        reason=reason,
    )
    return posted, True


def refund(actor: User, order: Order, amount_fen: int, reason: str, key: str) -> LedgerTransaction:
    """Refund part of what a paid order cost to the customer's balance; audited and notified.

    `key` identifies one submission: the same key again returns the first refund. Raises
    ValidationFailed (amount, reason), NotRefundable, RefundTooLarge or IdempotencyConflict.
    """
    _not_own(actor, order)
    reason = _reason(reason)
    posted, new = _post_refund(actor, order, amount_fen, reason, key)
    if new:
        audit.record(
            actor,
            "order.refund",
            "order",
            order.order_no,
            {"refunded_fen": order.refunded_fen - amount_fen},
            {"refunded_fen": order.refunded_fen, "amount_fen": amount_fen},
            reason,
        )
    return posted


def cancel_paid_order(actor: User, order: Order, reason: str, key: str) -> LedgerTransaction | None:
    """Cancel a paid order for the customer: release its parcels, give its coupon back and
    refund all not yet refunded.

    Returns the refund (None when everything had been refunded before); the same key again
    returns the first refund. Raises ValidationFailed (reason) or TransitionRefused.
    """
    _not_own(actor, order)
    reason = _reason(reason)
    done = ledger.find_transaction(f"refund:{key}")
    if done is not None and done.order_id == order.id and order.status == "cancelled":
        return done
    if order.status == "cancelled" and order.paid_fen is not None and not refundable_fen(order):
        return None  # cancelled and refunded already (a double click when nothing was left)
    if order.status != "paid":
        raise TransitionRefused(_l("Only a paid order can be cancelled with a refund."))
    before = {"status": order.status, "refunded_fen": order.refunded_fen}
    transition(order, "cancelled", actor.id, STAFF, reason)
    release_parcels(order, actor.id)
    coupons.give_back(order)
    remaining = refundable_fen(order)
    posted = None
    if remaining > 0:
        posted, _new = _post_refund(actor, order, remaining, reason, key)
    audit.record(
        actor,
        "order.cancel",
        "order",
        order.order_no,
        before,
        {"status": "cancelled", "refunded_fen": order.refunded_fen, "refund_fen": remaining},
        reason,
    )
    notifications.notify(
        order.customer_id,
        notifications.ORDER_CANCELLED,
        f"/orders/{order.order_no}",
        order_no=order.order_no,
    )
    return posted
