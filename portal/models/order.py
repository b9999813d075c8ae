"""Consolidation orders (集运单): the parcels bound to them, what they declare, what they cost,
and their status history and tracking timeline."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, one_of, utcnow

ORDER_STATES = ("pending_pack", "awaiting_payment", "paid", "shipped", "delivered", "cancelled")
CHARGE_STAGES = ("estimate", "bill")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(one_of("status", ORDER_STATES), name="status"),
        CheckConstraint("estimate_fen >= 0", name="estimate"),
        # A resubmitted (double-clicked) wizard carries the same token and finds this order.
        UniqueConstraint("customer_id", "submit_token"),
        Index("ix_orders_customer_status_created", "customer_id", "status", "created_at"),
        # The ops order list: by date, by status and date, and by outbound tracking number.
        Index("ix_orders_created_at", "created_at"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_outbound_tracking_no", "outbound_tracking_no"),
        CheckConstraint("packing_list_prints >= 0 AND label_prints >= 0", name="prints"),
        # Refunds never exceed what was paid, whatever the code above does.
        CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= COALESCE(paid_fen, 0)", name="refunds"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending_pack")
    submit_token: Mapped[str] = mapped_column(String(40))
    # The rate card the order was placed with; the warehouse bills with the same version.
    rate_card_id: Mapped[int] = mapped_column(ForeignKey("rate_cards.id"))
    channel_code: Mapped[str] = mapped_column(String(40))
    channel_name: Mapped[str] = mapped_column(String(100))
    service_level: Mapped[str] = mapped_column(String(20))
    transit_days_min: Mapped[int | None] = mapped_column(Integer)
    transit_days_max: Mapped[int | None] = mapped_column(Integer)
    # The address as it was when the order was placed (editing the book never changes it).
    ship_name: Mapped[str] = mapped_column(String(100))
    ship_phone: Mapped[str] = mapped_column(String(30))
    ship_country: Mapped[str] = mapped_column(String(2))
    ship_region: Mapped[str] = mapped_column(String(100), default="")
    ship_city: Mapped[str] = mapped_column(String(100), default="")
    ship_postcode: Mapped[str] = mapped_column(String(12), default="")
    ship_line1: Mapped[str] = mapped_column(String(200))
    ship_line2: Mapped[str] = mapped_column(String(200), default="")
    ship_tax_id: Mapped[str] = mapped_column(String(40), default="")
    categories: Mapped[str] = mapped_column(String(200), default="general")
    insure: Mapped[bool] = mapped_column(Boolean, default=False)
    declared_total_fen: Mapped[int] = mapped_column(BigInteger)
    estimate_weight_g: Mapped[int] = mapped_column(Integer)
    estimate_chargeable_g: Mapped[int] = mapped_column(Integer)
    estimate_fen: Mapped[int] = mapped_column(BigInteger)
    bill_fen: Mapped[int | None] = mapped_column(BigInteger)
    # What the customer paid from the balance, and how much of it was refunded since.
    paid_fen: Mapped[int | None] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # What the warehouse measured when packing: total actual weight and the chargeable weight.
    bill_weight_g: Mapped[int | None] = mapped_column(Integer)
    bill_chargeable_g: Mapped[int | None] = mapped_column(Integer)
    packed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    packing_list_prints: Mapped[int] = mapped_column(Integer, default=0)
    label_prints: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(200), default="")
    outbound_carrier: Mapped[str] = mapped_column(String(40), default="")
    outbound_tracking_no: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parcel_links: Mapped[list["OrderParcel"]] = relationship(
        back_populates="order", order_by="OrderParcel.id"
    )
    declaration_lines: Mapped[list["OrderDeclarationLine"]] = relationship(
        order_by="OrderDeclarationLine.seq", cascade="all, delete-orphan"
    )
    services: Mapped[list["OrderService"]] = relationship(
        order_by="OrderService.id", cascade="all, delete-orphan"
    )
    charge_lines: Mapped[list["OrderChargeLine"]] = relationship(
        order_by="(OrderChargeLine.stage, OrderChargeLine.seq)", cascade="all, delete-orphan"
    )
    boxes: Mapped[list["OrderBox"]] = relationship(
        order_by="OrderBox.seq", cascade="all, delete-orphan"
    )
    events: Mapped[list["OrderEvent"]] = relationship(order_by="OrderEvent.id")
    tracking_events: Mapped[list["TrackingEvent"]] = relationship(
        order_by="TrackingEvent.occurred_at.desc()"
    )

    @property
    def category_list(self) -> list[str]:
        return self.categories.split(",") if self.categories else []

    def charges(self, stage: str) -> list["OrderChargeLine"]:
        return [line for line in self.charge_lines if line.stage == stage]


class OrderParcel(Base):
    """A parcel bound to an order. `released_at` is set when the order is cancelled."""

    __tablename__ = "order_parcels"
    __table_args__ = (
        # The database itself refuses a parcel in two live orders.
        Index(
            "uq_order_parcels_live_parcel",
            "parcel_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    # Indexed on its own too: "was this parcel ever in an order" reads released links as well.
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="parcel_links")
    parcel: Mapped["Parcel"] = relationship()  # noqa: F821 (resolved by the registry)


class OrderDeclarationLine(Base):
    __tablename__ = "order_declaration_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_value_fen > 0", name="unit_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(30))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_value_fen: Mapped[int] = mapped_column(BigInteger)
    hs_code: Mapped[str] = mapped_column(String(12), default="")

    @property
    def total_fen(self) -> int:
        return self.quantity * self.unit_value_fen


class PackingService(Base):
    """A packing service customers may ask for (reinforcement, removing shoe boxes, ...)."""

    __tablename__ = "packing_services"
    __table_args__ = (CheckConstraint("price_fen >= 0", name="price"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class OrderService(Base):
    """A packing service chosen for an order, with its name and price as they were then."""

    __tablename__ = "order_services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    price_fen: Mapped[int] = mapped_column(BigInteger)


class OrderChargeLine(Base):
    """One priced line of an order's estimate or, once packed, of its bill."""

    __tablename__ = "order_charge_lines"
    __table_args__ = (CheckConstraint(one_of("stage", CHARGE_STAGES), name="stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    stage: Mapped[str] = mapped_column(String(10))
    seq: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(30))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(String(200), default="")


class OrderBox(Base):
    """One box the warehouse packed an order into, as measured, with its photo."""

    __tablename__ = "order_boxes"
    __table_args__ = (
        UniqueConstraint("order_id", "seq"),
        CheckConstraint("weight_g > 0", name="weight"),
        CheckConstraint("length_cm > 0 AND width_cm > 0 AND height_cm > 0", name="dimensions"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    weight_g: Mapped[int] = mapped_column(Integer)
    length_cm: Mapped[int] = mapped_column(Integer)
    width_cm: Mapped[int] = mapped_column(Integer)
    height_cm: Mapped[int] = mapped_column(Integer)
    photo_key: Mapped[str | None] = mapped_column(String(100))
    thumb_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderEvent(Base):
    """One status change of an order (the audit row of its state machine)."""

    __tablename__ = "order_events"
    # Daily trends (orders paid per day) read events by target status and time.
    __table_args__ = (Index("ix_order_events_to_status_created", "to_status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackingEvent(Base):
    """A step of the outbound shipment's journey (物流轨迹), added by staff or a carrier import."""

    __tablename__ = "tracking_events"
    # Importing the same carrier file twice adds nothing the second time.
    __table_args__ = (UniqueConstraint("order_id", "occurred_at", "description"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
