"""Inbound parcels a customer registers (预报), their intake photos, and their status history."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, one_of, utcnow
from portal.models.rates import GOODS_CATEGORIES

PARCEL_STATES = ("expected", "received", "consolidated")


class Parcel(Base):
    __tablename__ = "parcels"
    __table_args__ = (
        UniqueConstraint("customer_id", "tracking_no"),
        CheckConstraint(one_of("status", PARCEL_STATES), name="status"),
        CheckConstraint(one_of("category", GOODS_CATEGORIES), name="category"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("declared_value_fen >= 0", name="declared_value"),
        CheckConstraint("weight_g IS NULL OR weight_g > 0", name="weight"),
        CheckConstraint(
            "declared_weight_g IS NULL OR declared_weight_g > 0", name="declared_weight"
        ),
        Index("ix_parcels_customer_status_created", "customer_id", "status", "created_at"),
        # The "free storage ending" count and list of a customer's parcels in stock.
        Index("ix_parcels_customer_status_received", "customer_id", "status", "received_at"),
        # Covers the search's tab counts: `LIKE '%...%'` is checked in the index, not the table.
        Index("ix_parcels_customer_search", "customer_id", "status", "contents", "tracking_no"),
        Index("ix_parcels_tracking_no", "tracking_no"),
        # Staff lists and dashboard counts across customers: by status, and received per day.
        Index("ix_parcels_status_created", "status", "created_at"),
        Index("ix_parcels_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    tracking_no: Mapped[str] = mapped_column(String(40))
    courier: Mapped[str] = mapped_column(String(20), default="")
    contents: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(30), default="general")
    declared_value_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    declared_weight_g: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="expected")
    # Another customer registered the same tracking number first: staff must check who owns it.
    shared_tracking_no: Mapped[bool] = mapped_column(Boolean, default=False)
    weight_g: Mapped[int | None] = mapped_column(Integer)
    length_cm: Mapped[int | None] = mapped_column(Integer)
    width_cm: Mapped[int | None] = mapped_column(Integer)
    height_cm: Mapped[int | None] = mapped_column(Integer)
    condition_note: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    photos: Mapped[list["ParcelPhoto"]] = relationship(
        back_populates="parcel", cascade="all, delete-orphan", order_by="ParcelPhoto.id"
    )

    @property
    def is_in_stock(self) -> bool:
        """Physically in the warehouse (received, possibly already bound to an order)."""
        return self.received_at is not None

    @property
    def known_weight_g(self) -> int | None:
        """The measured weight once received, else the customer's estimate."""
        return self.weight_g or self.declared_weight_g


class ParcelPhoto(Base):
    """An intake photo: the stored image and its thumbnail, kept outside static/."""

    __tablename__ = "parcel_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    image_key: Mapped[str] = mapped_column(String(100))
    thumb_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parcel: Mapped[Parcel] = relationship(back_populates="photos")


class ParcelEvent(Base):
    """One status change of a parcel: who, from what, to what, why."""

    __tablename__ = "parcel_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
