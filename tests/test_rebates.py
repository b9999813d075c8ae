"""Invite rebates: earned once per paid order of an invitee, taken back in proportion to refunds,
withdrawn into the balance once per key and never below the minimum, on both databases."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import LedgerTransaction, Order, RebateRule, ReferralRebate, User
from portal.services import ledger, payments, rebates, refunds
from portal.services.errors import ValidationFailed
from portal.services.ledger import IdempotencyConflict, Line
from portal.services.rebate_rules import RuleInput, save_rule
from tests.conftest import run_together
from tests.test_payments import BILL

REBATE = 617  # 5 % of BILL (12 345 fen = 617.25), rounded half up


@pytest.fixture
def rule(app, make_staff):
    """Put a rebate rule in force: rule(percent, days, minimum in yuan)."""
    staff = make_staff("finance")

    def make(percent: str = "5", days: str = "", minimum: str = "1"):
        with app.app_context():
            save_rule(db.session.get(User, staff.id), RuleInput(percent, days, minimum))
            db.session.commit()

    return make


@pytest.fixture
def invited(app, make_customer, insert_orders):
    """An inviter and an invitee with `count` orders billed BILL and the money to pay them."""

    def make(count: int = 1):
        inviter = make_customer()
        invitee = make_customer(invite_code=inviter.invite_code)
        insert_orders(invitee.id, count, "awaiting_payment")
        with app.app_context():
            db.session.execute(
                update(Order).where(Order.customer_id == invitee.id).values(bill_fen=BILL)
            )
            credit(invitee.id, BILL * count)
            db.session.commit()
            ids = list(db.session.scalars(select(Order.id).where(Order.customer_id == invitee.id)))
        return inviter, invitee, ids

    return make


def credit(customer_id: int, fen: int) -> None:
    customer = db.session.get(User, customer_id)
    ledger.post(
        "recharge",
        [Line(ledger.account("platform_bank"), -fen), Line(ledger.customer_balance(customer), fen)],
        f"recharge-{customer_id}-{fen}",
    )


def pay(account, order_id: int, key: str = "pay-1") -> None:
    customer = db.session.get(User, account.id)
    payments.pay_order(customer, db.session.get(Order, order_id), key)
    db.session.commit()


def rebate_of(account) -> int:
    return rebates.rebate_balance_fen(db.session.get(User, account.id))


def balance_of(account) -> int:
    return ledger.balance_fen(db.session.get(User, account.id))


def count(kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == kind)
    )


def refund(app, order_id: int, fen: int, key: str) -> None:
    staff = db.session.scalar(select(User).where(User.roles.any()))
    refunds.refund(staff, db.session.get(Order, order_id), fen, "重量更正", key)
    db.session.commit()


def test_an_invitees_payment_earns_the_inviter_the_rule_percent(app, rule, invited):
    rule("5")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
        assert rebate_of(inviter) == REBATE
        assert balance_of(inviter) == 0
        row = db.session.scalar(select(ReferralRebate))
        assert (row.inviter_id, row.invitee_id, row.order_id) == (inviter.id, invitee.id, order_id)
        assert (row.basis_fen, row.percent, row.amount_fen) == (BILL, Decimal("5.00"), REBATE)
        assert ledger.account("platform_rebates").balance_fen == -REBATE


@pytest.mark.parametrize(
    ("percent", "days", "age_days"),
    [("0", "", 0), ("5", "30", 31)],
    ids=["rule-off", "after-the-duration"],
)
def test_no_rebate_when_the_rule_gives_none(app, rule, invited, percent, days, age_days):
    rule(percent, days)
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        user = db.session.get(User, invitee.id)
        user.created_at = user.created_at - timedelta(days=age_days)
        db.session.commit()
        pay(invitee, order_id)
        assert (rebate_of(inviter), count("rebate")) == (0, 0)


def test_within_the_duration_a_rebate_is_earned(app, rule, invited):
    rule("5", "30")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        user = db.session.get(User, invitee.id)
        user.created_at = user.created_at - timedelta(days=29)
        db.session.commit()
        pay(invitee, order_id)
        assert rebate_of(inviter) == REBATE


def test_without_a_rule_or_an_inviter_nothing_is_earned(app, rule, invited, make_customer):
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
        assert count("rebate") == 0
        assert db.session.scalar(select(func.count()).select_from(RebateRule)) == 0


def test_the_same_payment_replayed_earns_one_rebate(app, rule, invited):
    rule("5")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        for _ in range(5):
            pay(invitee, order_id, "pay-1")
        assert (rebate_of(inviter), count("rebate")) == (REBATE, 1)


def test_ten_payments_of_one_order_at_once_earn_one_rebate(app, rule, invited):
    rule("5")
    inviter, invitee, (order_id,) = invited()
    results = run_together(app, 10, lambda i: pay(invitee, order_id, f"pay-{i}"))
    assert sum(r is None for r in results) == 1, [repr(r) for r in results]
    with app.app_context():
        assert (rebate_of(inviter), count("rebate"), count("payment")) == (REBATE, 1, 1)
        assert db.session.scalar(select(func.count()).select_from(ReferralRebate)) == 1


def test_refunds_take_the_rebate_back_in_proportion_to_the_fen(app, rule, invited, make_staff):
    rule("5")
    make_staff("finance")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
        refund(app, order_id, BILL // 3, "r1")  # 4115 of 12345: a third of 617 is 205.67
        assert rebate_of(inviter) == REBATE - 206
        refund(app, order_id, BILL // 3, "r2")  # two thirds: 411.33 reversed in all
        assert rebate_of(inviter) == REBATE - 411
        refund(app, order_id, BILL - 2 * (BILL // 3), "r3")
        assert rebate_of(inviter) == 0
        assert db.session.scalar(select(ReferralRebate.reversed_fen)) == REBATE
        assert count("rebate_reversal") == 3
        assert ledger.account("platform_rebates").balance_fen == 0


def test_a_replayed_refund_takes_back_once(app, rule, invited, make_staff):
    rule("5")
    make_staff("finance")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
        for _ in range(3):
            refund(app, order_id, BILL // 2, "same-key")
        assert rebate_of(inviter) == REBATE - 308  # 617 × 6172 / 12345 = 308.48
        assert count("rebate_reversal") == 1


def test_a_withdrawn_rebate_is_taken_back_from_the_balance(app, rule, invited, make_staff):
    rule("5")
    make_staff("finance")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
        rebates.withdraw(db.session.get(User, inviter.id), 500, "w1")
        db.session.commit()
        refund(app, order_id, BILL, "all")
        assert (rebate_of(inviter), balance_of(inviter)) == (0, 0)
        assert db.session.scalar(select(ReferralRebate.reversed_fen)) == REBATE


def test_a_rebate_already_spent_is_not_recovered_and_the_refund_still_goes_through(
    app, rule, invited, make_staff
):
    rule("5")
    make_staff("finance")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
        inviter_user = db.session.get(User, inviter.id)
        rebates.withdraw(inviter_user, REBATE, "w1")
        ledger.post(  # the inviter spends 600 of it
            "adjustment",
            [
                Line(ledger.customer_balance(inviter_user), -600),
                Line(ledger.account("platform_adjustments"), 600),
            ],
            "spent",
        )
        db.session.commit()
        refund(app, order_id, BILL, "all")
        assert balance_of(invitee) == BILL
        assert (rebate_of(inviter), balance_of(inviter)) == (0, 0)
        assert db.session.scalar(select(ReferralRebate.reversed_fen)) == 17


def test_withdrawing_moves_rebate_money_into_the_balance_once_per_key(app, rule, invited):
    rule("5", "", "2")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
        user = db.session.get(User, inviter.id)
        for _ in range(3):
            rebates.withdraw(user, 300, "form-1")
            db.session.commit()
        assert (rebate_of(inviter), balance_of(inviter)) == (REBATE - 300, 300)
        with pytest.raises(IdempotencyConflict):
            rebates.withdraw(user, 200, "form-1")
        db.session.rollback()


@pytest.mark.parametrize(
    ("amount", "error"),
    [(199, rebates.BelowMinimum), (REBATE + 1, ValidationFailed)],
    ids=["below-minimum", "more-than-the-rebate"],
)
def test_a_withdrawal_out_of_bounds_is_refused_with_nothing_moved(
    app, rule, invited, amount, error
):
    rule("5", "", "2")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
        with pytest.raises(error) as refused:
            rebates.withdraw(db.session.get(User, inviter.id), amount, "form-1")
        db.session.rollback()
        assert refused.value.field == "amount"
        assert (rebate_of(inviter), count("withdrawal")) == (REBATE, 0)


def test_ten_withdrawals_of_the_whole_rebate_at_once_move_it_once(app, rule, invited):
    rule("5")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)

    def withdraw(i: int):
        rebates.withdraw(db.session.get(User, inviter.id), REBATE, f"form-{i}")
        db.session.commit()
        return "ok"

    results = run_together(app, 10, withdraw)
    assert results.count("ok") == 1, [repr(r) for r in results]
    with app.app_context():
        assert (rebate_of(inviter), balance_of(inviter), count("withdrawal")) == (0, REBATE, 1)


def test_the_inviter_pays_an_order_with_the_withdrawn_rebate(app, rule, invited, insert_orders):
    rule("50")
    inviter, invitee, (order_id,) = invited()
    insert_orders(inviter.id, 1, "awaiting_payment")
    with app.app_context():
        pay(invitee, order_id)
        own = db.session.scalar(select(Order.id).where(Order.customer_id == inviter.id))
        db.session.execute(update(Order).where(Order.id == own).values(bill_fen=6000))
        rebates.withdraw(db.session.get(User, inviter.id), 6173, "w")  # 50 % of 12 345
        db.session.commit()
        pay(inviter, own, "own-order")
        assert balance_of(inviter) == 173
        assert db.session.get(Order, own).status == "paid"
