"""Properties of the pricing service over generated channels and requests (Hypothesis)."""

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.services.pricing import quote
from portal.services.pricing_types import (
    Area,
    Band,
    Coupon,
    Destination,
    LineCode,
    Piece,
    QuoteRequest,
)
from tests.pricing_factories import TODAY, channel, surcharge, zone

DISCOUNTS = (LineCode.MEMBER_DISCOUNT, LineCode.COUPON)
fen = st.integers(min_value=0, max_value=500_000)
percent = st.decimals(min_value=0, max_value=100, places=2)


@st.composite
def bands(draw) -> tuple[Band, ...]:
    """Contiguous bands from 0 to at least 30 kg with arbitrary (not monotonic) prices."""
    edges = sorted(draw(st.sets(st.integers(1, 30_000), min_size=1, max_size=5)) | {100_000})
    result, low = [], 0
    for high in edges:
        first = draw(st.integers(0, high))
        unit = draw(st.sampled_from([10, 100, 500, 1_000]))
        result.append(Band(low, high, first, draw(fen), unit, draw(fen), draw(fen)))
        low = high
    return tuple(result)


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
        zones=(zone("US", Area("US"), bands=draw(bands())),),
        rounding_step_g=draw(st.sampled_from([10, 100, 500, 1_000])),
        volumetric_divisor=draw(st.sampled_from([None, 5000, 6000, 8000])),
        volumetric_min_side_cm=draw(st.sampled_from([None, 40])),
        min_chargeable_g=draw(st.sampled_from([0, 500, 2_000])),
        min_charge_fen=draw(st.sampled_from([0, 5_000])),
        max_piece_g=draw(st.sampled_from([None, 20_000])),
        over_limit_action=draw(st.sampled_from(["refuse", "fee"])),
        insurance_percent=draw(st.one_of(st.none(), percent)),
        insurance_min_fen=draw(fen),
        surcharges=tuple(rules),
    )


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
@given(channels(), requests)
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
