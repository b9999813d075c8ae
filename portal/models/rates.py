"""Rate cards: channels, zones, rate rows, surcharges, duty rules (money in fen, weight in grams).

A rate card is one dated version of the whole price list. Orders record the card they were estimated
with, so a card that has been used is never edited in place; a new version is imported instead.
Percentages are stored as integer basis points (1250 = 12.5 %).
"""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, one_of, utcnow

SERVICE_LEVELS = ("express", "standard", "economy")
GOODS_CATEGORIES = (
    "general",
    "battery_in_equipment",
    "battery_with_equipment",
    "liquid",
    "cosmetic",
    "powder",
    "food",
    "brand",
    "magnetic",
)
ZONE_KINDS = ("delivery", "remote")
OVER_LIMIT_ACTIONS = ("refuse", "fee")
# Refusal limits only mean something where the max_* limits charge a fee instead of refusing.
REFUSAL_LIMITS_ON_FEE_ONLY = (
    "over_limit_action = 'fee' OR (refuse_piece_g IS NULL AND refuse_longest_side_cm IS NULL"
    " AND refuse_girth_cm IS NULL)"
)
SURCHARGE_KINDS = ("remote", "fuel", "sensitive", "oversize", "handling")
DUTY_BASES = ("goods", "goods_freight")


class RateCard(Base):
    __tablename__ = "rate_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    # Bumped by every edit so that caches of the loaded card (keyed by id and revision) expire.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    channels: Mapped[list["Channel"]] = relationship(
        back_populates="rate_card", cascade="all, delete-orphan", order_by="Channel.sort_order"
    )
    zones: Mapped[list["RateZone"]] = relationship(
        back_populates="rate_card", cascade="all, delete-orphan", order_by="RateZone.id"
    )
    duty_rules: Mapped[list["DutyRule"]] = relationship(
        back_populates="rate_card", cascade="all, delete-orphan", order_by="DutyRule.id"
    )

    __table_args__ = (CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates"),)


class RateZone(Base):
    """A named set of areas: a delivery zone priced by rate rows, or a remote-area list."""

    __tablename__ = "rate_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rate_card_id: Mapped[int] = mapped_column(ForeignKey("rate_cards.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(40))
    rate_card: Mapped[RateCard] = relationship(back_populates="zones")
    areas: Mapped[list["RateZoneArea"]] = relationship(
        back_populates="zone", cascade="all, delete-orphan", order_by="RateZoneArea.id"
    )

    __table_args__ = (
        UniqueConstraint("rate_card_id", "kind", "code"),
        CheckConstraint(one_of("kind", ZONE_KINDS), name="kind"),
    )


class RateZoneArea(Base):
    """A country, optionally narrowed to a region/city or a postcode pattern."""

    __tablename__ = "rate_zone_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("rate_zones.id", ondelete="CASCADE"), index=True
    )
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(40), default="")
    zone: Mapped[RateZone] = relationship(back_populates="areas")


class Channel(Base):
    """A shipping product (carrier + route + service level) with its weight rules and limits."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rate_card_id: Mapped[int] = mapped_column(ForeignKey("rate_cards.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    carrier: Mapped[str] = mapped_column(String(60), default="")
    service_level: Mapped[str] = mapped_column(String(10))
    transit_min_days: Mapped[int] = mapped_column(Integer)
    transit_max_days: Mapped[int] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    volumetric_divisor: Mapped[int | None] = mapped_column(Integer)
    volumetric_min_side_cm: Mapped[int | None] = mapped_column(Integer)
    rounding_step_g: Mapped[int] = mapped_column(Integer)
    min_chargeable_g: Mapped[int] = mapped_column(Integer, default=0)
    min_charge_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    max_piece_g: Mapped[int | None] = mapped_column(Integer)
    max_chargeable_g: Mapped[int | None] = mapped_column(Integer)
    max_longest_side_cm: Mapped[int | None] = mapped_column(Integer)
    max_girth_cm: Mapped[int | None] = mapped_column(Integer)
    over_limit_action: Mapped[str] = mapped_column(String(10), default="refuse")
    # On a "fee" channel the max_* limits above start the oversize fee; a piece over one of these
    # is refused even there (an express carrier charges above 100 cm and takes nothing over 150).
    refuse_piece_g: Mapped[int | None] = mapped_column(Integer)
    refuse_longest_side_cm: Mapped[int | None] = mapped_column(Integer)
    refuse_girth_cm: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[str] = mapped_column(String(200))
    is_ddp: Mapped[bool] = mapped_column(Boolean, default=False)
    insurance_rate_bp: Mapped[int | None] = mapped_column(Integer)
    insurance_min_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    insurance_max_fen: Mapped[int | None] = mapped_column(BigInteger)

    rate_card: Mapped[RateCard] = relationship(back_populates="channels")
    zones: Mapped[list["ChannelZone"]] = relationship(
        back_populates="channel", cascade="all, delete-orphan", order_by="ChannelZone.id"
    )
    surcharges: Mapped[list["Surcharge"]] = relationship(
        back_populates="channel", cascade="all, delete-orphan", order_by="Surcharge.id"
    )

    __table_args__ = (
        UniqueConstraint("rate_card_id", "code"),
        CheckConstraint(one_of("service_level", SERVICE_LEVELS), name="service_level"),
        CheckConstraint(one_of("over_limit_action", OVER_LIMIT_ACTIONS), name="over_limit_action"),
        CheckConstraint("rounding_step_g > 0", name="rounding_step"),
        CheckConstraint(
            "transit_min_days > 0 AND transit_max_days >= transit_min_days", name="transit"
        ),
        CheckConstraint("volumetric_divisor IS NULL OR volumetric_divisor > 0", name="divisor"),
        CheckConstraint(REFUSAL_LIMITS_ON_FEE_ONLY, name="refusal_limits"),
        CheckConstraint("min_charge_fen >= 0 AND insurance_min_fen >= 0", name="money"),
    )

    @property
    def category_codes(self) -> tuple[str, ...]:
        return tuple(c for c in self.categories.split(",") if c)


class ChannelZone(Base):
    """A delivery zone a channel serves, with its rate rows and optional transit days."""

    __tablename__ = "channel_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("rate_zones.id", ondelete="CASCADE"), index=True
    )
    transit_min_days: Mapped[int | None] = mapped_column(Integer)
    transit_max_days: Mapped[int | None] = mapped_column(Integer)

    channel: Mapped[Channel] = relationship(back_populates="zones")
    zone: Mapped[RateZone] = relationship()
    rows: Mapped[list["RateRow"]] = relationship(
        back_populates="channel_zone", cascade="all, delete-orphan", order_by="RateRow.min_excl_g"
    )

    __table_args__ = (UniqueConstraint("channel_id", "zone_id"),)


class RateRow(Base):
    """Price for min_excl < W <= max_incl: fee + first price + ceil((W - first) / unit) x unit."""

    __tablename__ = "rate_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_zone_id: Mapped[int] = mapped_column(
        ForeignKey("channel_zones.id", ondelete="CASCADE"), index=True
    )
    min_excl_g: Mapped[int] = mapped_column(Integer)
    max_incl_g: Mapped[int] = mapped_column(Integer)
    first_g: Mapped[int] = mapped_column(Integer)
    first_price_fen: Mapped[int] = mapped_column(BigInteger)
    unit_g: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    parcel_fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    channel_zone: Mapped[ChannelZone] = relationship(back_populates="rows")

    __table_args__ = (
        CheckConstraint("min_excl_g >= 0 AND max_incl_g > min_excl_g", name="band"),
        CheckConstraint("first_g >= 0 AND unit_g > 0", name="steps"),
        CheckConstraint(
            "first_price_fen >= 0 AND unit_price_fen >= 0 AND parcel_fee_fen >= 0", name="prices"
        ),
    )


class Surcharge(Base):
    """One surcharge rule of a channel; which amount columns are used depends on the kind."""

    __tablename__ = "surcharges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    remote_zone_id: Mapped[int | None] = mapped_column(ForeignKey("rate_zones.id"))
    categories: Mapped[str] = mapped_column(String(200), default="")
    percent_bp: Mapped[int | None] = mapped_column(Integer)
    per_kg_fen: Mapped[int | None] = mapped_column(BigInteger)
    min_fen: Mapped[int | None] = mapped_column(BigInteger)
    flat_fen: Mapped[int | None] = mapped_column(BigInteger)
    per_piece_fen: Mapped[int | None] = mapped_column(BigInteger)
    refuse: Mapped[bool] = mapped_column(Boolean, default=False)
    fuel_applies: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    channel: Mapped[Channel] = relationship(back_populates="surcharges")
    remote_zone: Mapped[RateZone | None] = relationship()

    __table_args__ = (CheckConstraint(one_of("kind", SURCHARGE_KINDS), name="kind"),)

    @property
    def category_codes(self) -> tuple[str, ...]:
        return tuple(c for c in self.categories.split(",") if c)


class DutyRule(Base):
    """Estimated import duties for DDP channels: a dated rate per destination country."""

    __tablename__ = "duty_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rate_card_id: Mapped[int] = mapped_column(ForeignKey("rate_cards.id", ondelete="CASCADE"))
    country: Mapped[str] = mapped_column(String(2))
    rate_bp: Mapped[int] = mapped_column(Integer)
    de_minimis_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    basis: Mapped[str] = mapped_column(String(15), default="goods")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    rate_card: Mapped[RateCard] = relationship(back_populates="duty_rules")

    __table_args__ = (
        CheckConstraint(one_of("basis", DUTY_BASES), name="basis"),
        CheckConstraint("rate_bp >= 0 AND de_minimis_fen >= 0", name="amounts"),
    )
