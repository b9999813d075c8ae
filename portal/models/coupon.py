"""Coupons (优惠券): the templates staff define and the coupons issued from them to customers."""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, one_of, utcnow

COUPON_KINDS = ("fixed", "percent")
COUPON_SOURCES = ("staff", "new_customer", "claim", "code", "membership")


class CouponTemplate(Base):
    """What a coupon gives and who may have one; coupons are issued from it."""

    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint(one_of("kind", COUPON_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'fixed' AND value_fen > 0) OR (kind = 'percent' AND percent > 0"
            " AND percent <= 100)",
            name="value",
        ),
        CheckConstraint("threshold_fen >= 0", name="threshold"),
        CheckConstraint("cap_fen IS NULL OR cap_fen > 0", name="cap"),
        # Either a fixed window or a number of days after issue.
        CheckConstraint("(valid_days IS NULL) != (valid_until IS NULL)", name="validity"),
        CheckConstraint("valid_days IS NULL OR valid_days > 0", name="valid_days"),
        CheckConstraint("total_limit IS NULL OR total_limit > 0", name="total_limit"),
        CheckConstraint("per_customer_limit > 0", name="per_customer_limit"),
        CheckConstraint(
            "issued_count >= 0 AND (total_limit IS NULL OR issued_count <= total_limit)",
            name="issued",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    value_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    threshold_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    cap_fen: Mapped[int | None] = mapped_column(BigInteger)
    # Comma-separated channel codes and country codes it is limited to ("" means any).
    channels: Mapped[str] = mapped_column(String(400), default="")
    countries: Mapped[str] = mapped_column(String(200), default="")
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_days: Mapped[int | None] = mapped_column(Integer)
    total_limit: Mapped[int | None] = mapped_column(Integer)
    per_customer_limit: Mapped[int] = mapped_column(Integer, default=1)
    # Coupons counted toward the total limit (membership coupons are not), raised by a
    # conditional UPDATE so that the limit holds under concurrency.
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    # Offered on the claim page, given to each new customer, or redeemed with this code.
    claimable: Mapped[bool] = mapped_column(Boolean, default=False)
    for_new_customers: Mapped[bool] = mapped_column(Boolean, default=False)
    redeem_code: Mapped[str | None] = mapped_column(String(30), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def channel_list(self) -> list[str]:
        return self.channels.split(",") if self.channels else []

    @property
    def country_list(self) -> list[str]:
        return self.countries.split(",") if self.countries else []


class Coupon(Base):
    """One coupon a customer holds: held by at most one live order, used by at most one paid one."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint(one_of("source", COUPON_SOURCES), name="source"),
        # The n-th coupon of a template for a customer: the per-customer limit under concurrency.
        UniqueConstraint("template_id", "customer_id", "seq"),
        # The n-th coupon a membership granted (month m gives numbers (m-1)*k+1 .. m*k), once.
        UniqueConstraint("membership_id", "grant_no"),
        # An order holds at most one coupon, and a coupon is used by at most one order.
        Index(
            "uq_coupons_holding_order_id",
            "holding_order_id",
            unique=True,
            sqlite_where=text("holding_order_id IS NOT NULL"),
            postgresql_where=text("holding_order_id IS NOT NULL"),
        ),
        UniqueConstraint("used_order_id"),
        CheckConstraint("valid_until > valid_from", name="validity"),
        Index("ix_coupons_customer_valid_until", "customer_id", "valid_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seq: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    holding_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    used_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_fen: Mapped[int | None] = mapped_column(BigInteger)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    membership_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    grant_no: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    template: Mapped[CouponTemplate] = relationship(lazy="joined")
