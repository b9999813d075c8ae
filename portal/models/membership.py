"""Paid membership tiers (会员等级) and the periods customers bought."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, utcnow


class MembershipTier(Base):
    """A tier staff offer: its price, how long it lasts, the freight discount, monthly coupons."""

    __tablename__ = "membership_tiers"
    __table_args__ = (
        CheckConstraint("price_fen > 0", name="price"),
        CheckConstraint("duration_days > 0", name="duration"),
        CheckConstraint("discount_percent > 0 AND discount_percent <= 50", name="discount"),
        CheckConstraint("monthly_coupons >= 0 AND monthly_coupons <= 10", name="monthly_coupons"),
        CheckConstraint(
            "monthly_coupons = 0 OR coupon_template_id IS NOT NULL", name="coupon_template"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(40))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    duration_days: Mapped[int] = mapped_column(Integer)
    # Percent off the base freight of orders paid while the membership runs.
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    coupon_template_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_templates.id"))
    monthly_coupons: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    """One bought period of a tier; a renewal adds a period starting where the last one ends."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="period"),
        Index("ix_memberships_customer_ends_at", "customer_id", "ends_at"),
        Index("ix_memberships_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    tier_id: Mapped[int] = mapped_column(ForeignKey("membership_tiers.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The tier's terms when it was bought: editing the tier later leaves this period as sold.
    price_fen: Mapped[int] = mapped_column(BigInteger)
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    coupon_template_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_templates.id"))
    monthly_coupons: Mapped[int] = mapped_column(Integer, default=0)
    # The ledger payment that bought it: one period per charge.
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tier: Mapped[MembershipTier] = relationship(lazy="joined")
