"""Properties of the pricing service over generated channels and requests (Hypothesis)."""

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.services import pricing
from portal.services.pricing import (
    QuoteMemo,
    freight,
    quote,
    quote_all,
    reads_declared_value,
    with_declared_value,
)
from portal.services.pricing_areas import AreaIndex, area_score, best_score
from portal.services.pricing_types import (
    Area,
    Band,
    Coupon,
    Destination,
    DutyRule,
    LineCode,
    Piece,
    QuoteRequest,
)
from tests.pricing_factories import TODAY, channel, request, surcharge, zone

DISCOUNTS = (LineCode.MEMBER_DISCOUNT, LineCode.COUPON)
fen = st.integers(min_value=0, max_value=500_000)
percent = st.decimals(min_value=0, max_value=100, places=2)
# The strategies the composites draw from are built once, here: Hypothesis validates every new
# strategy it draws from, so one made per draw is slow.
EDGES = st.sets(st.integers(1, 30_000), min_size=1, max_size=5)
STEPS_G = st.sampled_from([10, 100, 500, 1_000])
DIVISORS = st.sampled_from([None, 5000, 6000, 8000])
MIN_SIDES = st.sampled_from([None, 40])
MIN_CHARGEABLE = st.sampled_from([0, 500, 2_000])
MIN_CHARGES = st.sampled_from([0, 5_000])
MAX_PIECES = st.sampled_from([None, 20_000])
OVER_LIMIT = st.sampled_from(["refuse", "fee"])
INSURANCE = st.one_of(st.none(), percent)


@st.composite
def bands(draw) -> tuple[Band, ...]:
    """Contiguous bands from 0 to at least 30 kg with arbitrary (not monotonic) prices."""
    edges = sorted(draw(EDGES) | {100_000})
    result, low = [], 0
    for high in edges:
        first = draw(st.integers(0, high))
        unit = draw(STEPS_G)
        result.append(Band(low, high, first, draw(fen), unit, draw(fen), draw(fen)))
        low = high
    return tuple(result)


BANDS = bands()


@st.composite
def channels(draw):
    rules = [
        surcharge("fuel", percent=draw(percent), valid_from=date(2026, 1, 1)),
        surcharge(
            "remote",
            remote_areas=(Area("US", "", "99*"),),
            per_kg_fen=draw(fen),
            min_fen=draw(fen),
            fuel_applies=draw(st.booleans()),
        ),
        surcharge("handling", flat_fen=draw(fen), per_piece_fen=draw(fen)),
        surcharge("oversize", per_piece_fen=draw(fen), fuel_applies=draw(st.booleans())),
    ]
    return channel(
        zones=(zone("US", Area("US"), bands=draw(BANDS)),),
        rounding_step_g=draw(STEPS_G),
        volumetric_divisor=draw(DIVISORS),
        volumetric_min_side_cm=draw(MIN_SIDES),
        min_chargeable_g=draw(MIN_CHARGEABLE),
        min_charge_fen=draw(MIN_CHARGES),
        max_piece_g=draw(MAX_PIECES),
        over_limit_action=draw(OVER_LIMIT),
        insurance_percent=draw(INSURANCE),
        insurance_min_fen=draw(fen),
        surcharges=tuple(rules),
    )


CHANNELS = channels()
pieces = st.builds(
    Piece,
    weight_g=st.integers(1, 30_000),
    length_cm=st.integers(0, 150),
    width_cm=st.integers(0, 150),
    height_cm=st.integers(0, 150),
)
coupons = st.one_of(
    st.none(),
    st.builds(Coupon, code=st.just("C"), kind=st.just("fixed"), value_fen=fen, threshold_fen=fen),
    st.builds(
        Coupon,
        code=st.just("C"),
        kind=st.just("percent"),
        percent=percent,
        threshold_fen=fen,
        cap_fen=st.one_of(st.none(), fen),
    ),
)
requests = st.builds(
    QuoteRequest,
    destination=st.builds(
        Destination, st.just("US"), st.just(""), st.sampled_from(["10001", "99501"])
    ),
    pieces=st.lists(pieces, min_size=1, max_size=4).map(tuple),
    on=st.just(TODAY),
    declared_value_fen=fen,
    insure=st.booleans(),
    member_percent=percent,
    coupon=coupons,
)


@settings(max_examples=400, deadline=None)
@given(CHANNELS, requests)
def test_quote_properties(ch, req):
    q = quote(ch, req)
    if not q.available:
        assert q.lines == () and q.reason is not None
        return
    amounts = [line.amount_fen for line in q.lines]
    assert all(type(a) is int for a in amounts), "money is integer fen, never float or Decimal"
    assert q.total_fen == sum(amounts)
    assert q.lines[0].code == LineCode.BASE
    order = list(LineCode)
    assert [order.index(line.code) for line in q.lines] == sorted(
        order.index(line.code) for line in q.lines
    )
    for piece, weight in zip(q.pieces, req.pieces, strict=True):
        assert piece.chargeable_g >= piece.actual_g == weight.weight_g
        assert piece.chargeable_g % ch.rounding_step_g == 0
    assert q.chargeable_g >= sum(p.weight_g for p in req.pieces)
    base = q.lines[0].amount_fen
    discounts = -sum(line.amount_fen for line in q.lines if line.code in DISCOUNTS)
    assert 0 <= discounts <= base
    assert all(line.amount_fen >= 0 for line in q.lines if line.code not in DISCOUNTS)
    assert q.total_fen >= 0
    assert isinstance(q.chargeable_g, int)
    assert all(isinstance(v, Decimal | int | str | bool) for line in q.lines for _, v in line.facts)


# ---- the quote memo ----------------------------------------------------------------------------

DESTINATIONS = st.builds(
    Destination,
    st.sampled_from(["US", "GB"]),
    st.sampled_from(["", "alaska"]),
    st.sampled_from(["10001", "99501", "99501-1234", "SW1A 1AA", ""]),
    st.sampled_from(["", "Alaska"]),
)
DUTY_THRESHOLDS = st.sampled_from([0, 5_000, 80_000])
DUTY_BASES = st.sampled_from(["goods", "goods_freight"])
DUTY_DATES = st.sampled_from([date(2026, 1, 1), date(2027, 1, 1)])
DUTY_COUNTRIES = st.sets(st.sampled_from(["US", "GB"]))
CODES = st.sampled_from(["A", "B", "C"])
RUN_LENGTHS = st.integers(1, 8)
RUN_STEPS = st.sampled_from(["declared", "declared", "insure", "destination", "pieces"])
DECLARED_VALUES = st.sampled_from([0, 1, 5_000, 80_000, 80_001])


@st.composite
def memo_channels(draw):
    """A generated channel (as above) that may also be DDP, with duty rules for some countries,
    serve a second country, and refuse remote areas."""
    base = draw(CHANNELS)
    duty_rules = tuple(
        DutyRule(
            country,
            draw(percent),
            draw(DUTY_THRESHOLDS),
            draw(DUTY_BASES),
            draw(DUTY_DATES),
        )
        for country in draw(DUTY_COUNTRIES)
    )
    zones = base.zones
    if draw(st.booleans()):
        zones += (zone("GB", Area("GB"), bands=base.zones[0].bands),)
    remote = surcharge("remote", remote_areas=(Area("US", "alaska"),), refuse=draw(st.booleans()))
    return replace(
        base,
        code=draw(CODES),
        zones=zones,
        is_ddp=draw(st.booleans()),
        duty_rules=duty_rules,
        surcharges=base.surcharges + (remote,),
    )


@st.composite
def request_runs(draw) -> list[QuoteRequest]:
    """Requests a customer might send one after another: mostly the same shipment with another
    declared value, sometimes insured, sometimes another destination or weight."""
    first = draw(requests)
    run = [replace(first, destination=draw(DESTINATIONS))]
    for _ in range(draw(RUN_LENGTHS)):
        previous = run[-1]
        step = draw(RUN_STEPS)
        if step == "declared":
            following = replace(previous, declared_value_fen=draw(DECLARED_VALUES))
        elif step == "insure":
            following = replace(previous, insure=not previous.insure)
        elif step == "destination":
            following = replace(previous, destination=draw(DESTINATIONS))
        else:
            following = replace(previous, pieces=(draw(pieces),))
        run.append(following)
    return run


@settings(max_examples=300, deadline=None)
@given(st.lists(memo_channels(), min_size=1, max_size=4), request_runs(), st.integers(1, 3))
def test_the_memo_answers_as_quote_all_does(chs, run, size):
    memo = QuoteMemo(size=size)
    for req in run * 2:  # the second time round, answers come from the memo where they can
        remembered = memo.quote_all(chs, req)
        direct = quote_all(chs, req)
        assert remembered == direct
        assert repr(remembered) == repr(direct)  # Decimal("10") and Decimal("10.0") too


@settings(max_examples=300, deadline=None)
@given(memo_channels(), request_runs(), st.integers(0, 1_000_000))
def test_a_channel_that_does_not_read_the_declared_value_does_not_depend_on_it(ch, run, other):
    for req in run:
        if not reads_declared_value(ch, req):
            assert quote(ch, req) == quote(ch, replace(req, declared_value_fen=other))


def test_the_memo_tells_equal_decimals_with_other_exponents_apart():
    ch = channel()
    memo = QuoteMemo()
    ten = memo.quote_all([ch], request(member_percent=Decimal("10")))
    ten_point_zero = memo.quote_all([ch], request(member_percent=Decimal("10.0")))
    assert repr(ten[0]) != repr(ten_point_zero[0])
    assert repr(ten_point_zero) == repr(quote_all([ch], request(member_percent=Decimal("10.0"))))


def test_the_memo_prices_a_channels_freight_once_per_shipment(monkeypatch):
    ddp = channel(
        code="DDP", is_ddp=True, duty_rules=(DutyRule("US", Decimal(30), 0, "goods", TODAY),)
    )
    plain = channel(code="PLAIN")
    priced = []
    real = pricing.freight
    monkeypatch.setattr(pricing, "freight", lambda ch, req: priced.append(ch.code) or real(ch, req))
    memo = QuoteMemo()
    answers = [
        memo.quote_all([ddp, plain], request(declared_value_fen=declared))
        for declared in (10_000, 20_000, 10_000, 30_000)
    ]
    # Another declared value only adds the duties again: the freight is priced once each.
    assert priced == ["DDP", "PLAIN"]
    duties = [next(q for q in a if q.channel is ddp).line(LineCode.DUTIES) for a in answers]
    assert [line.amount_fen for line in duties] == [3_000, 6_000, 3_000, 9_000]


@settings(max_examples=300, deadline=None)
@given(memo_channels(), request_runs(), st.integers(0, 1_000_000), st.booleans())
def test_a_freight_finished_with_any_declared_value_is_that_values_quote(ch, run, other, insure):
    for req in run:
        part = freight(ch, replace(req, declared_value_fen=other, insure=insure))
        assert with_declared_value(part, req) == quote(ch, req)
        assert repr(with_declared_value(part, req)) == repr(quote(ch, req))


# ---- area matching -----------------------------------------------------------------------------


def reference_area_score(area: Area, destination: Destination):
    """Matching as it was written before areas were indexed: normalise, then compare."""
    region = re.sub(r"\s+", "", destination.region or "").casefold()
    city = re.sub(r"\s+", "", destination.city or "").casefold()
    postcode = re.sub(r"[\s\-]+", "", destination.postcode or "").upper()
    if destination.country == "US" and len(postcode) == 9 and postcode.isdigit():
        postcode = postcode[:5]
    if area.country != destination.country:
        return None
    if area.region and area.region not in (region, city):
        return None
    if not area.postcode:
        return (2, 0, 0) if area.region else (1, 0, 0)
    if not postcode:
        return None
    if area.postcode.endswith("*"):
        prefix = area.postcode[:-1]
        return (3, 1, len(prefix)) if postcode.startswith(prefix) else None
    bounds = re.match(r"^(\d+)-(\d+)$", area.postcode)
    if bounds:
        low, high = bounds.groups()
        if len(postcode) != len(low) or not postcode.isdigit():
            return None
        return (3, 0, -(int(high) - int(low))) if int(low) <= int(postcode) <= int(high) else None
    return (3, 2, 0) if area.postcode == postcode else None


AREAS = st.builds(
    Area,
    st.sampled_from(["US", "GB", "JP"]),
    st.sampled_from(["", "alaska", "newyork"]),
    st.sampled_from(["", "99*", "995*", "9*", "10001", "99501", "99500-99599", "100-0001"])
    | st.sampled_from(["1000000-1009999", "SW1A1AA", "SW1A*", "*"]),
)
PLACES = st.builds(
    Destination,
    st.sampled_from(["US", "GB", "JP"]),
    st.sampled_from(["", "Alaska", "New York", "NEW  YORK"]),
    st.sampled_from(["", "99501", "99501-1234", "995011234", "10001", "sw1a 1aa", "100-0001", "9"]),
    st.sampled_from(["", "Alaska", "new york"]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(AREAS, max_size=6), PLACES)
def test_indexed_areas_score_as_the_plain_comparison_does(areas, destination):
    scores = [s for s in (reference_area_score(a, destination) for a in areas) if s is not None]
    assert best_score(tuple(areas), destination) == (max(scores) if scores else None)
    assert AreaIndex(areas).best_score(destination.place) == (max(scores) if scores else None)
    for area in areas:
        assert area_score(area, destination) == reference_area_score(area, destination)
