"""The ledger: the only code that moves money (DESIGN.md, "Units and invariants").

Every movement is one transaction of entries that sum to zero, posted in the caller's database
transaction. Each entry changes its account's cached balance by a conditional UPDATE, so a
customer account can never go below zero, even with many payments at once (the UPDATE only
matches while the money is there; a CHECK constraint stands behind it). A transaction carries an
idempotency key under a UNIQUE constraint: posting the same act twice returns the first.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import LedgerAccount, LedgerEntry, LedgerTransaction, ReferralRebate, User
from portal.models.ledger import CUSTOMER_ACCOUNT_KINDS
from portal.services.errors import DomainError

PLATFORM_KINDS = (
    "platform_bank",
    "platform_gateway",
    "platform_revenue",
    "platform_refunds",
    "platform_adjustments",
    "platform_rebates",
)


class InsufficientFunds(DomainError):
    """An account would go below zero; nothing was posted."""


class IdempotencyConflict(DomainError):
    """The key was used before for a different movement."""


@dataclass(frozen=True)
class Line:
    """One side of a movement: `amount_fen` credits the account if positive, debits if negative."""

    account: LedgerAccount
    amount_fen: int


def account_code(kind: str, customer_id: int | None = None) -> str:
    return f"{kind}:{customer_id}" if kind in CUSTOMER_ACCOUNT_KINDS else kind


def account(kind: str, customer_id: int | None = None) -> LedgerAccount:
    """The account of a kind (and customer), created on first use; safe when two requests race."""
    code = account_code(kind, customer_id)
    found = db.session.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
    if found is not None:
        return found
    new = LedgerAccount(
        code=code,
        kind=kind,
        customer_id=customer_id if kind in CUSTOMER_ACCOUNT_KINDS else None,
        balance_fen=0,
        allow_negative=kind in PLATFORM_KINDS,
    )
    try:
        with db.session.begin_nested():
            db.session.add(new)
    except IntegrityError:
        return db.session.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
    return new


def customer_balance(customer: User) -> LedgerAccount:
    return account("customer_balance", customer.id)


def balance_fen(customer: User) -> int:
    """The customer's spendable balance (0 before their first recharge)."""
    code = account_code("customer_balance", customer.id)
    value = db.session.scalar(select(LedgerAccount.balance_fen).where(LedgerAccount.code == code))
    return value or 0


def find_transaction(idempotency_key: str) -> LedgerTransaction | None:
    return db.session.scalar(
        select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
    )


def _same_movement(existing: LedgerTransaction, kind: str, lines: Sequence[Line]) -> bool:
    posted = sorted((e.account_id, e.amount_fen) for e in existing.entries)
    asked = sorted((line.account.id, line.amount_fen) for line in lines)
    return existing.kind == kind and posted == asked


def _check(lines: Sequence[Line]) -> None:
    if len(lines) < 2 or any(
        not isinstance(line.amount_fen, int) or isinstance(line.amount_fen, bool) for line in lines
    ):
        raise ValueError("a transaction needs at least two integer lines")
    if any(line.amount_fen == 0 for line in lines) or sum(line.amount_fen for line in lines) != 0:
        raise ValueError("ledger lines must be non-zero and sum to zero")


def post(
    kind: str,
    lines: Sequence[Line],
    idempotency_key: str,
    *,
    external_id: str | None = None,
    order_id: int | None = None,
    actor_id: int | None = None,
    memo: str = "",
    reverses_id: int | None = None,
) -> LedgerTransaction:
    """Post one movement (flushed, not committed) and return it; the same key returns the first.

    Raises InsufficientFunds when an account that may not go negative lacks the money and
    IdempotencyConflict when the key was used for another movement; then nothing was posted.
    """
    _check(lines)
    existing = find_transaction(idempotency_key)
    if existing is not None:
        if not _same_movement(existing, kind, lines):
            raise IdempotencyConflict(_l("This request was already used for something else."))
        return existing
    transaction = LedgerTransaction(
        kind=kind,
        idempotency_key=idempotency_key,
        external_id=external_id,
        order_id=order_id,
        actor_id=actor_id,
        memo=memo,
        reverses_id=reverses_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(transaction)
    except IntegrityError:
        # Another request posted this key (or external id) a moment ago: that one stands.
        raced = find_transaction(idempotency_key)
        if raced is not None and _same_movement(raced, kind, lines):
            return raced
        raise IdempotencyConflict(_l("This request was already used for something else.")) from None
    # Accounts in id order, so two transactions touching the same accounts never deadlock.
    for line in sorted(lines, key=lambda line: line.account.id):
        _apply(line)
        db.session.add(
            LedgerEntry(
                transaction_id=transaction.id,
                account_id=line.account.id,
                amount_fen=line.amount_fen,
            )
        )
    db.session.flush()
    return transaction


def _apply(line: Line) -> None:
    """Change the cached balance only if the account may take it (a compare-and-set)."""
    result = db.session.execute(
        update(LedgerAccount)
        .where(
            LedgerAccount.id == line.account.id,
            LedgerAccount.allow_negative | (LedgerAccount.balance_fen + line.amount_fen >= 0),
        )
        .values(balance_fen=LedgerAccount.balance_fen + line.amount_fen)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InsufficientFunds(_l("The balance is not enough."))
    db.session.expire(line.account, ["balance_fen"])


@dataclass(frozen=True)
class Problem:
    """A broken ledger invariant, for the checks that run after every test."""

    what: str
    detail: object


def invariant_problems() -> list[Problem]:
    """Every way the ledger is inconsistent right now (an empty list when it is sound)."""
    problems: list[Problem] = []
    unbalanced = db.session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_fen))
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount_fen) != 0)
    ).all()
    problems += [Problem("transaction does not sum to zero", row) for row in unbalanced]
    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_fen).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    drift = db.session.execute(
        select(LedgerAccount.code, LedgerAccount.balance_fen, sums.c.total)
        .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.balance_fen != func.coalesce(sums.c.total, 0))
    ).all()
    problems += [Problem("cached balance differs from its entries", row) for row in drift]
    negative = db.session.execute(
        select(LedgerAccount.code, LedgerAccount.balance_fen).where(
            LedgerAccount.allow_negative.is_(False), LedgerAccount.balance_fen < 0
        )
    ).all()
    problems += [Problem("account below zero", row) for row in negative]
    empty = db.session.execute(
        select(LedgerTransaction.id).where(~LedgerTransaction.entries.any())
    ).all()
    problems += [Problem("transaction without entries", row) for row in empty]
    return problems + _rebate_problems()


def _rebate_problems() -> list[Problem]:
    """The rebate rows must add up to what the ledger posted as rebates and their reversals."""
    problems = []
    for kind, column, sign in (
        ("rebate", ReferralRebate.amount_fen, -1),
        ("rebate_reversal", ReferralRebate.reversed_fen, 1),
    ):
        rows = db.session.scalar(select(func.coalesce(func.sum(column), 0)))
        posted = sign * db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerTransaction.kind == kind, LedgerAccount.kind == "platform_rebates")
        )
        if rows != posted:
            problems.append(Problem(f"{kind} rows differ from the ledger", (rows, posted)))
    return problems
