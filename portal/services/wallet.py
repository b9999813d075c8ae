"""What a customer sees of their money: balances and the history of their wallet entries."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import LedgerAccount, LedgerEntry, LedgerTransaction, Order, Recharge, User
from portal.models.ledger import TRANSACTION_KINDS
from portal.services import ledger
from portal.services.rate_cards import BUSINESS_ZONE

PER_PAGE = 20


@dataclass(frozen=True)
class HistoryQuery:
    kind: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1


@dataclass(frozen=True)
class HistoryRow:
    entry_id: int
    created_at: datetime
    kind: str
    account_kind: str
    amount_fen: int
    order_no: str | None
    memo: str
    recharge_id: int | None = None
    recharge_no: str | None = None


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    page: int
    has_next: bool


def balances(customer: User) -> dict[str, int]:
    """The spendable balance and the rebate balance, in fen (0 before the first movement)."""
    return {
        "balance": ledger.balance_fen(customer),
        "rebate": db.session.scalar(
            select(LedgerAccount.balance_fen).where(
                LedgerAccount.code == ledger.account_code("customer_rebate", customer.id)
            )
        )
        or 0,
    }


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, BUSINESS_ZONE)


def history(customer: User, query: HistoryQuery) -> HistoryPage:
    """A page of the customer's wallet entries, newest first, by kind and Beijing days; each
    with its order or recharge."""
    statement = (
        select(
            LedgerEntry.id,
            LedgerEntry.created_at,
            LedgerTransaction.kind,
            LedgerAccount.kind,
            LedgerEntry.amount_fen,
            Order.order_no,
            LedgerTransaction.memo,
            Recharge.id,
            Recharge.recharge_no,
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .outerjoin(Order, Order.id == LedgerTransaction.order_id)
        .outerjoin(
            Recharge,
            (Recharge.transaction_id == LedgerTransaction.id)
            & (Recharge.customer_id == customer.id),
        )
        .where(LedgerAccount.customer_id == customer.id)
    )
    if query.kind in TRANSACTION_KINDS:
        statement = statement.where(LedgerTransaction.kind == query.kind)
    if query.since:
        statement = statement.where(LedgerEntry.created_at >= _start_of(query.since))
    if query.until:
        statement = statement.where(
            LedgerEntry.created_at < _start_of(query.until + timedelta(days=1))
        )
    rows = db.session.execute(
        statement.order_by(LedgerEntry.id.desc())
        .offset((query.page - 1) * PER_PAGE)
        .limit(PER_PAGE + 1)
    ).all()
    return HistoryPage(
        [HistoryRow(*row) for row in rows[:PER_PAGE]], query.page, len(rows) > PER_PAGE
    )
