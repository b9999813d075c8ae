"""Unclaimed parcels (无主件): parcels that arrived with no registration, their photos, and the
claims customers make on them."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, one_of, utcnow

UNCLAIMED_STATES = ("unclaimed", "claimed")
CLAIM_STATES = ("pending", "approved", "rejected")


class UnclaimedParcel(Base):
    __tablename__ = "unclaimed_parcels"
    __table_args__ = (
        CheckConstraint(one_of("status", UNCLAIMED_STATES), name="status"),
        CheckConstraint("weight_g > 0", name="weight"),
        Index("ix_unclaimed_parcels_tracking_no", "tracking_no"),
        Index("ix_unclaimed_parcels_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_no: Mapped[str] = mapped_column(String(40))
    courier: Mapped[str] = mapped_column(String(20), default="")
    weight_g: Mapped[int] = mapped_column(Integer)
    length_cm: Mapped[int | None] = mapped_column(Integer)
    width_cm: Mapped[int | None] = mapped_column(Integer)
    height_cm: Mapped[int | None] = mapped_column(Integer)
    condition_note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="unclaimed")
    received_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The customer's parcel this became once a claim was approved.
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcels.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    photos: Mapped[list["UnclaimedParcelPhoto"]] = relationship(
        back_populates="unclaimed", cascade="all, delete-orphan", order_by="UnclaimedParcelPhoto.id"
    )


class UnclaimedParcelPhoto(Base):
    __tablename__ = "unclaimed_parcel_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unclaimed_id: Mapped[int] = mapped_column(
        ForeignKey("unclaimed_parcels.id", ondelete="CASCADE"), index=True
    )
    image_key: Mapped[str] = mapped_column(String(100))
    thumb_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unclaimed: Mapped[UnclaimedParcel] = relationship(back_populates="photos")


class ParcelClaim(Base):
    """A customer's claim that an unclaimed parcel is theirs, with their proof, and its review."""

    __tablename__ = "parcel_claims"
    __table_args__ = (
        CheckConstraint(one_of("status", CLAIM_STATES), name="status"),
        # One open claim per customer and parcel; at most one approved claim per parcel.
        Index(
            "uq_parcel_claims_pending",
            "unclaimed_id",
            "customer_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "uq_parcel_claims_approved",
            "unclaimed_id",
            unique=True,
            sqlite_where=text("status = 'approved'"),
            postgresql_where=text("status = 'approved'"),
        ),
        Index("ix_parcel_claims_status_created", "status", "created_at"),
        Index("ix_parcel_claims_customer", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unclaimed_id: Mapped[int] = mapped_column(ForeignKey("unclaimed_parcels.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # The whole tracking number as the customer knows it, and what they say is inside.
    tracking_no: Mapped[str] = mapped_column(String(40))
    contents: Mapped[str] = mapped_column(String(200))
    # An uploaded proof (a screenshot of the shop order), stored outside static/.
    proof_key: Mapped[str | None] = mapped_column(String(100))
    review_reason: Mapped[str] = mapped_column(String(200), default="")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unclaimed: Mapped[UnclaimedParcel] = relationship()
