"""Recharges (充值) of a customer's balance, the finance settings customers pay to, and the
security events a forged payment notification leaves."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, one_of, utcnow

RECHARGE_METHODS = ("bank_transfer", "qr", "online")
QR_CHANNELS = ("wechat", "alipay")
# Transfer and QR: submitted → approved | rejected (finance review).
# Online: created → paid (a verified gateway notification only).
RECHARGE_STATES = ("submitted", "approved", "rejected", "created", "paid")
CREDITED_STATES = ("approved", "paid")


class Recharge(Base):
    __tablename__ = "recharges"
    __table_args__ = (
        CheckConstraint(one_of("method", RECHARGE_METHODS), name="method"),
        CheckConstraint(one_of("status", RECHARGE_STATES), name="status"),
        CheckConstraint("amount_fen > 0", name="amount"),
        UniqueConstraint("customer_id", "submit_token", name="uq_recharges_submit_token"),
        Index("ix_recharges_status_created", "status", "created_at"),
        Index("ix_recharges_customer", "customer_id", "id"),
        # The daily reconciliation's day filter, and the wallet history's join.
        Index("ix_recharges_credited_at", "credited_at"),
        Index("ix_recharges_transaction", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Shown to the customer and staff; the online gateway's out_trade_no.
    recharge_no: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    payer_name: Mapped[str] = mapped_column(String(60), default="")
    qr_channel: Mapped[str] = mapped_column(String(10), default="")
    receipt_key: Mapped[str | None] = mapped_column(String(100))
    receipt_thumb_key: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(200), default="")
    # One per press of the submit button, so a double click makes one recharge.
    submit_token: Mapped[str | None] = mapped_column(String(64))
    # The gateway's own transaction number (trade_no), once it says the money arrived.
    gateway_trade_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str] = mapped_column(String(200), default="")
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer = relationship("User", foreign_keys=[customer_id])
    reviewer = relationship("User", foreign_keys=[reviewer_id])


class PaymentSettings(Base):
    """Where customers send money: the company's bank account and collection QR images (one row)."""

    __tablename__ = "payment_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_name: Mapped[str] = mapped_column(String(60), default="")
    bank_branch: Mapped[str] = mapped_column(String(100), default="")
    account_name: Mapped[str] = mapped_column(String(100), default="")
    account_no: Mapped[str] = mapped_column(String(40), default="")
    wechat_qr_key: Mapped[str | None] = mapped_column(String(100))
    alipay_qr_key: Mapped[str | None] = mapped_column(String(100))
    # Bumped by every save, so two finance clerks editing at once cannot overwrite each other.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SecurityEvent(Base):
    """Something that looked like an attack, e.g. a payment notification with a bad signature."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_created", "created_at"),
        Index("ix_security_events_address", "remote_addr", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict] = mapped_column(JSON)
    remote_addr: Mapped[str] = mapped_column(String(45), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
