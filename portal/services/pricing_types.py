"""Plain, frozen values the pricing service reads (rates, a request) and returns (a quote).

Money is integer fen, weight integer grams, sizes integer cm, percentages Decimal percent (12.5).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from portal.services.pricing_areas import AreaIndex, Place, place_of


class Reason(StrEnum):
    """Why a channel cannot carry a shipment."""

    NO_ZONE = "NO_ZONE"
    CATEGORY_NOT_ALLOWED = "CATEGORY_NOT_ALLOWED"
    OVER_MAX_WEIGHT = "OVER_MAX_WEIGHT"
    OVER_MAX_DIMENSION = "OVER_MAX_DIMENSION"
    REMOTE_NOT_SERVICEABLE = "REMOTE_NOT_SERVICEABLE"
    NO_RATE = "NO_RATE"


class LineCode(StrEnum):
    """Quote lines, in the order they are computed and shown."""

    BASE = "BASE"
    REMOTE = "REMOTE"
    SENSITIVE = "SENSITIVE"
    OVERSIZE = "OVERSIZE"
    HANDLING = "HANDLING"
    FUEL = "FUEL"
    MEMBER_DISCOUNT = "MEMBER_DISCOUNT"
    COUPON = "COUPON"
    INSURANCE = "INSURANCE"
    DUTIES = "DUTIES"


class WarningCode(StrEnum):
    MIN_CHARGE_APPLIED = "MIN_CHARGE_APPLIED"
    MIN_WEIGHT_APPLIED = "MIN_WEIGHT_APPLIED"
    COUPON_BELOW_THRESHOLD = "COUPON_BELOW_THRESHOLD"
    COUPON_CAPPED = "COUPON_CAPPED"
    INSURANCE_NOT_OFFERED = "INSURANCE_NOT_OFFERED"
    INSURANCE_NEEDS_VALUE = "INSURANCE_NEEDS_VALUE"
    INSURANCE_CAPPED = "INSURANCE_CAPPED"
    DUTIES_ESTIMATED = "DUTIES_ESTIMATED"


# ---- rates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """A country, optionally a region/city and a postcode pattern, all normalised."""

    country: str
    region: str = ""
    postcode: str = ""


@dataclass(frozen=True)
class Band:
    min_excl_g: int
    max_incl_g: int
    first_g: int
    first_price_fen: int
    unit_g: int
    unit_price_fen: int
    parcel_fee_fen: int = 0


@dataclass(frozen=True)
class ZoneRates:
    code: str
    areas: tuple[Area, ...]
    bands: tuple[Band, ...]
    transit_days: tuple[int, int] | None = None

    @cached_property
    def area_index(self) -> AreaIndex:
        return AreaIndex(self.areas)


@dataclass(frozen=True)
class SurchargeRule:
    kind: str
    remote_areas: tuple[Area, ...] = ()
    categories: frozenset[str] = frozenset()
    percent: Decimal | None = None
    per_kg_fen: int | None = None
    min_fen: int | None = None
    flat_fen: int | None = None
    per_piece_fen: int | None = None
    refuse: bool = False
    fuel_applies: bool = False
    valid_from: date | None = None
    valid_to: date | None = None

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day < self.valid_to
        )

    @cached_property
    def remote_index(self) -> AreaIndex:
        return AreaIndex(self.remote_areas)


@dataclass(frozen=True)
class DutyRule:
    country: str
    percent: Decimal
    de_minimis_fen: int
    basis: str
    valid_from: date
    valid_to: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True)
class ChannelRates:
    """Everything needed to price one channel of one rate-card version."""

    code: str
    name_zh: str
    name_en: str
    service_level: str
    transit_days: tuple[int, int]
    rounding_step_g: int
    categories: frozenset[str]
    zones: tuple[ZoneRates, ...]
    rate_card_version: str = ""
    carrier: str = ""
    volumetric_divisor: int | None = None
    volumetric_min_side_cm: int | None = None
    min_chargeable_g: int = 0
    min_charge_fen: int = 0
    max_piece_g: int | None = None
    max_chargeable_g: int | None = None
    max_longest_side_cm: int | None = None
    max_girth_cm: int | None = None
    over_limit_action: str = "refuse"
    # Refused above these even when over_limit_action is "fee" (None: no such limit).
    refuse_piece_g: int | None = None
    refuse_longest_side_cm: int | None = None
    refuse_girth_cm: int | None = None
    is_ddp: bool = False
    insurance_percent: Decimal | None = None
    insurance_min_fen: int = 0
    insurance_max_fen: int | None = None
    surcharges: tuple[SurchargeRule, ...] = ()
    duty_rules: tuple[DutyRule, ...] = ()

    @cached_property
    def countries(self) -> frozenset[str]:
        """Every country some zone of the channel covers."""
        return frozenset(area.country for zone in self.zones for area in zone.areas)

    @cached_property
    def surcharges_by_kind(self) -> dict[str, tuple[SurchargeRule, ...]]:
        """The surcharge rules of each kind, in the card's order."""
        kinds: dict[str, list[SurchargeRule]] = {}
        for rule in self.surcharges:
            kinds.setdefault(rule.kind, []).append(rule)
        return {kind: tuple(rules) for kind, rules in kinds.items()}


# ---- request -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where a shipment goes; a zone listed by region matches either the region or the city."""

    country: str
    region: str = ""
    postcode: str = ""
    city: str = ""

    @cached_property
    def place(self) -> Place:
        """The destination normalised for matching areas (computed once per destination)."""
        return place_of(self)


@dataclass(frozen=True)
class Piece:
    """One box: weight in grams, optional sides in cm (all three, or none)."""

    weight_g: int
    length_cm: int = 0
    width_cm: int = 0
    height_cm: int = 0

    @property
    def has_dimensions(self) -> bool:
        return self.length_cm > 0 and self.width_cm > 0 and self.height_cm > 0

    @property
    def longest_side_cm(self) -> int:
        return max(self.length_cm, self.width_cm, self.height_cm)

    @property
    def girth_cm(self) -> int:
        return self.length_cm + self.width_cm + self.height_cm


@dataclass(frozen=True)
class Coupon:
    """One coupon: a fixed amount off or a percentage (with an optional cap), above a threshold."""

    code: str
    kind: str
    value_fen: int = 0
    percent: Decimal = Decimal(0)
    threshold_fen: int = 0
    cap_fen: int | None = None


@dataclass(frozen=True)
class QuoteRequest:
    destination: Destination
    pieces: tuple[Piece, ...]
    on: date
    categories: frozenset[str] = frozenset({"general"})
    declared_value_fen: int = 0
    insure: bool = False
    member_percent: Decimal = Decimal(0)
    coupon: Coupon | None = None


# ---- result ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PieceWeight:
    actual_g: int
    volumetric_g: int | None
    chargeable_g: int

    @property
    def volumetric_used(self) -> bool:
        return self.volumetric_g is not None and self.volumetric_g > self.actual_g


@dataclass(frozen=True)
class QuoteLine:
    """One priced line; `facts` carries the numbers that explain it (for labels and the bill)."""

    code: LineCode
    amount_fen: int
    facts: tuple[tuple[str, object], ...] = ()

    def fact(self, name: str, default: object = None) -> object:
        return dict(self.facts).get(name, default)


@dataclass(frozen=True)
class Notice:
    code: WarningCode
    facts: tuple[tuple[str, object], ...] = ()

    def fact(self, name: str, default: object = None) -> object:
        return dict(self.facts).get(name, default)


@dataclass(frozen=True)
class Quote:
    channel: ChannelRates
    available: bool
    reason: Reason | None = None
    zone_code: str | None = None
    pieces: tuple[PieceWeight, ...] = ()
    chargeable_g: int = 0
    lines: tuple[QuoteLine, ...] = ()
    transit_days: tuple[int, int] | None = None
    warnings: tuple[Notice, ...] = field(default=())
    # The sum of the lines, added up once (lists sort, compare and print it several times).
    total_fen: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_fen", sum(line.amount_fen for line in self.lines))

    def line(self, code: LineCode) -> QuoteLine | None:
        return next((line for line in self.lines if line.code == code), None)
