"""Finding the rate card in force and loading its channels as plain pricing values (cached)."""

import time
from datetime import date
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Channel, ChannelZone, RateCard, RateZone, Surcharge, utcnow
from portal.models import DutyRule as DutyRuleRow
from portal.services.pricing_areas import normalise_region
from portal.services.pricing_types import (
    Area,
    Band,
    ChannelRates,
    DutyRule,
    SurchargeRule,
    ZoneRates,
)

BUSINESS_ZONE = ZoneInfo("Asia/Shanghai")


def business_today() -> date:
    """Rate cards and surcharges change at midnight in China, where the warehouse works."""
    return utcnow().astimezone(BUSINESS_ZONE).date()


# Which card is in force is looked up at most this often per process and day; a newly imported
# card or an edit (which bumps the revision) is seen by every worker within this many seconds.
IN_FORCE_SECONDS = 10.0
_in_force: dict[tuple[str, date], tuple[float, tuple | None]] = {}


def in_force_key(on: date) -> tuple | None:
    """(database, card id, revision, created_at) of the card valid on a day, or None."""
    url = str(db.engine.url)
    now = time.monotonic()
    cached = _in_force.get((url, on))
    if cached is not None and cached[0] > now:
        return cached[1]
    card = current_card(on)
    key = None if card is None else (url, card.id, card.revision, card.created_at)
    _in_force[(url, on)] = (now + IN_FORCE_SECONDS, key)
    return key


def channels_in_force(on: date) -> tuple[ChannelRates, ...]:
    """The active channels of the card valid on a day (none when no card is)."""
    key = in_force_key(on)
    return () if key is None else tuple(c for c, active in _load(*key) if active)


def card_channel(card: RateCard, code: str) -> ChannelRates | None:
    """One channel as priced on a given card version, active or not (an order is billed with
    the card it was placed with, even once a newer card is in force)."""
    loaded = _load(str(db.engine.url), card.id, card.revision, card.created_at)
    return next((channel for channel, _active in loaded if channel.code == code), None)


def clear_caches() -> None:
    """Forget loaded cards (tests, and after importing a card in the same process)."""
    _in_force.clear()
    _load.cache_clear()


def current_card(on: date) -> RateCard | None:
    """The card valid on a day; when several are, the one that started last."""
    return db.session.execute(
        select(RateCard)
        .where(RateCard.valid_from <= on, or_(RateCard.valid_to.is_(None), RateCard.valid_to > on))
        .order_by(RateCard.valid_from.desc(), RateCard.id.desc())
        .limit(1)
    ).scalar_one_or_none()


@lru_cache(maxsize=16)
def _load(
    _database: str, card_id: int, _revision: int, _created_at: object
) -> tuple[tuple[ChannelRates, bool], ...]:
    card = db.session.execute(
        select(RateCard)
        .where(RateCard.id == card_id)
        .options(
            selectinload(RateCard.channels)
            .selectinload(Channel.zones)
            .options(
                selectinload(ChannelZone.rows),
                selectinload(ChannelZone.zone).selectinload(RateZone.areas),
            ),
            selectinload(RateCard.channels)
            .selectinload(Channel.surcharges)
            .selectinload(Surcharge.remote_zone)
            .selectinload(RateZone.areas),
            selectinload(RateCard.duty_rules),
        )
    ).scalar_one()
    duties = tuple(_duty(rule) for rule in card.duty_rules)
    return tuple((_channel(ch, card.version, duties), ch.is_active) for ch in card.channels)


def _channel(ch: Channel, version: str, duties: tuple[DutyRule, ...]) -> ChannelRates:
    return ChannelRates(
        code=ch.code,
        name_zh=ch.name_zh,
        name_en=ch.name_en,
        carrier=ch.carrier,
        service_level=ch.service_level,
        transit_days=(ch.transit_min_days, ch.transit_max_days),
        rounding_step_g=ch.rounding_step_g,
        categories=frozenset(ch.category_codes),
        zones=tuple(_zone(cz) for cz in ch.zones),
        rate_card_version=version,
        volumetric_divisor=ch.volumetric_divisor,
        volumetric_min_side_cm=ch.volumetric_min_side_cm,
        min_chargeable_g=ch.min_chargeable_g,
        min_charge_fen=ch.min_charge_fen,
        max_piece_g=ch.max_piece_g,
        max_chargeable_g=ch.max_chargeable_g,
        max_longest_side_cm=ch.max_longest_side_cm,
        max_girth_cm=ch.max_girth_cm,
        over_limit_action=ch.over_limit_action,
        refuse_piece_g=ch.refuse_piece_g,
        refuse_longest_side_cm=ch.refuse_longest_side_cm,
        refuse_girth_cm=ch.refuse_girth_cm,
        is_ddp=ch.is_ddp,
        insurance_percent=_percent(ch.insurance_rate_bp),
        insurance_min_fen=ch.insurance_min_fen,
        insurance_max_fen=ch.insurance_max_fen,
        surcharges=tuple(_surcharge(s) for s in ch.surcharges),
        duty_rules=duties if ch.is_ddp else (),
    )


def _percent(basis_points: int | None) -> Decimal | None:
    return None if basis_points is None else Decimal(basis_points) / 100


def _areas(zone: RateZone | None) -> tuple[Area, ...]:
    if zone is None:
        return ()
    return tuple(Area(a.country, normalise_region(a.region), a.postcode) for a in zone.areas)


def _zone(cz: ChannelZone) -> ZoneRates:
    transit = None
    if cz.transit_min_days is not None and cz.transit_max_days is not None:
        transit = (cz.transit_min_days, cz.transit_max_days)
    bands = tuple(
        Band(
            r.min_excl_g,
            r.max_incl_g,
            r.first_g,
            r.first_price_fen,
            r.unit_g,
            r.unit_price_fen,
            r.parcel_fee_fen,
        )
        for r in cz.rows
    )
    return ZoneRates(cz.zone.code, _areas(cz.zone), bands, transit)


def _surcharge(s: Surcharge) -> SurchargeRule:
    return SurchargeRule(
        kind=s.kind,
        remote_areas=_areas(s.remote_zone),
        categories=frozenset(s.category_codes),
        percent=_percent(s.percent_bp),
        per_kg_fen=s.per_kg_fen,
        min_fen=s.min_fen,
        flat_fen=s.flat_fen,
        per_piece_fen=s.per_piece_fen,
        refuse=s.refuse,
        fuel_applies=s.fuel_applies,
        valid_from=s.valid_from,
        valid_to=s.valid_to,
    )


def _duty(rule: DutyRuleRow) -> DutyRule:
    return DutyRule(
        country=rule.country,
        percent=_percent(rule.rate_bp),
        de_minimis_fen=rule.de_minimis_fen,
        basis=rule.basis,
        valid_from=rule.valid_from,
        valid_to=rule.valid_to,
    )
