"""The ledger: double entry, cached balances, no wallet below zero, idempotency keys, and rows
that the database itself refuses to change or delete; concurrency on both databases."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from portal.extensions import db
from portal.models import LedgerAccount, LedgerEntry, LedgerTransaction, User
from portal.services import ledger
from portal.services.ledger import IdempotencyConflict, InsufficientFunds, Line
from tests.conftest import run_together


def customer_of(account) -> User:
    return db.session.get(User, account.id)


def recharge(customer: User, amount_fen: int, key: str) -> LedgerTransaction:
    """Money in from the bank to the customer's balance, as an approved transfer does."""
    return ledger.post(
        "recharge",
        [
            Line(ledger.account("platform_bank"), -amount_fen),
            Line(ledger.customer_balance(customer), amount_fen),
        ],
        key,
    )


def spend(customer: User, amount_fen: int, key: str) -> LedgerTransaction:
    return ledger.post(
        "payment",
        [
            Line(ledger.customer_balance(customer), -amount_fen),
            Line(ledger.account("platform_revenue"), amount_fen),
        ],
        key,
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_recharge_posts_two_entries_and_moves_both_balances(app, make_customer):
    with app.app_context():
        customer = customer_of(make_customer())
        posted = recharge(customer, 10_000, "r1")
        db.session.commit()
        assert sorted(e.amount_fen for e in posted.entries) == [-10_000, 10_000]
        assert ledger.balance_fen(customer) == 10_000
        assert ledger.account("platform_bank").balance_fen == -10_000
        assert ledger.invariant_problems() == []


def test_the_same_key_posts_once_and_another_movement_under_it_is_refused(app, make_customer):
    with app.app_context():
        customer = customer_of(make_customer())
        first = recharge(customer, 5_000, "r1")
        again = recharge(customer, 5_000, "r1")
        assert again.id == first.id
        with pytest.raises(IdempotencyConflict):
            recharge(customer, 6_000, "r1")
        db.session.commit()
        assert ledger.balance_fen(customer) == 5_000
        assert count(LedgerTransaction) == 1


def test_spending_more_than_the_balance_posts_nothing(app, make_customer):
    with app.app_context():
        customer = customer_of(make_customer())
        recharge(customer, 1_000, "r1")
        db.session.commit()
        with pytest.raises(InsufficientFunds):
            spend(customer, 1_001, "p1")
        db.session.rollback()
        assert ledger.balance_fen(customer) == 1_000
        assert count(LedgerTransaction) == 1
        spend(customer, 1_000, "p2")
        db.session.commit()
        assert ledger.balance_fen(customer) == 0


@pytest.mark.parametrize(
    "amounts",
    [[100, -99], [100], [0, 0], [100, -100, 0], [1.5, -1.5], [True, -1]],
    ids=["unbalanced", "one-line", "zeros", "a-zero-line", "floats", "bool"],
)
def test_malformed_movements_are_programming_errors(app, make_customer, amounts):
    with app.app_context():
        customer = customer_of(make_customer())
        accounts = [ledger.customer_balance(customer), ledger.account("platform_bank")] * 2
        with pytest.raises(ValueError):
            ledger.post(
                "adjustment",
                [Line(a, amount) for a, amount in zip(accounts, amounts, strict=False)],
                "k",
            )
        db.session.rollback()
        assert count(LedgerTransaction) == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount_fen = amount_fen * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET memo = 'changed'",
        "DELETE FROM ledger_transactions",
    ],
)
def test_the_database_refuses_to_change_or_delete_ledger_rows(app, make_customer, statement):
    with app.app_context():
        recharge(customer_of(make_customer()), 2_000, "r1")
        db.session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
        assert count(LedgerEntry) == 2 and count(LedgerTransaction) == 1


def test_a_customer_balance_below_zero_is_refused_by_the_database_too(app, make_customer):
    """The CHECK constraint stands behind the service's conditional UPDATE."""
    with app.app_context():
        account = ledger.customer_balance(customer_of(make_customer()))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(
                text("UPDATE ledger_accounts SET balance_fen = -1 WHERE id = :id"),
                {"id": account.id},
            )
        db.session.rollback()


def test_fifty_concurrent_payments_of_the_whole_balance_make_one(app, make_customer):
    account = make_customer()
    with app.app_context():
        recharge(customer_of(account), 10_000, "r1")
        db.session.commit()

    def pay(i: int):
        posted = spend(customer_of(account), 10_000, f"p{i}")
        db.session.commit()
        return posted.id

    results = run_together(app, 50, pay)
    wins = [r for r in results if isinstance(r, int)]
    refusals = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(wins) == 1 and len(refusals) == 49, [repr(r) for r in results]
    with app.app_context():
        assert ledger.balance_fen(customer_of(account)) == 0
        assert count(LedgerTransaction) == 2


def test_ten_concurrent_posts_with_one_key_make_one_transaction(app, make_customer):
    account = make_customer()

    def post(_i: int):
        posted = recharge(customer_of(account), 3_000, "one-key")
        db.session.commit()
        return posted.id

    results = run_together(app, 10, post)
    assert all(isinstance(r, int) for r in results), [repr(r) for r in results]
    assert len(set(results)) == 1
    with app.app_context():
        assert ledger.balance_fen(customer_of(account)) == 3_000
        assert count(LedgerTransaction) == 1


def test_accounts_created_at_once_are_one_account(app, make_customer):
    account = make_customer()

    def open_account(_i: int):
        found = ledger.customer_balance(customer_of(account))
        db.session.commit()
        return found.id

    results = run_together(app, 10, open_account)
    assert len(set(results)) == 1, [repr(r) for r in results]
    with app.app_context():
        assert count(LedgerAccount) == 1
