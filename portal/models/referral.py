"""Invite rebates (邀请返利): the rule staff set and what each paid order earned its inviter."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    Numeric,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime, utcnow


class RebateRule(Base):
    """One version of the rebate rule; the newest row is in force (editing adds a row)."""

    __tablename__ = "rebate_rules"
    __table_args__ = (
        CheckConstraint("percent >= 0 AND percent <= 50", name="percent"),
        CheckConstraint("duration_days IS NULL OR duration_days > 0", name="duration"),
        CheckConstraint("min_withdraw_fen >= 100", name="min_withdraw"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Percent of the invitee's paid freight; 0 switches rebates off.
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    # For how long after the invitee registered their orders earn rebates (None: always).
    duration_days: Mapped[int | None] = mapped_column(Integer)
    min_withdraw_fen: Mapped[int] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralRebate(Base):
    """The rebate one paid order earned its inviter, and how much of it refunds took back."""

    __tablename__ = "referral_rebates"
    __table_args__ = (
        # One rebate per (order, inviter), whatever the code above does.
        UniqueConstraint("order_id", "inviter_id"),
        CheckConstraint("amount_fen > 0", name="amount"),
        CheckConstraint("reversed_fen >= 0 AND reversed_fen <= amount_fen", name="reversed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    inviter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    invitee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    basis_fen: Mapped[int] = mapped_column(BigInteger)
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reversed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
