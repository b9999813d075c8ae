"""Paying a packed order (支付) from the wallet balance."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import format_fen
from portal.models import LedgerTransaction, Order, User, UserRole
from portal.services import coupons, ledger, memberships, notifications, order_discounts, rebates
from portal.services.errors import DomainError, ShortOfMoney
from portal.services.ledger import IdempotencyConflict, InsufficientFunds, Line
from portal.services.order_states import CUSTOMER, transition
from portal.services.orders import OrderNotFound

# Who hears that an order was paid (and can now be shipped).
STAFF_TO_TELL = ("warehouse", "admin")


class NotPayable(DomainError):
    """The order is not waiting for payment (already paid, cancelled, not yet packed)."""


@dataclass(frozen=True)
class Paid:
    order: Order
    amount_fen: int
    balance_fen: int


class AmountChanged(DomainError):
    """The bill differs from the amount the pay form showed (a discount came or went)."""


def pay_order(
    customer: User,
    order: Order,
    attempt_key: str,
    coupon_id: int | None = None,
    shown_fen: int | None = None,
) -> Paid:
    """Debit the bill from the customer's balance and move the order to 已支付, in one transaction.

    `attempt_key` identifies one press of the pay button: a resubmitted form finds the payment
    it already made. The discounts are decided here: the membership running now and the coupon
    chosen (`coupon_id`; None keeps the one the order holds, 0 pays without one). When
    `shown_fen` is given and the bill now differs from it, AmountChanged is raised. Raises
    OrderNotFound (another customer's order), NotPayable, CouponRefused, ShortOfMoney,
    TransitionRefused (paid or cancelled meanwhile) or IdempotencyConflict (the key paid another
    order); then nothing was written. Active warehouse and admin staff are told too, and the
    customer's inviter earns the rebate the rule gives.
    """
    if order.customer_id != customer.id:
        raise OrderNotFound(_l("No such order."))
    key = f"pay:{customer.id}:{attempt_key}"
    # One payment of an order at a time: a second tab waits here and then sees the first's
    # result (SQLite serialises writers anyway).
    db.session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    db.session.refresh(order)
    posted_before = ledger.find_transaction(key)
    if posted_before is not None:
        if posted_before.order_id != order.id:
            # Else an attempt that paid one order would "pay" another of the same amount.
            raise IdempotencyConflict(_l("This request was already used for something else."))
        return Paid(order, order.paid_fen or 0, ledger.balance_fen(customer))
    if order.status != "awaiting_payment" or order.bill_fen is None:
        raise NotPayable(_l("This order is not waiting for payment."))
    coupon = _decide_discounts(customer, order, coupon_id)
    if shown_fen is not None and shown_fen != order.bill_fen:
        raise AmountChanged(
            _l(
                "The amount to pay is now ¥%(amount)s; check it and press pay again.",
                amount=format_fen(order.bill_fen),
            )
        )
    amount = order.bill_fen
    if coupon is not None:
        coupons.use(
            coupon,
            order,
            -sum(line.amount_fen for line in order.charges("bill") if line.code == "COUPON"),
        )
    if amount > 0:
        _debit(customer, order, key, amount)
    transition(order, "paid", customer.id, CUSTOMER)
    order.paid_fen = amount
    rebates.post_for_payment(customer, order)
    notifications.notify(
        customer.id, notifications.ORDER_PAID, f"/orders/{order.order_no}", order_no=order.order_no
    )
    _tell_staff(order, customer)
    return Paid(order, amount, ledger.balance_fen(customer))


def _decide_discounts(customer: User, order: Order, coupon_id: int | None):
    """Write the bill's discount lines as they stand now; returns the coupon applied, if any."""
    percent = memberships.member_percent(customer.id)
    use = order_discounts.bill_use(order, percent)
    held = coupons.held_by(order)
    if coupon_id is None:
        chosen = held if held is not None and coupons.refusal(held, use) is None else None
    elif coupon_id == 0:
        chosen = None
    else:
        chosen = coupons.checked(customer, coupon_id, use)
    if held is not None and held is not chosen:
        coupons.release(order)
    bill = order_discounts.payable(order, chosen, percent)
    if bill.coupon is not None and held is not bill.coupon:
        coupons.hold(bill.coupon, order)
    order_discounts.write_bill_discounts(order, bill)
    return bill.coupon


def _debit(customer: User, order: Order, key: str, amount: int) -> None:
    try:
        posted = ledger.post(
            "payment",
            [
                Line(ledger.customer_balance(customer), -amount),
                Line(ledger.account("platform_revenue"), amount),
            ],
            key,
            order_id=order.id,
            actor_id=customer.id,
        )
    except InsufficientFunds:
        shortfall = amount - ledger.balance_fen(customer)
        raise ShortOfMoney(
            _l("Your balance is short by ¥%(amount)s.", amount=format_fen(shortfall)),
            shortfall,
        ) from None
    except IdempotencyConflict:
        if _payment_of(order) is not None:
            # Another attempt (a second tab) paid it a moment ago: one payment per order.
            raise NotPayable(_l("This order is not waiting for payment.")) from None
        raise
    if posted.order_id != order.id:
        # The same key paid another order a moment ago (a race the look-up above missed).
        raise IdempotencyConflict(_l("This request was already used for something else."))


def _payment_of(order: Order) -> int | None:
    return db.session.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.kind == "payment", LedgerTransaction.order_id == order.id
        )
    )


def _tell_staff(order: Order, customer: User) -> None:
    """Leave a message for every active warehouse and admin user: this order can be shipped."""
    staff_ids = db.session.scalars(
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(STAFF_TO_TELL), User.is_disabled.is_(False))
        .distinct()
        .order_by(User.id)
    )
    for staff_id in staff_ids:
        notifications.notify(
            staff_id,
            notifications.ORDER_PAID_STAFF,
            f"/ops/orders/{order.id}",
            order_no=order.order_no,
            customer_code=customer.customer_code,
            amount=format_fen(order.paid_fen or 0),
        )
