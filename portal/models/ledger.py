"""The double-entry ledger: accounts with a cached balance, transactions and their entries.

Entries and transactions are append-only (database triggers refuse UPDATE and DELETE on both
databases, see migration 0006); a correction is a new transaction that points to the original.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, one_of, utcnow

ACCOUNT_KINDS = (
    "customer_balance",
    "customer_rebate",
    "platform_bank",
    "platform_gateway",
    "platform_revenue",
    "platform_refunds",
    "platform_adjustments",
    "platform_rebates",
)
CUSTOMER_ACCOUNT_KINDS = ("customer_balance", "customer_rebate")
TRANSACTION_KINDS = (
    "recharge",
    "payment",
    "refund",
    "adjustment",
    "reversal",
    "rebate",
    "rebate_reversal",
    "withdrawal",
    "membership",
)


class LedgerAccount(Base):
    """One account; `balance_fen` is the sum of its entries, kept in the same transaction."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(one_of("kind", ACCOUNT_KINDS), name="kind"),
        # A customer's money never goes below zero, whatever the code above does.
        CheckConstraint("allow_negative OR balance_fen >= 0", name="balance"),
        CheckConstraint(
            "(customer_id IS NULL) = (kind NOT IN ('customer_balance', 'customer_rebate'))",
            name="owner",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "customer_balance:42", "platform_bank": one account per code.
    code: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerTransaction(Base):
    """One movement of money: its entries sum to zero."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        CheckConstraint(one_of("kind", TRANSACTION_KINDS), name="kind"),
        # An order is paid once, whatever the application does.
        Index(
            "uq_ledger_transactions_payment_order",
            "order_id",
            unique=True,
            sqlite_where=text("kind = 'payment'"),
            postgresql_where=text("kind = 'payment'"),
        ),
        # The daily reconciliation's day filter.
        Index("ix_ledger_transactions_created_kind", "created_at", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    # One per business act (a pay attempt, a recharge approval): a replay finds this row.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    # A payment provider's transaction id, when there is one.
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entries: Mapped[list["LedgerEntry"]] = relationship(order_by="LedgerEntry.id")


class LedgerEntry(Base):
    """One side of a transaction on one account: positive credits it, negative debits it."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="amount"),
        Index("ix_ledger_entries_account", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


LEDGER_TABLES = ("ledger_entries", "ledger_transactions")

# Append-only guards, as migration 0006 creates them (a test checks they exist on both databases).
SQLITE_GUARDS = {
    f"{table}_no_{op.lower()}": (
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END"
    )
    for table in LEDGER_TABLES
    for op in ("UPDATE", "DELETE")
}
POSTGRES_GUARD_FUNCTION = (
    "CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'ledger rows are append-only (% on %)', TG_OP, TG_TABLE_NAME; END $$"
)
POSTGRES_GUARDS = {
    f"{table}_append_only": (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
    )
    for table in LEDGER_TABLES
}
