"""Paying a packed order from the balance: one debit, the order 已支付, refusals leave nothing."""

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import LedgerTransaction, Notification, Order, User
from portal.services import ledger, payments
from portal.services.ledger import Line
from portal.services.order_states import TransitionRefused
from portal.services.orders import OrderNotFound
from tests.conftest import run_together

BILL = 12_345


@pytest.fixture
def billed(app, make_customer, insert_orders):
    """A customer with `count` orders in 待支付, each billed BILL, and a balance to recharge."""

    def make(count: int = 1, balance_fen: int = 0):
        account = make_customer()
        insert_orders(account.id, count, "awaiting_payment")
        with app.app_context():
            db.session.execute(
                update(Order).where(Order.customer_id == account.id).values(bill_fen=BILL)
            )
            if balance_fen:
                customer = db.session.get(User, account.id)
                ledger.post(
                    "recharge",
                    [
                        Line(ledger.account("platform_bank"), -balance_fen),
                        Line(ledger.customer_balance(customer), balance_fen),
                    ],
                    f"recharge-{account.id}",
                )
            db.session.commit()
            ids = list(db.session.scalars(select(Order.id).where(Order.customer_id == account.id)))
        return account, ids

    return make


def pay(account, order_id: int, key: str) -> payments.Paid:
    customer = db.session.get(User, account.id)
    paid = payments.pay_order(customer, db.session.get(Order, order_id), key)
    db.session.commit()
    return paid


def payments_made() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(LedgerTransaction.kind == "payment")
    )


def test_paying_debits_the_bill_and_marks_the_order_paid(app, billed):
    account, (order_id,) = billed(balance_fen=20_000)
    with app.app_context():
        paid = pay(account, order_id, "attempt-1")
        assert (paid.amount_fen, paid.balance_fen) == (BILL, 20_000 - BILL)
        order = db.session.get(Order, order_id)
        assert order.status == "paid"
        assert order.events[-1].to_status == "paid"
        assert ledger.account("platform_revenue").balance_fen == BILL
        kinds = db.session.scalars(
            select(Notification.kind).where(Notification.user_id == account.id)
        )
        assert "order_paid" in list(kinds)


def test_the_same_attempt_resubmitted_five_times_debits_once(app, billed):
    account, (order_id,) = billed(balance_fen=20_000)
    with app.app_context():
        answers = {pay(account, order_id, "attempt-1").balance_fen for _ in range(5)}
        assert answers == {20_000 - BILL}
        assert payments_made() == 1


def test_a_short_balance_says_by_how_much_and_changes_nothing(app, billed):
    account, (order_id,) = billed(balance_fen=10_000)
    with app.app_context():
        with pytest.raises(payments.ShortOfMoney) as refused:
            pay(account, order_id, "attempt-1")
        db.session.rollback()
        assert refused.value.shortfall_fen == BILL - 10_000
        assert "23.45" in str(refused.value.message)
        assert db.session.get(Order, order_id).status == "awaiting_payment"
        assert payments_made() == 0


def test_paying_twice_a_cancelled_or_someone_elses_order_is_refused(app, billed):
    account, (order_id, cancelled_id) = billed(count=2, balance_fen=50_000)
    other, _ = billed()
    with app.app_context():
        pay(account, order_id, "attempt-1")
        with pytest.raises(payments.NotPayable):
            pay(account, order_id, "attempt-2")
        db.session.rollback()
        db.session.execute(update(Order).where(Order.id == cancelled_id).values(status="cancelled"))
        db.session.commit()
        with pytest.raises(payments.NotPayable):
            pay(account, cancelled_id, "attempt-3")
        db.session.rollback()
        with pytest.raises(OrderNotFound):
            pay(other, order_id, "attempt-4")
        db.session.rollback()
        assert payments_made() == 1
        assert ledger.balance_fen(db.session.get(User, account.id)) == 50_000 - BILL


def test_ten_attempts_on_one_order_at_once_pay_it_once(app, billed):
    account, (order_id,) = billed(balance_fen=100_000)
    results = run_together(app, 10, lambda i: pay(account, order_id, f"attempt-{i}").amount_fen)
    wins = [r for r in results if r == BILL]
    assert len(wins) == 1, [repr(r) for r in results]
    assert all(
        isinstance(r, (payments.NotPayable, TransitionRefused, ledger.IdempotencyConflict))
        or r == BILL
        for r in results
    ), [repr(r) for r in results]
    with app.app_context():
        assert payments_made() == 1
        assert ledger.balance_fen(db.session.get(User, account.id)) == 100_000 - BILL


def test_fifty_orders_each_costing_the_whole_balance_at_once_pay_one(app, billed):
    account, order_ids = billed(count=50, balance_fen=BILL)
    results = run_together(app, 50, lambda i: pay(account, order_ids[i], f"attempt-{i}").amount_fen)
    wins = [r for r in results if r == BILL]
    short = [r for r in results if isinstance(r, payments.ShortOfMoney)]
    assert (len(wins), len(short)) == (1, 49), [repr(r) for r in results]
    with app.app_context():
        assert ledger.balance_fen(db.session.get(User, account.id)) == 0
        paid = db.session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "paid")
        )
        assert paid == 1
