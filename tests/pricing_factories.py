"""Small builders of pricing values for the pure pricing tests."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

from portal.services.pricing_types import (
    Area,
    Band,
    ChannelRates,
    Coupon,
    Destination,
    Piece,
    QuoteRequest,
    SurchargeRule,
    ZoneRates,
)

TODAY = date(2026, 11, 22)

# 0 < W <= 20 kg: first 0.5 kg 100.00, each further 0.5 kg 30.00.
EXPRESS_BAND = Band(0, 20_000, 500, 10_000, 500, 3_000)


def zone(code: str = "US", *areas: Area, bands=(EXPRESS_BAND,), transit=None) -> ZoneRates:
    return ZoneRates(code, areas or (Area("US"),), tuple(bands), transit)


def channel(**overrides) -> ChannelRates:
    values = {
        "code": "US-EXP",
        "name_zh": "美国特快",
        "name_en": "US Express",
        "service_level": "express",
        "transit_days": (3, 9),
        "rounding_step_g": 500,
        "categories": frozenset({"general"}),
        "zones": (zone(),),
        "volumetric_divisor": 5000,
    }
    values.update(overrides)
    return ChannelRates(**values)


def surcharge(kind: str, **values) -> SurchargeRule:
    return SurchargeRule(kind=kind, **values)


def request(*pieces: Piece, **overrides) -> QuoteRequest:
    values = {
        "destination": Destination("US", "", "10001"),
        "pieces": pieces or (Piece(1_200),),
        "on": TODAY,
    }
    values.update(overrides)
    return QuoteRequest(**values)


def fixed_coupon(value_fen: int, threshold_fen: int = 0) -> Coupon:
    return Coupon("SAVE", "fixed", value_fen=value_fen, threshold_fen=threshold_fen)


def percent_coupon(percent: str, threshold_fen: int = 0, cap_fen: int | None = None) -> Coupon:
    return Coupon(
        "PCT", "percent", percent=Decimal(percent), threshold_fen=threshold_fen, cap_fen=cap_fen
    )


def with_band(ch: ChannelRates, *bands: Band) -> ChannelRates:
    return replace(ch, zones=(replace(ch.zones[0], bands=bands),))
