"""The pure pricing service against hand-computed examples (amounts in fen, weights in grams)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from portal.services.pricing import quote, quote_all
from portal.services.pricing_types import (
    Area,
    Band,
    Destination,
    DutyRule,
    LineCode,
    Piece,
    Reason,
)
from tests.pricing_factories import (
    TODAY,
    channel,
    fixed_coupon,
    percent_coupon,
    request,
    surcharge,
    with_band,
    zone,
)

HAWAII = Destination("US", "", "96813")
PER_KG_TO_100KG = Band(0, 100_000, 0, 0, 1_000, 4_000)


def lines(q) -> dict[str, int]:
    return {line.code.value: line.amount_fen for line in q.lines}


def warnings(q) -> list[str]:
    return [w.code.value for w in q.warnings]


def test_first_weight_and_continued_weight():
    q = quote(channel(), request(Piece(1_200)))
    assert q.available and q.reason is None
    assert q.pieces[0].chargeable_g == 1_500
    assert q.chargeable_g == 1_500
    # 100.00 for the first 0.5 kg + 2 x 30.00
    assert lines(q) == {"BASE": 16_000}
    assert q.total_fen == 16_000
    assert q.transit_days == (3, 9)
    base = q.line(LineCode.BASE)
    assert base.fact("units") == 2 and base.fact("unit_price_fen") == 3_000


TWO_BANDS = (Band(0, 2_000, 500, 5_000, 500, 1_000), Band(2_000, 5_000, 0, 0, 1_000, 2_500))


@pytest.mark.parametrize(
    ("weight_g", "expected_fen"),
    [
        (500, 5_000),  # exactly the first weight: no further unit
        (501, 6_000),  # 0.6 kg: one further 0.5 kg unit
        (2_000, 8_000),  # the upper edge belongs to the first band (a < W <= b)
        (2_001, 7_500),  # 2.1 kg falls in the next band, which is cheaper: 3 x 25.00
        (5_000, 12_500),
    ],
)
def test_band_edges_are_lower_exclusive_upper_inclusive(weight_g, expected_fen):
    ch = with_band(channel(rounding_step_g=100), *TWO_BANDS)
    q = quote(ch, request(Piece(weight_g)))
    assert q.total_fen == expected_fen


def test_above_the_last_band_there_is_no_rate():
    ch = with_band(channel(rounding_step_g=100), *TWO_BANDS)
    q = quote(ch, request(Piece(5_001)))
    assert not q.available and q.reason == Reason.NO_RATE
    assert q.lines == () and q.total_fen == 0


@pytest.mark.parametrize(
    ("step_g", "weight_g", "chargeable_g"),
    [
        (500, 1_200, 1_500),
        (500, 1_500, 1_500),
        (100, 1_201, 1_300),
        (10, 1_234, 1_240),
        (1_000, 1_001, 2_000),
    ],
)
def test_chargeable_weight_is_rounded_up_to_the_step(step_g, weight_g, chargeable_g):
    ch = with_band(channel(rounding_step_g=step_g), PER_KG_TO_100KG)
    assert quote(ch, request(Piece(weight_g))).chargeable_g == chargeable_g


def test_pieces_are_rounded_one_by_one_then_added():
    q = quote(channel(), request(Piece(7_200), Piece(3_100)))
    assert [p.chargeable_g for p in q.pieces] == [7_500, 3_500]
    assert q.chargeable_g == 11_000  # not round(10.3 kg) = 10.5 kg
    assert lines(q) == {"BASE": 10_000 + 21 * 3_000}


def test_volumetric_weight_counts_when_heavier():
    q = quote(channel(), request(Piece(5_000, 50, 40, 30)))
    piece = q.pieces[0]
    assert (piece.actual_g, piece.volumetric_g, piece.chargeable_g) == (5_000, 12_000, 12_000)
    assert piece.volumetric_used


def test_volumetric_weight_is_exact_before_rounding_up():
    q = quote(channel(), request(Piece(1_000, 31, 21, 11)))  # 7161 cm3 / 5000 = 1.4322 kg
    assert q.pieces[0].volumetric_g == 1_433
    assert q.pieces[0].chargeable_g == 1_500


def test_a_line_without_a_divisor_ignores_volume():
    q = quote(channel(volumetric_divisor=None), request(Piece(1_000, 60, 60, 60)))
    assert q.pieces[0].volumetric_g is None
    assert q.chargeable_g == 1_000


@pytest.mark.parametrize(("longest_cm", "chargeable_g"), [(39, 1_000), (40, 6_000)])
def test_volumetric_trigger_on_the_longest_side(longest_cm, chargeable_g):
    ch = channel(volumetric_divisor=6000, volumetric_min_side_cm=40, rounding_step_g=100)
    ch = with_band(ch, PER_KG_TO_100KG)
    q = quote(ch, request(Piece(1_000, longest_cm, 30, 30)))
    # 40 x 30 x 30 = 36000 cm3 / 6000 = 6 kg; at 39 cm volume does not count at all
    assert q.chargeable_g == chargeable_g


def test_minimum_chargeable_weight():
    q = quote(channel(min_chargeable_g=2_000), request(Piece(300)))
    assert q.chargeable_g == 2_000
    assert lines(q) == {"BASE": 10_000 + 3 * 3_000}
    assert warnings(q) == ["MIN_WEIGHT_APPLIED"]


def test_minimum_charge():
    q = quote(channel(min_charge_fen=20_000), request(Piece(1_200)))
    assert lines(q) == {"BASE": 20_000}
    assert warnings(q) == ["MIN_CHARGE_APPLIED"]
    assert q.line(LineCode.BASE).fact("min_charge_fen") == 20_000


@pytest.mark.parametrize(
    ("weight_g", "expected_fen"), [(300, 6_000), (1_000, 6_000), (1_001, 9_500), (2_000, 9_500)]
)
def test_flat_bands(weight_g, expected_fen):
    bands = (Band(0, 1_000, 1_000, 6_000, 1_000, 0), Band(1_000, 2_000, 2_000, 9_500, 1_000, 0))
    ch = with_band(channel(rounding_step_g=100), *bands)
    assert quote(ch, request(Piece(weight_g))).total_fen == expected_fen


def test_per_kg_band_with_a_per_parcel_fee():
    ch = with_band(channel(rounding_step_g=100), Band(0, 30_000, 0, 0, 1_000, 4_000, 1_500))
    q = quote(ch, request(Piece(21_450)))
    assert q.chargeable_g == 21_500
    assert q.total_fen == 22 * 4_000 + 1_500


REMOTE_US = surcharge(
    "remote",
    remote_areas=(Area("US", "", "995*"),),
    per_kg_fen=350,
    min_fen=15_000,
    fuel_applies=True,
)


def test_remote_area_charges_the_minimum_on_light_parcels():
    q = quote(channel(surcharges=(REMOTE_US,)), request(destination=Destination("US", "", "99501")))
    assert lines(q) == {"BASE": 16_000, "REMOTE": 15_000}  # 3.50 x 1.5 kg = 5.25 < 150.00


def test_remote_area_charges_per_kg_on_heavy_parcels():
    ch = with_band(channel(surcharges=(REMOTE_US,), rounding_step_g=100), PER_KG_TO_100KG)
    q = quote(ch, request(Piece(50_000), destination=Destination("US", "", "99501")))
    assert lines(q)["REMOTE"] == 17_500  # 3.50 x 50 kg


def test_an_address_outside_the_remote_list_pays_no_remote_fee():
    q = quote(channel(surcharges=(REMOTE_US,)), request())
    assert "REMOTE" not in lines(q)


def test_a_channel_may_refuse_remote_addresses():
    refusing = surcharge("remote", remote_areas=(Area("US", "", "995*"),), refuse=True)
    q = quote(channel(surcharges=(refusing,)), request(destination=Destination("US", "", "99501")))
    assert not q.available and q.reason == Reason.REMOTE_NOT_SERVICEABLE


FUEL_NOW = surcharge("fuel", percent=Decimal("14.5"), valid_from=date(2026, 11, 1))
FUEL_BEFORE = surcharge(
    "fuel", percent=Decimal("10"), valid_from=date(2026, 1, 1), valid_to=date(2026, 11, 1)
)


def test_fuel_applies_to_base_and_marked_surcharges_only():
    handling = surcharge("handling", flat_fen=1_000, fuel_applies=False)
    ch = channel(surcharges=(REMOTE_US, handling, FUEL_NOW))
    q = quote(ch, request(destination=Destination("US", "", "99501")))
    # 14.5 % x (160.00 base + 150.00 remote); the 10.00 handling fee is not fuelled
    assert lines(q) == {"BASE": 16_000, "REMOTE": 15_000, "HANDLING": 1_000, "FUEL": 4_495}
    assert q.total_fen == 36_495


@pytest.mark.parametrize(("day", "fuel_fen"), [(date(2026, 10, 31), 1_600), (TODAY, 2_320)])
def test_fuel_percentage_is_dated(day, fuel_fen):
    q = quote(channel(surcharges=(FUEL_BEFORE, FUEL_NOW)), request(on=day))
    assert lines(q)["FUEL"] == fuel_fen


def test_half_a_fen_is_rounded_up_not_to_even():
    fuel = surcharge("fuel", percent=Decimal("12.5"), valid_from=date(2026, 1, 1))
    ch = with_band(channel(surcharges=(fuel,)), Band(0, 20_000, 500, 1_300, 500, 0))
    q = quote(ch, request(Piece(400), member_percent=Decimal("2.5")))
    # 12.5 % of 13.00 = 1.625 yuan = 162.5 fen -> 163 (banker's rounding would give 162)
    # 2.5 % of 13.00 = 32.5 fen -> 33
    assert lines(q) == {"BASE": 1_300, "FUEL": 163, "MEMBER_DISCOUNT": -33}
    assert q.total_fen == 1_300 + 163 - 33


def test_per_kg_surcharge_rounds_half_up():
    remote = surcharge("remote", remote_areas=(Area("US"),), per_kg_fen=85, min_fen=0)
    ch = with_band(channel(surcharges=(remote,), rounding_step_g=100), PER_KG_TO_100KG)
    q = quote(ch, request(Piece(900)))
    assert lines(q)["REMOTE"] == 77  # 0.85 x 0.9 kg = 76.5 fen


def test_member_discount_is_a_percentage_of_the_base_only():
    ch = channel(surcharges=(REMOTE_US,))
    q = quote(ch, request(destination=Destination("US", "", "99501"), member_percent=Decimal(10)))
    assert lines(q) == {"BASE": 16_000, "REMOTE": 15_000, "MEMBER_DISCOUNT": -1_600}


@pytest.mark.parametrize(
    ("threshold_fen", "member", "applied"),
    [(16_000, 0, True), (16_001, 0, False), (16_000, 10, False), (14_400, 10, True)],
)
def test_coupon_threshold_is_checked_against_base_after_member_discount(
    threshold_fen, member, applied
):
    q = quote(
        channel(),
        request(coupon=fixed_coupon(2_000, threshold_fen), member_percent=Decimal(member)),
    )
    assert ("COUPON" in lines(q)) is applied
    if applied:
        assert lines(q)["COUPON"] == -2_000
        assert warnings(q) == []
    else:
        assert warnings(q) == ["COUPON_BELOW_THRESHOLD"]
        assert q.warnings[0].fact("threshold_fen") == threshold_fen


def test_percent_coupon_is_capped():
    q = quote(channel(), request(coupon=percent_coupon("15", cap_fen=2_000)))
    assert lines(q)["COUPON"] == -2_000  # 15 % of 160.00 = 24.00, capped at 20.00
    assert warnings(q) == ["COUPON_CAPPED"]


def test_percent_coupon_under_its_cap():
    q = quote(channel(), request(coupon=percent_coupon("12.5", cap_fen=5_000)))
    assert lines(q)["COUPON"] == -2_000


def test_discounts_never_exceed_the_base():
    q = quote(channel(), request(coupon=fixed_coupon(99_999), member_percent=Decimal(10)))
    assert lines(q) == {"BASE": 16_000, "MEMBER_DISCOUNT": -1_600, "COUPON": -14_400}
    assert q.total_fen == 0
    full = quote(channel(), request(coupon=percent_coupon("100")))
    assert full.total_fen == 0


def test_insurance_premium_minimum_and_cap():
    ch = channel(
        insurance_percent=Decimal("0.5"), insurance_min_fen=1_000, insurance_max_fen=2_000_000
    )
    assert lines(quote(ch, request(insure=True, declared_value_fen=300_000)))["INSURANCE"] == 1_500
    assert lines(quote(ch, request(insure=True, declared_value_fen=100_000)))["INSURANCE"] == 1_000
    capped = quote(ch, request(insure=True, declared_value_fen=3_000_000))
    assert lines(capped)["INSURANCE"] == 10_000
    assert warnings(capped) == ["INSURANCE_CAPPED"]
    assert "INSURANCE" not in lines(quote(ch, request(declared_value_fen=300_000)))


def test_insurance_not_offered_or_without_a_value_is_a_warning():
    q = quote(channel(), request(insure=True, declared_value_fen=300_000))
    assert "INSURANCE" not in lines(q) and warnings(q) == ["INSURANCE_NOT_OFFERED"]
    ch = channel(insurance_percent=Decimal("0.5"), insurance_min_fen=1_000)
    q = quote(ch, request(insure=True, declared_value_fen=0))
    assert "INSURANCE" not in lines(q) and warnings(q) == ["INSURANCE_NEEDS_VALUE"]


GB_VAT = DutyRule("GB", Decimal(20), 0, "goods_freight", date(2026, 1, 1))


def ddp_channel(*rules: DutyRule):
    return channel(zones=(zone("GB", Area("GB")),), is_ddp=True, duty_rules=rules)


def test_ddp_duties_on_goods_and_freight():
    q = quote(
        ddp_channel(GB_VAT), request(destination=Destination("GB"), declared_value_fen=50_000)
    )
    assert lines(q) == {"BASE": 16_000, "DUTIES": 13_200}  # 20 % x (500.00 + 160.00)
    assert warnings(q) == ["DUTIES_ESTIMATED"]


def test_ddp_duties_on_goods_only_and_de_minimis():
    goods = replace(GB_VAT, basis="goods", de_minimis_fen=50_000)
    below = quote(
        ddp_channel(goods), request(destination=Destination("GB"), declared_value_fen=50_000)
    )
    assert "DUTIES" not in lines(below)
    above = quote(
        ddp_channel(goods), request(destination=Destination("GB"), declared_value_fen=50_001)
    )
    assert lines(above)["DUTIES"] == 10_000  # 20 % x 500.01 = 100.002


def test_duties_only_on_ddp_channels():
    ch = replace(ddp_channel(GB_VAT), is_ddp=False)
    q = quote(ch, request(destination=Destination("GB"), declared_value_fen=50_000))
    assert "DUTIES" not in lines(q)


BATTERY = frozenset({"battery_in_equipment"})


def test_a_category_the_channel_does_not_take_makes_it_unavailable():
    q = quote(channel(), request(categories=frozenset({"general"}) | BATTERY))
    assert not q.available and q.reason == Reason.CATEGORY_NOT_ALLOWED


@pytest.mark.parametrize(
    ("rule", "expected_fen"),
    [
        (surcharge("sensitive", categories=BATTERY, per_kg_fen=500, min_fen=2_000), 2_000),
        (surcharge("sensitive", categories=BATTERY, flat_fen=3_000), 3_000),
    ],
)
def test_sensitive_goods_surcharge(rule, expected_fen):
    ch = channel(categories=frozenset({"general"}) | BATTERY, surcharges=(rule,))
    assert lines(quote(ch, request(categories=BATTERY)))["SENSITIVE"] == expected_fen
    assert "SENSITIVE" not in lines(quote(ch, request()))


LIMITED = {
    "max_piece_g": 30_000,
    "max_longest_side_cm": 120,
    "max_girth_cm": 200,
    "rounding_step_g": 100,
}


@pytest.mark.parametrize(
    ("piece", "reason"),
    [
        (Piece(30_000, 120, 40, 40), None),
        (Piece(30_001), Reason.OVER_MAX_WEIGHT),
        (Piece(1_000, 121, 10, 10), Reason.OVER_MAX_DIMENSION),
        (Piece(1_000, 100, 60, 40), None),
        (Piece(1_000, 100, 60, 41), Reason.OVER_MAX_DIMENSION),
    ],
)
def test_piece_limits_refuse(piece, reason):
    ch = with_band(channel(volumetric_divisor=None, **LIMITED), PER_KG_TO_100KG)
    q = quote(ch, request(piece))
    assert q.reason == reason and q.available is (reason is None)


def test_piece_limits_charge_an_oversize_fee_per_piece():
    oversize = surcharge("oversize", per_piece_fen=5_000)
    ch = channel(
        volumetric_divisor=None, over_limit_action="fee", surcharges=(oversize,), **LIMITED
    )
    ch = with_band(ch, PER_KG_TO_100KG)
    q = quote(ch, request(Piece(31_000), Piece(1_000, 130, 10, 10), Piece(2_000)))
    assert lines(q)["OVERSIZE"] == 10_000
    assert q.line(LineCode.OVERSIZE).fact("pieces") == 2


FEE_THEN_REFUSE = {
    "max_piece_g": 30_000,
    "refuse_piece_g": 50_000,
    "max_longest_side_cm": 100,
    "refuse_longest_side_cm": 150,
    "max_girth_cm": 200,
    "refuse_girth_cm": 300,
    "rounding_step_g": 100,
}


@pytest.mark.parametrize(
    ("piece", "fee_pieces", "reason"),
    [
        (Piece(1_000, 100, 10, 10), 0, None),
        (Piece(1_000, 101, 10, 10), 1, None),
        (Piece(1_000, 120, 10, 10), 1, None),
        (Piece(1_000, 150, 10, 10), 1, None),
        (Piece(1_000, 151, 10, 10), 0, Reason.OVER_MAX_DIMENSION),
        (Piece(1_000, 90, 60, 50), 0, None),
        (Piece(1_000, 90, 60, 51), 1, None),
        (Piece(1_000, 100, 100, 100), 1, None),
        (Piece(1_000, 100, 100, 101), 0, Reason.OVER_MAX_DIMENSION),
        (Piece(30_000), 0, None),
        (Piece(30_001), 1, None),
        (Piece(50_000), 1, None),
        (Piece(50_001), 0, Reason.OVER_MAX_WEIGHT),
        (Piece(40_000, 120, 60, 60), 1, None),
    ],
)
def test_a_channel_charges_the_size_fee_and_refuses_above_a_larger_limit(piece, fee_pieces, reason):
    oversize = surcharge("oversize", per_piece_fen=5_000)
    ch = channel(
        volumetric_divisor=None,
        over_limit_action="fee",
        surcharges=(oversize,),
        **FEE_THEN_REFUSE,
    )
    q = quote(with_band(ch, PER_KG_TO_100KG), request(piece))
    assert q.reason == reason and q.available is (reason is None)
    if reason is None:
        assert lines(q).get("OVERSIZE", 0) == fee_pieces * 5_000


def test_one_piece_over_a_refusal_limit_refuses_the_whole_shipment():
    oversize = surcharge("oversize", per_piece_fen=5_000)
    ch = channel(
        volumetric_divisor=None, over_limit_action="fee", surcharges=(oversize,), **FEE_THEN_REFUSE
    )
    q = quote(with_band(ch, PER_KG_TO_100KG), request(Piece(1_000), Piece(1_000, 160, 10, 10)))
    assert q.reason == Reason.OVER_MAX_DIMENSION


def test_max_chargeable_weight_always_refuses():
    ch = channel(max_chargeable_g=10_000, over_limit_action="fee")
    assert quote(ch, request(Piece(10_000))).available
    assert quote(ch, request(Piece(10_001))).reason == Reason.OVER_MAX_WEIGHT


def test_handling_fee_flat_and_per_piece():
    ch = channel(surcharges=(surcharge("handling", flat_fen=500, per_piece_fen=200),))
    q = quote(ch, request(Piece(1_000), Piece(1_000)))
    assert lines(q)["HANDLING"] == 900


HAWAII_ZONES = (
    zone("COUNTRY", Area("US")),
    zone("REGION", Area("US", "hawaii")),
    zone("PREFIX", Area("US", "", "968*")),
    zone("LONGER-PREFIX", Area("US", "", "9681*")),
    zone("RANGE", Area("US", "", "96700-96899")),
    zone("EXACT", Area("US", "", "96813"), transit=(5, 7)),
)


@pytest.mark.parametrize(
    ("region", "postcode", "zone_code"),
    [
        ("", "96813", "EXACT"),
        ("", " 968-13", "EXACT"),
        ("", "96813-1234", "EXACT"),  # a US ZIP+4 counts as its ZIP
        ("", "96701-0001", "RANGE"),
        ("", "96814", "LONGER-PREFIX"),
        ("", "96822", "PREFIX"),
        ("", "96701", "RANGE"),
        (" Hawaii ", "96900", "REGION"),
        ("", "10001", "COUNTRY"),
        ("", "9675", "COUNTRY"),  # ranges compare numbers of the same length, not strings
        ("", "967000", "COUNTRY"),
    ],
)
def test_the_most_specific_zone_wins(region, postcode, zone_code):
    q = quote(channel(zones=HAWAII_ZONES), request(destination=Destination("US", region, postcode)))
    assert q.zone_code == zone_code


def test_transit_days_can_be_overridden_per_zone():
    assert quote(channel(zones=HAWAII_ZONES), request(destination=HAWAII)).transit_days == (5, 7)


def test_equally_specific_zones_resolve_to_the_first():
    first, second = zone("A", Area("US")), zone("B", Area("US"))
    assert quote(channel(zones=(first, second)), request()).zone_code == "A"
    assert quote(channel(zones=(second, first)), request()).zone_code == "B"


def test_no_zone_for_the_destination():
    q = quote(channel(), request(destination=Destination("GB")))
    assert not q.available and q.reason == Reason.NO_ZONE


def test_lines_come_in_the_guides_order():
    rules = (
        FUEL_NOW,
        surcharge("handling", flat_fen=500),
        surcharge("oversize", per_piece_fen=5_000),
        surcharge("sensitive", categories=BATTERY, flat_fen=3_000, fuel_applies=True),
        REMOTE_US,
    )
    ch = replace(
        ddp_channel(replace(GB_VAT, country="US")),
        zones=(zone(),),
        categories=frozenset({"general"}) | BATTERY,
        surcharges=rules,
        over_limit_action="fee",
        max_piece_g=1_000,
        insurance_percent=Decimal(1),
    )
    q = quote(
        ch,
        request(
            Piece(1_200),
            destination=Destination("US", "", "99501"),
            categories=BATTERY,
            member_percent=Decimal(5),
            coupon=fixed_coupon(1_000),
            insure=True,
            declared_value_fen=100_000,
        ),
    )
    assert [line.code for line in q.lines] == list(LineCode)
    assert q.total_fen == sum(line.amount_fen for line in q.lines)


def test_quote_all_sorts_cheapest_first_and_unavailable_last():
    cheap = with_band(channel(code="CHEAP"), Band(0, 20_000, 500, 5_000, 500, 1_000))
    dear = channel(code="DEAR")
    nowhere = channel(code="NOWHERE", zones=(zone("GB", Area("GB")),))
    quotes = quote_all([nowhere, dear, cheap], request())
    assert [q.channel.code for q in quotes] == ["CHEAP", "DEAR", "NOWHERE"]
    assert [q.total_fen for q in quotes] == [7_000, 16_000, 0]


def test_a_request_without_pieces_is_a_programming_error():
    with pytest.raises(ValueError):
        quote(channel(), request(pieces=()))
    with pytest.raises(ValueError):
        quote(channel(), request(Piece(0)))
