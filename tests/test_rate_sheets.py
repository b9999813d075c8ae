"""Rate cards as spreadsheets: reading, checking every cell, importing, exporting, the CLI."""

import copy
import csv
import io
import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Channel,
    ChannelZone,
    DutyRule,
    RateCard,
    RateRow,
    RateZone,
    RateZoneArea,
    Surcharge,
)
from portal.services import rate_cards
from portal.services.pricing import quote
from portal.services.pricing_types import LineCode, Piece, Reason
from portal.services.rate_sheets import (
    RateSheetInvalid,
    card_summary,
    export_rate_card,
    import_rate_card,
    read_sheets,
)
from tests.pricing_factories import request  # noqa: E402

RATE_MODELS = (RateCard, RateZone, RateZoneArea, Channel, ChannelZone, RateRow, Surcharge, DutyRule)

# The column names exactly as docs/rate-cards.md spells them, in the doc's order.
COLUMNS = {
    "card": ["version", "name", "valid_from", "valid_to"],
    "channels": [
        "code",
        "name_zh",
        "name_en",
        "carrier",
        "service_level",
        "transit_min_days",
        "transit_max_days",
        "active",
        "volumetric_divisor",
        "volumetric_min_side_cm",
        "rounding_step_kg",
        "min_chargeable_kg",
        "min_charge",
        "max_piece_kg",
        "max_chargeable_kg",
        "max_longest_side_cm",
        "max_girth_cm",
        "over_limit",
        "refuse_piece_kg",
        "refuse_longest_side_cm",
        "refuse_girth_cm",
        "categories",
        "ddp",
        "insurance_rate_pct",
        "insurance_min",
        "insurance_max",
    ],
    "zones": ["zone", "country", "region", "postcode"],
    "remote_areas": ["list", "country", "region", "postcode"],
    "rates": [
        "channel",
        "zone",
        "min_excl_kg",
        "max_incl_kg",
        "first_kg",
        "first_price",
        "unit_kg",
        "unit_price",
        "parcel_fee",
    ],
    "transit": ["channel", "zone", "transit_min_days", "transit_max_days"],
    "surcharges": [
        "channel",
        "kind",
        "remote_list",
        "categories",
        "percent",
        "per_kg",
        "minimum",
        "flat",
        "per_piece",
        "refuse",
        "fuel_applies",
        "valid_from",
        "valid_to",
    ],
    "duties": ["country", "rate_pct", "de_minimis", "basis", "valid_from", "valid_to"],
}

DHL = {
    "code": "US-EXP-DHL",
    "name_zh": "美国DHL特快",
    "name_en": "US DHL Express",
    "carrier": "DHL",
    "service_level": "express",
    "transit_min_days": "3",
    "transit_max_days": "6",
    "active": "yes",
    "volumetric_divisor": "5000",
    "rounding_step_kg": "0.5",
    "max_piece_kg": "30",
    "max_chargeable_kg": "70",
    "max_longest_side_cm": "120",
    "max_girth_cm": "300",
    "over_limit": "refuse",
    "categories": "general,battery_in_equipment",
    "ddp": "yes",
    "insurance_rate_pct": "1.5",
    "insurance_min": "10",
    "insurance_max": "20000",
}
ECO = {
    "code": "US-ECO",
    "name_zh": "美国经济线",
    "name_en": "US Economy",
    "service_level": "economy",
    "transit_min_days": "17",
    "transit_max_days": "40",
    "active": "no",
    "rounding_step_kg": "0.1",
    "min_chargeable_kg": "0.5",
    "min_charge": "20",
    "max_piece_kg": "20",
    "max_longest_side_cm": "100",
    "over_limit": "fee",
    "refuse_piece_kg": "30",
    "refuse_longest_side_cm": "150",
    "refuse_girth_cm": "300",
    "categories": "general",
    "ddp": "no",
}


def rate(channel, zone, low, high, first, first_price, unit, unit_price, fee="") -> dict:
    return dict(
        zip(
            COLUMNS["rates"],
            (channel, zone, low, high, first, first_price, unit, unit_price, fee),
            strict=True,
        )
    )


def valid_card() -> dict[str, list[dict[str, str]]]:
    """A small card using every sheet; the comments give each row's spreadsheet row number."""
    return {
        "card": [
            {"version": "2026-11", "name": "2026年11月价目表", "valid_from": "2026-11-01"},
        ],
        "channels": [dict(DHL), dict(ECO)],  # rows 2, 3
        "zones": [
            {"zone": "US-A", "country": "US"},  # 2
            {"zone": "US-A", "country": "US", "postcode": "995*"},  # 3
            {"zone": "US-B", "country": "US", "region": "Hawaii", "postcode": "96700-96899"},  # 4
            {"zone": "GB-1", "country": "GB", "postcode": "sw1a 1aa"},  # 5
        ],
        "remote_areas": [
            {"list": "AK", "country": "US", "postcode": "995*"},  # 2
            {"list": "AK", "country": "US", "region": "Alaska"},  # 3
            {"list": "AK", "country": "us", "postcode": "99501-1234"},  # 4
        ],
        "rates": [
            rate("US-EXP-DHL", "US-A", "0", "0.5", "0.5", "120", "0.5", "30"),  # 2
            rate("US-EXP-DHL", "US-A", "0.5", "20", "0.5", "120", "0.5", "28.5"),  # 3
            rate("US-EXP-DHL", "US-A", "20", "70", "0", "0", "1", "45"),  # 4
            rate("US-EXP-DHL", "US-B", "0", "70", "0", "0", "1", "60", "15"),  # 5
            rate("US-ECO", "US-A", "0", "2", "2", "80.5", "1", "0", "8"),  # 6
            rate("US-ECO", "US-A", "2", "20", "0", "0", "0.1", "8.08", "8"),  # 7
            rate("US-ECO", "GB-1", "0", "20", "0", "0", "0.5", "30"),  # 8
        ],
        "transit": [
            {
                "channel": "US-EXP-DHL",
                "zone": "US-B",
                "transit_min_days": "5",
                "transit_max_days": "8",
            },
        ],
        "surcharges": [
            {
                "channel": "US-EXP-DHL",
                "kind": "fuel",
                "percent": "12.5",
                "valid_from": "2026-11-01",
                "valid_to": "2026-12-01",
            },  # 2
            {
                "channel": "US-EXP-DHL",
                "kind": "fuel",
                "percent": "14",
                "valid_from": "2026-12-01",
            },  # 3
            {
                "channel": "US-EXP-DHL",
                "kind": "remote",
                "remote_list": "AK",
                "per_kg": "5",
                "minimum": "180",
                "fuel_applies": "yes",
            },  # 4
            {"channel": "US-ECO", "kind": "remote", "remote_list": "AK", "refuse": "yes"},  # 5
            {
                "channel": "US-EXP-DHL",
                "kind": "sensitive",
                "categories": "battery_in_equipment",
                "per_kg": "3",
                "minimum": "20",
            },  # 6
            {"channel": "US-ECO", "kind": "oversize", "per_piece": "150"},  # 7
            {
                "channel": "US-EXP-DHL",
                "kind": "handling",
                "flat": "5",
                "per_piece": "2",
                "fuel_applies": "yes",
            },  # 8
        ],
        "duties": [
            {
                "country": "US",
                "rate_pct": "10",
                "de_minimis": "800",
                "basis": "goods_freight",
                "valid_from": "2026-01-01",
            },  # 2
            {
                "country": "GB",
                "rate_pct": "20",
                "de_minimis": "135",
                "basis": "goods",
                "valid_from": "2026-01-01",
                "valid_to": "2027-01-01",
            },  # 3
        ],
    }


Card = dict[str, list[dict[str, str]]]
Headers = dict[str, list[str]]


def header_of(sheet: str, headers: Headers | None) -> list[str]:
    if headers and sheet in headers:
        return headers[sheet]
    return COLUMNS[sheet]


def csv_text(sheet: str, rows: list[dict[str, str]], headers: Headers | None = None) -> str:
    columns = header_of(sheet, headers)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue()


def write_folder(folder: Path, card: Card, headers: Headers | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for sheet, rows in card.items():
        (folder / f"{sheet}.csv").write_text(csv_text(sheet, rows, headers), encoding="utf-8")
    return folder


def write_zip(path: Path, card: Card) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for sheet, rows in card.items():
            # A BOM, as Excel writes it when saving "CSV UTF-8".
            archive.writestr(f"{sheet}.csv", ("\ufeff" + csv_text(sheet, rows)).encode("utf-8"))
    return path


def excel_value(text: str):
    """What Excel stores for what a person types: numbers as floats/ints, dates as dates."""
    if text == "":
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    return text


def write_xlsx(path: Path, card: Card, convert: Callable = excel_value) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for sheet, rows in card.items():
        worksheet = workbook.create_sheet(sheet)
        worksheet.append(COLUMNS[sheet])
        for row in rows:
            worksheet.append([convert(row.get(c, "")) for c in COLUMNS[sheet]])
    workbook.save(path)
    return path


def table_counts() -> dict[str, int]:
    return {
        m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in RATE_MODELS
    }


def english(message) -> str:
    with force_locale("en"):
        return str(message)


def refused(path: Path, version: str | None = None) -> list:
    """Import a file that must be refused; check that nothing reached the database."""
    before = table_counts()
    with pytest.raises(RateSheetInvalid) as info:
        import_rate_card(path, version=version)
    db.session.commit()
    assert table_counts() == before
    return info.value.problems


def where(problems) -> set[tuple[str, int, str]]:
    return {(p.sheet, p.row, p.column) for p in problems}


def card_by_version(version: str) -> RateCard:
    return db.session.scalar(select(RateCard).where(RateCard.version == version))


# Valid files ---------------------------------------------------------------------------------


def test_csv_folder_import_converts_units(app, tmp_path):
    card_data = valid_card()
    card_data["zones"].insert(2, {})  # an empty row is ignored
    with app.app_context():
        imported = import_rate_card(write_folder(tmp_path / "card", card_data))
        db.session.commit()
        db.session.expire_all()
        card = card_by_version("2026-11")
        assert card.id == imported.id
        assert (card.name, card.valid_from, card.valid_to) == (
            "2026年11月价目表",
            date(2026, 11, 1),
            None,
        )
        assert table_counts() == {
            "rate_cards": 1,
            "rate_zones": 4,
            "rate_zone_areas": 7,
            "channels": 2,
            "channel_zones": 4,
            "rate_rows": 7,
            "surcharges": 7,
            "duty_rules": 2,
        }

        dhl, eco = card.channels
        assert (dhl.code, dhl.sort_order, eco.code, eco.sort_order) == (
            "US-EXP-DHL",
            0,
            "US-ECO",
            1,
        )
        assert dhl.rounding_step_g == 500 and eco.rounding_step_g == 100
        assert (dhl.max_piece_g, dhl.max_chargeable_g, eco.max_chargeable_g) == (30000, 70000, None)
        assert (dhl.max_longest_side_cm, dhl.max_girth_cm, dhl.volumetric_divisor) == (
            120,
            300,
            5000,
        )
        assert (dhl.insurance_rate_bp, dhl.insurance_min_fen, dhl.insurance_max_fen) == (
            150,
            1000,
            2000000,
        )
        assert (eco.insurance_rate_bp, eco.insurance_min_fen, eco.insurance_max_fen) == (
            None,
            0,
            None,
        )
        assert (eco.min_chargeable_g, eco.min_charge_fen, dhl.min_chargeable_g) == (500, 2000, 0)
        assert (dhl.is_active, eco.is_active, dhl.is_ddp, eco.is_ddp) == (True, False, True, False)
        assert dhl.category_codes == ("general", "battery_in_equipment")
        assert (dhl.carrier, eco.carrier, eco.volumetric_divisor) == ("DHL", "", None)
        assert (dhl.over_limit_action, eco.over_limit_action) == ("refuse", "fee")
        assert (eco.max_longest_side_cm, eco.refuse_longest_side_cm) == (100, 150)
        assert (eco.refuse_piece_g, eco.refuse_girth_cm, dhl.refuse_piece_g) == (30_000, 300, None)

        zones = {
            (z.kind, z.code): [(a.country, a.region, a.postcode) for a in z.areas]
            for z in card.zones
        }
        assert zones == {
            ("delivery", "US-A"): [("US", "", ""), ("US", "", "995*")],
            ("delivery", "US-B"): [("US", "Hawaii", "96700-96899")],
            ("delivery", "GB-1"): [("GB", "", "SW1A1AA")],
            ("remote", "AK"): [("US", "", "995*"), ("US", "Alaska", ""), ("US", "", "995011234")],
        }

        links = {(c.code, cz.zone.code): cz for c in card.channels for cz in c.zones}
        rows = [
            (
                r.min_excl_g,
                r.max_incl_g,
                r.first_g,
                r.first_price_fen,
                r.unit_g,
                r.unit_price_fen,
                r.parcel_fee_fen,
            )
            for r in links[("US-EXP-DHL", "US-A")].rows
        ]
        assert rows == [
            (0, 500, 500, 12000, 500, 3000, 0),
            (500, 20000, 500, 12000, 500, 2850, 0),
            (20000, 70000, 0, 0, 1000, 4500, 0),
        ]
        eco_row = links[("US-ECO", "US-A")].rows[1]
        assert (eco_row.unit_g, eco_row.unit_price_fen, eco_row.parcel_fee_fen) == (100, 808, 800)
        us_b = links[("US-EXP-DHL", "US-B")]
        assert (us_b.transit_min_days, us_b.transit_max_days) == (5, 8)
        assert links[("US-EXP-DHL", "US-A")].transit_min_days is None

        charges = [
            (s.kind, s.percent_bp, s.valid_from, s.valid_to)
            for s in dhl.surcharges
            if s.kind == "fuel"
        ]
        assert charges == [
            ("fuel", 1250, date(2026, 11, 1), date(2026, 12, 1)),
            ("fuel", 1400, date(2026, 12, 1), None),
        ]
        remote = next(s for s in dhl.surcharges if s.kind == "remote")
        assert (remote.remote_zone.code, remote.remote_zone.kind) == ("AK", "remote")
        assert (remote.per_kg_fen, remote.min_fen, remote.fuel_applies, remote.refuse) == (
            500,
            18000,
            True,
            False,
        )
        eco_remote, oversize = eco.surcharges
        assert (eco_remote.refuse, eco_remote.per_kg_fen, eco_remote.min_fen) == (True, None, None)
        assert (oversize.kind, oversize.per_piece_fen) == ("oversize", 15000)
        sensitive = next(s for s in dhl.surcharges if s.kind == "sensitive")
        assert sensitive.category_codes == ("battery_in_equipment",)
        handling = dhl.surcharges[-1]
        assert (handling.kind, handling.flat_fen, handling.per_piece_fen) == ("handling", 500, 200)

        duties = [
            (d.country, d.rate_bp, d.de_minimis_fen, d.basis, d.valid_to) for d in card.duty_rules
        ]
        assert duties == [
            ("US", 1000, 80000, "goods_freight", None),
            ("GB", 2000, 13500, "goods", date(2027, 1, 1)),
        ]


def test_zip_and_xlsx_give_the_same_card_as_csv(app, tmp_path):
    with app.app_context():
        folder = import_rate_card(write_folder(tmp_path / "card", valid_card()))
        packed = import_rate_card(write_zip(tmp_path / "card.zip", valid_card()), version="zip")
        workbook = import_rate_card(
            write_xlsx(tmp_path / "card.xlsx", valid_card()), version="xlsx"
        )
        db.session.commit()
        db.session.expire_all()
        assert [c.version for c in (folder, packed, workbook)] == ["2026-11", "zip", "xlsx"]
        expected = card_summary(folder)
        assert expected["channels"][0]["zones"][0]["rows"][1]["unit_price_fen"] == 2850
        assert card_summary(packed) == expected
        assert card_summary(workbook) == expected


def test_optional_sheets_and_columns_may_be_left_out(app, tmp_path):
    card_data = valid_card()
    del card_data["transit"], card_data["duties"]
    headers = {
        "channels": [c for c in COLUMNS["channels"] if c not in ("carrier", "insurance_max")],
        "rates": [c for c in COLUMNS["rates"] if c != "parcel_fee"],
        "surcharges": [
            "channel",
            "kind",
            "remote_list",
            "per_kg",
            "minimum",
            "refuse",
            "per_piece",
        ],
    }
    card_data["surcharges"] = [card_data["surcharges"][i] for i in (2, 3, 5)]
    card_data["surcharges"][0].pop("fuel_applies")
    with app.app_context():
        card = import_rate_card(write_folder(tmp_path / "card", card_data, headers))
        db.session.commit()
        assert card.duty_rules == []
        assert {cz.transit_min_days for c in card.channels for cz in c.zones} == {None}
        assert {r.parcel_fee_fen for c in card.channels for cz in c.zones for r in cz.rows} == {0}
        assert card.channels[0].carrier == "" and card.channels[0].insurance_max_fen is None
        assert table_counts()["surcharges"] == 3


def test_float_cells_are_read_exactly(app, tmp_path):
    path = tmp_path / "floats.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "numbers"
    workbook.active.append(["a", "b", "c", "d"])
    workbook.active.append([0.1, 1.15, 8.075, 5000])
    workbook.save(path)
    # Excel writes floats with 17 significant digits; rewrite the cell as Excel would.
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet_xml = "xl/worksheets/sheet1.xml"
    parts[sheet_xml] = re.sub(rb"<v>1\.15</v>", b"<v>1.1499999999999999</v>", parts[sheet_xml])
    assert b"1.1499999999999999" in parts[sheet_xml]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)

    cells = read_sheets(path)["numbers"].rows[0].cells
    assert cells == {"a": Decimal("0.1"), "b": Decimal("1.15"), "c": Decimal("8.075"), "d": 5000}
    assert all(type(v) is Decimal for v in (cells["a"], cells["b"], cells["c"]))
    assert str(cells["c"]) == "8.075"

    card_data = valid_card()
    eco_first, eco_second = card_data["rates"][4], card_data["rates"][5]
    eco_first.update(max_incl_kg="1.15", first_kg="1.15")
    eco_second.update(min_excl_kg="1.15", unit_kg="0.1")
    with app.app_context():
        card = import_rate_card(write_xlsx(tmp_path / "card.xlsx", card_data))
        eco = card.channels[1]
        assert eco.rounding_step_g == 100
        first, second = eco.zones[0].rows
        assert (first.max_incl_g, first.first_g, second.min_excl_g, second.unit_g) == (
            1150,
            1150,
            1150,
            100,
        )
        assert (second.unit_price_fen, first.first_price_fen) == (808, 8050)

        eco_second["unit_price"] = "8.075"
        problems = refused(write_xlsx(tmp_path / "bad.xlsx", card_data), version="other")
        assert where(problems) == {("rates", 7, "unit_price")}
        assert english(problems[0].message) == "Must be an amount in CNY with at most 2 decimals."


def test_xlsx_cells_of_the_wrong_kind(app, tmp_path):
    card_data = valid_card()
    path = write_xlsx(tmp_path / "card.xlsx", card_data)
    workbook = openpyxl.load_workbook(path)
    workbook["card"]["A2"] = date(2026, 11, 1)  # a version Excel turned into a date
    workbook["card"]["C2"] = datetime(2026, 11, 1, 12, 30)
    workbook["channels"]["H2"] = True  # a boolean cell is a fine yes/no
    workbook["channels"]["F2"] = "three"
    workbook["rates"].append([])
    workbook["rates"].append(["US-ECO", "GB-1", 20, 30, 0, 0, 1, "x"])
    workbook.save(path)
    with app.app_context():
        problems = refused(path)
    assert where(problems) == {
        ("card", 2, "version"),
        ("card", 2, "valid_from"),
        ("channels", 2, "transit_min_days"),
        ("rates", 10, "unit_price"),
    }


# Problems ------------------------------------------------------------------------------------


def change(sheet: str, index: int, **values: str) -> Callable:
    def apply(card: Card, headers: Headers) -> None:
        card[sheet][index].update(values)

    return apply


def add(sheet: str, **values: str) -> Callable:
    def apply(card: Card, headers: Headers) -> None:
        card[sheet].append(values)

    return apply


def remove(sheet: str, index: int | None = None) -> Callable:
    def apply(card: Card, headers: Headers) -> None:
        if index is None:
            del card[sheet]
        else:
            del card[sheet][index]

    return apply


def columns(sheet: str, names: list[str]) -> Callable:
    def apply(card: Card, headers: Headers) -> None:
        headers[sheet] = names

    return apply


def both(*changes: Callable) -> Callable:
    def apply(card: Card, headers: Headers) -> None:
        for each in changes:
            each(card, headers)

    return apply


CASES = [
    ("missing_sheet", remove("zones"), {("zones", 1, "")}),
    (
        "missing_required_column",
        columns("rates", [c for c in COLUMNS["rates"] if c != "unit_kg"]),
        {("rates", 1, "unit_kg")},
    ),
    (
        "unknown_column",
        columns("channels", [*COLUMNS["channels"], "colour"]),
        {("channels", 1, "colour")},
    ),
    ("column_twice", columns("card", [*COLUMNS["card"], "name"]), {("card", 1, "name")}),
    (
        "unknown_sheet",
        lambda card, headers: card.update(notes=[]) or headers.update(notes=["x"]),
        {("notes", 0, "")},
    ),
    (
        "kg_with_4_decimals",
        change("channels", 0, max_piece_kg="30.0005"),
        {("channels", 2, "max_piece_kg")},
    ),
    ("kg_not_a_number", change("rates", 0, max_incl_kg="half"), {("rates", 2, "max_incl_kg")}),
    (
        "money_with_3_decimals",
        change("rates", 1, unit_price="28.505"),
        {("rates", 3, "unit_price")},
    ),
    (
        "money_with_comma",
        change("channels", 0, insurance_max="20,000"),
        {("channels", 2, "insurance_max")},
    ),
    (
        "days_not_whole",
        change("channels", 0, transit_min_days="3.5"),
        {("channels", 2, "transit_min_days")},
    ),
    (
        "cm_not_whole",
        change("channels", 0, max_girth_cm="300.5"),
        {("channels", 2, "max_girth_cm")},
    ),
    ("bad_date", change("card", 0, valid_from="2026-13-01"), {("card", 2, "valid_from")}),
    ("date_not_iso", change("duties", 0, valid_from="01/01/2026"), {("duties", 2, "valid_from")}),
    ("bad_yes_no", change("channels", 0, active="maybe"), {("channels", 2, "active")}),
    ("negative_price", change("rates", 2, unit_price="-45"), {("rates", 4, "unit_price")}),
    ("negative_weight", change("rates", 2, first_kg="-1"), {("rates", 4, "first_kg")}),
    ("required_cell_blank", change("channels", 0, name_zh=""), {("channels", 2, "name_zh")}),
    ("text_too_long", change("channels", 0, name_en="x" * 101), {("channels", 2, "name_en")}),
    ("control_character", change("channels", 0, name_en="US\x07DHL"), {("channels", 2, "name_en")}),
    ("bad_channel_code", add("channels", **{**DHL, "code": "GB STD"}), {("channels", 4, "code")}),
    (
        "unknown_service_level",
        change("channels", 0, service_level="fast"),
        {("channels", 2, "service_level")},
    ),
    (
        "unknown_over_limit",
        change("channels", 1, over_limit="charge"),
        {("channels", 3, "over_limit")},
    ),
    ("unknown_kind", change("surcharges", 6, kind="weekend"), {("surcharges", 8, "kind")}),
    ("unknown_basis", change("duties", 0, basis="cif"), {("duties", 2, "basis")}),
    (
        "unknown_category",
        change("channels", 0, categories="general,weapons"),
        {("channels", 2, "categories")},
    ),
    (
        "category_twice",
        change("surcharges", 4, categories="liquid,liquid"),
        {("surcharges", 6, "categories")},
    ),
    ("unknown_country", change("zones", 0, country="XX"), {("zones", 2, "country")}),
    ("three_letter_country", change("duties", 0, country="USA"), {("duties", 2, "country")}),
    ("bad_postcode_prefix", change("zones", 1, postcode="99*5*"), {("zones", 3, "postcode")}),
    (
        "reversed_postcode_range",
        change("zones", 2, postcode="96899-96700"),
        {("zones", 4, "postcode")},
    ),
    (
        "bad_postcode_characters",
        change("zones", 3, postcode="SW1A#1AA"),
        {("zones", 5, "postcode")},
    ),
    ("duplicate_channel_code", add("channels", **DHL), {("channels", 4, "code")}),
    (
        "channel_without_rates",
        add("channels", **{**DHL, "code": "GB-STD"}),
        {("channels", 4, "code")},
    ),
    ("unknown_channel_in_rates", change("rates", 6, channel="NOPE"), {("rates", 8, "channel")}),
    ("unknown_zone_in_rates", change("rates", 6, zone="FR"), {("rates", 8, "zone")}),
    ("remote_list_is_not_a_zone", change("rates", 6, zone="AK"), {("rates", 8, "zone")}),
    (
        "unknown_remote_list",
        change("surcharges", 2, remote_list="HI"),
        {("surcharges", 4, "remote_list")},
    ),
    (
        "unknown_channel_in_surcharges",
        change("surcharges", 6, channel="NOPE"),
        {("surcharges", 8, "channel")},
    ),
    (
        "unknown_channel_in_transit",
        change("transit", 0, channel="NOPE"),
        {("transit", 2, "channel")},
    ),
    ("unknown_zone_in_transit", change("transit", 0, zone="FR"), {("transit", 2, "zone")}),
    ("transit_without_rates", change("transit", 0, zone="GB-1"), {("transit", 2, "zone")}),
    (
        "transit_twice",
        add(
            "transit", channel="US-EXP-DHL", zone="US-B", transit_min_days="6", transit_max_days="9"
        ),
        {("transit", 3, "zone")},
    ),
    ("band_gap", change("rates", 1, max_incl_kg="19"), {("rates", 4, "min_excl_kg")}),
    ("band_overlap", change("rates", 2, min_excl_kg="15"), {("rates", 4, "min_excl_kg")}),
    (
        "band_inside_another",
        add("rates", **rate("US-EXP-DHL", "US-A", "1", "2", "0", "0", "1", "1")),
        {("rates", 9, "min_excl_kg")},
    ),
    ("band_empty", change("rates", 2, max_incl_kg="20"), {("rates", 4, "max_incl_kg")}),
    ("first_kg_above_band", change("rates", 0, first_kg="0.6"), {("rates", 2, "first_kg")}),
    ("unit_kg_zero", change("rates", 0, unit_kg="0"), {("rates", 2, "unit_kg")}),
    (
        "first_band_starts_too_high",
        change("rates", 6, min_excl_kg="0.5"),
        {("rates", 8, "min_excl_kg")},
    ),
    (
        "channel_transit_reversed",
        change("channels", 0, transit_min_days="7"),
        {("channels", 2, "transit_max_days")},
    ),
    (
        "zone_transit_reversed",
        change("transit", 0, transit_min_days="9"),
        {("transit", 2, "transit_max_days")},
    ),
    (
        "min_side_without_divisor",
        change("channels", 1, volumetric_min_side_cm="40"),
        {("channels", 3, "volumetric_min_side_cm")},
    ),
    (
        "insurance_min_without_rate",
        change("channels", 1, insurance_min="5"),
        {("channels", 3, "insurance_min")},
    ),
    ("fee_without_oversize_row", remove("surcharges", 5), {("channels", 3, "over_limit")}),
    (
        "refusal_limit_on_a_refusing_channel",
        change("channels", 0, refuse_longest_side_cm="150"),
        {("channels", 2, "refuse_longest_side_cm")},
    ),
    (
        "refusal_limit_not_above_the_fee_limit",
        change("channels", 1, refuse_longest_side_cm="100", refuse_piece_kg="20"),
        {("channels", 3, "refuse_longest_side_cm"), ("channels", 3, "refuse_piece_kg")},
    ),
    (
        "refusal_limit_in_scientific_notation",
        change("channels", 1, refuse_piece_kg="3e1"),
        {("channels", 3, "refuse_piece_kg")},
    ),
    ("fee_without_surcharges_sheet", remove("surcharges"), {("channels", 3, "over_limit")}),
    (
        "oversize_on_refusing_channel",
        change("surcharges", 5, channel="US-EXP-DHL"),
        {("surcharges", 7, "kind"), ("channels", 3, "over_limit")},
    ),
    (
        "oversize_twice",
        add("surcharges", channel="US-ECO", kind="oversize", per_piece="200"),
        {("surcharges", 9, "kind")},
    ),
    (
        "remote_list_twice",
        add("surcharges", channel="US-ECO", kind="remote", remote_list="AK", refuse="yes"),
        {("surcharges", 9, "remote_list")},
    ),
    (
        "fuel_dates_overlap",
        change("surcharges", 1, valid_from="2026-11-15"),
        {("surcharges", 3, "valid_from")},
    ),
    (
        "open_fuel_overlaps_later",
        change("surcharges", 0, valid_to=""),
        {("surcharges", 3, "valid_from")},
    ),
    ("fuel_without_percent", change("surcharges", 0, percent=""), {("surcharges", 2, "percent")}),
    (
        "fuel_without_valid_from",
        change("surcharges", 1, valid_from=""),
        {("surcharges", 3, "valid_from")},
    ),
    ("fuel_with_per_kg", change("surcharges", 0, per_kg="1"), {("surcharges", 2, "per_kg")}),
    (
        "fuel_with_fuel_applies",
        change("surcharges", 0, fuel_applies="yes"),
        {("surcharges", 2, "fuel_applies")},
    ),
    (
        "remote_without_list",
        change("surcharges", 2, remote_list=""),
        {("surcharges", 4, "remote_list")},
    ),
    (
        "remote_refuse_with_per_kg",
        change("surcharges", 3, per_kg="5"),
        {("surcharges", 5, "per_kg")},
    ),
    (
        "remote_without_amounts",
        change("surcharges", 2, per_kg="", minimum=""),
        {("surcharges", 4, "per_kg")},
    ),
    ("remote_with_percent", change("surcharges", 2, percent="5"), {("surcharges", 4, "percent")}),
    (
        "sensitive_without_categories",
        change("surcharges", 4, categories=""),
        {("surcharges", 6, "categories")},
    ),
    ("sensitive_flat_and_per_kg", change("surcharges", 4, flat="10"), {("surcharges", 6, "flat")}),
    (
        "sensitive_without_amounts",
        change("surcharges", 4, per_kg="", minimum=""),
        {("surcharges", 6, "flat")},
    ),
    ("oversize_with_flat", change("surcharges", 5, flat="10"), {("surcharges", 7, "flat")}),
    (
        "oversize_without_per_piece",
        change("surcharges", 5, per_piece=""),
        {("surcharges", 7, "per_piece")},
    ),
    (
        "handling_without_amounts",
        change("surcharges", 6, flat="", per_piece=""),
        {("surcharges", 8, "flat")},
    ),
    (
        "handling_with_dates",
        change("surcharges", 6, valid_from="2026-11-01"),
        {("surcharges", 8, "valid_from")},
    ),
    ("handling_with_refuse", change("surcharges", 6, refuse="yes"), {("surcharges", 8, "refuse")}),
    (
        "percent_above_100",
        change("channels", 0, insurance_rate_pct="101"),
        {("channels", 2, "insurance_rate_pct")},
    ),
    ("percent_negative", change("surcharges", 0, percent="-1"), {("surcharges", 2, "percent")}),
    (
        "percent_3_decimals",
        change("surcharges", 0, percent="12.345"),
        {("surcharges", 2, "percent")},
    ),
    ("duty_rate_above_100", change("duties", 0, rate_pct="100.5"), {("duties", 2, "rate_pct")}),
    (
        "same_area_twice_in_zone",
        add("zones", zone="US-B", country="us", region=" hawaii", postcode="96700 - 96899"),
        {("zones", 6, "zone")},
    ),
    (
        "same_area_twice_in_list",
        add("remote_areas", list="AK", country="US", postcode="995 *"),
        {("remote_areas", 5, "list")},
    ),
    (
        "same_area_in_two_zones_of_a_channel",
        add("zones", zone="US-B", country="US"),
        {("zones", 6, "zone")},
    ),
    (
        "card_valid_to_not_after_from",
        change("card", 0, valid_to="2026-11-01"),
        {("card", 2, "valid_to")},
    ),
    (
        "duty_valid_to_before_from",
        change("duties", 1, valid_to="2025-12-31"),
        {("duties", 3, "valid_to")},
    ),
    (
        "surcharge_valid_to_before_from",
        change("surcharges", 0, valid_to="2026-10-01"),
        {("surcharges", 2, "valid_to")},
    ),
    (
        "duty_dates_overlap",
        add("duties", country="US", rate_pct="12", basis="goods", valid_from="2026-06-01"),
        {("duties", 4, "valid_from")},
    ),
    (
        "two_card_rows",
        add("card", version="2026-12", name="x", valid_from="2026-12-01"),
        {("card", 3, "")},
    ),
    ("card_row_missing", remove("card", 0), {("card", 2, "")}),
    (
        "empty_rows_keep_row_numbers",
        both(
            lambda card, headers: card["rates"].insert(0, {}), change("rates", 3, first_price="x")
        ),
        {("rates", 5, "first_price")},
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=i) for i, m, e in CASES])
def test_problem_is_reported_where_it_is(app, tmp_path, mutate, expected):
    card_data, headers = copy.deepcopy(valid_card()), dict(COLUMNS)
    mutate(card_data, headers)
    with app.app_context():
        problems = refused(write_folder(tmp_path / "card", card_data, headers))
        assert where(problems) == expected
        assert all(english(p.message) for p in problems)


def test_band_messages_say_where_the_bands_meet(app, tmp_path):
    card_data = valid_card()
    card_data["rates"][2]["min_excl_kg"] = "15"
    card_data["rates"][5]["min_excl_kg"] = "3"
    with app.app_context():
        problems = refused(write_folder(tmp_path / "card", card_data))
        assert [(p.row, english(p.message)) for p in problems] == [
            (4, "Bands overlap: this band starts at 15 kg, the band on row 3 ends at 20 kg."),
            (7, "Gap between bands: this band starts at 3 kg, the band on row 6 ends at 2 kg."),
        ]


def test_every_problem_is_reported_at_once_in_sheet_order(app, tmp_path):
    card_data = valid_card()
    card_data["duties"][0]["basis"] = "cif"
    card_data["rates"][1]["unit_price"] = "28.505"
    card_data["rates"][2]["min_excl_kg"] = "15"
    card_data["channels"][0]["active"] = "maybe"
    card_data["channels"][0]["service_level"] = "fast"
    card_data["zones"][3]["country"] = "XX"
    card_data["surcharges"][0]["percent"] = "101"
    card_data["card"][0]["valid_to"] = "2026-01-01"
    with app.app_context():
        problems = refused(write_folder(tmp_path / "card", card_data))
    assert [(p.sheet, p.row, p.column) for p in problems] == [
        ("card", 2, "valid_to"),
        ("channels", 2, "service_level"),
        ("channels", 2, "active"),
        ("zones", 5, "country"),
        ("rates", 3, "unit_price"),
        ("rates", 4, "min_excl_kg"),
        ("surcharges", 2, "percent"),
        ("duties", 2, "basis"),
    ]


def test_existing_version_is_refused(app, tmp_path):
    path = write_folder(tmp_path / "card", valid_card())
    with app.app_context():
        import_rate_card(path)
        db.session.commit()
        problems = refused(path)
        assert where(problems) == {("card", 2, "version")}
        assert english(problems[0].message) == "Version 2026-11 already exists."
        import_rate_card(path, version="2026-11b")
        db.session.commit()
        assert where(refused(path, version="2026-11b")) == {("card", 2, "version")}
        assert where(refused(path, version="v" * 41)) == {("card", 2, "version")}
        assert table_counts()["rate_cards"] == 2


def test_unreadable_files(app, tmp_path):
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    (tmp_path / "card.ods").write_bytes(b"")
    folder = write_folder(tmp_path / "card", valid_card())
    (folder / "zones.csv").write_bytes("zone,country\nUS-A,US\n".encode("utf-16"))
    with app.app_context():
        assert where(refused(tmp_path / "bad.xlsx")) == {("bad.xlsx", 0, "")}
        assert where(refused(tmp_path / "bad.zip")) == {("bad.zip", 0, "")}
        assert where(refused(tmp_path / "card.ods")) == {("card.ods", 0, "")}
        assert where(refused(tmp_path / "missing.xlsx")) == {("missing.xlsx", 0, "")}
        assert where(refused(folder)) == {("zones", 0, "")}


def test_a_stored_fee_channel_charges_over_100_cm_and_refuses_over_150_cm(app, tmp_path):
    with app.app_context():
        card = import_rate_card(write_folder(tmp_path / "card", valid_card()))
        db.session.commit()
        eco = rate_cards.card_channel(card, "US-ECO")
        on = card.valid_from
        fee = quote(eco, request(Piece(1_000, 120, 10, 10), on=on))
        plain = quote(eco, request(Piece(1_000, 100, 10, 10), on=on))
        assert fee.available and plain.available
        assert fee.line(LineCode.OVERSIZE).amount_fen > 0
        assert plain.line(LineCode.OVERSIZE) is None
        assert quote(eco, request(Piece(1_000, 151, 10, 10), on=on)).reason == (
            Reason.OVER_MAX_DIMENSION
        )


# Export --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["export.xlsx", "export.zip", "export-folder"])
def test_export_then_import_gives_the_same_card(app, tmp_path, name):
    with app.app_context():
        original = import_rate_card(write_folder(tmp_path / "card", valid_card()))
        db.session.commit()
        export_rate_card(original, tmp_path / name)
        copy_ = import_rate_card(tmp_path / name, version="copy")
        db.session.commit()
        db.session.expire_all()
        assert copy_.version == "copy" and copy_.id != original.id
        assert card_summary(copy_) == card_summary(original)

        changed = valid_card()
        changed["rates"][1]["unit_price"] = "28.6"
        other = import_rate_card(write_folder(tmp_path / "changed", changed), version="changed")
        assert card_summary(other) != card_summary(original)


def test_export_formats(app, tmp_path):
    with app.app_context():
        card = import_rate_card(write_folder(tmp_path / "card", valid_card()))
        export_rate_card(card, tmp_path / "out.zip")
        export_rate_card(card, tmp_path / "out.xlsx")
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert sorted(archive.namelist()) == sorted(f"{s}.csv" for s in COLUMNS)
        texts = {n[:-4]: archive.read(n).decode("utf-8-sig") for n in archive.namelist()}
    parsed = {name: list(csv.reader(io.StringIO(text))) for name, text in texts.items()}
    assert {name: rows[0] for name, rows in parsed.items()} == COLUMNS
    assert parsed["rates"][2] == [
        "US-EXP-DHL",
        "US-A",
        "0.5",
        "20",
        "0.5",
        "120.00",
        "0.5",
        "28.50",
        "",
    ]
    assert parsed["rates"][6][6:] == ["0.1", "8.08", "8.00"]
    assert parsed["surcharges"][1][4] == "12.5"
    assert parsed["zones"][4] == ["GB-1", "GB", "", "SW1A1AA"]
    assert parsed["channels"][2][COLUMNS["channels"].index("min_chargeable_kg")] == "0.5"
    assert parsed["duties"][1] == ["US", "10", "800.00", "goods_freight", "2026-01-01", ""]

    workbook = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert workbook.sheetnames == list(COLUMNS)
    for name, names in COLUMNS.items():
        header = workbook[name][1]
        assert [c.value for c in header] == names
        assert all(c.font.bold for c in header)
    assert workbook["rates"]["H3"].value == 28.5
    assert workbook["card"]["C2"].value == datetime(2026, 11, 1)
    assert workbook["channels"].column_dimensions["B"].width > 8


# Command line --------------------------------------------------------------------------------


def test_cli_import_prints_counts_and_commits(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["rates", "import", str(write_folder(tmp_path / "c", valid_card()))]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "Imported rate card 2026-11: 2 channels, 3 zones, 1 remote-area lists, 7 rate rows."
    )
    with app.app_context():
        assert card_by_version("2026-11").channels[0].code == "US-EXP-DHL"


def test_cli_import_prints_every_problem_and_fails(app, tmp_path):
    card_data = valid_card()
    card_data["rates"][2]["min_excl_kg"] = "15"
    card_data["channels"][0]["active"] = "maybe"
    path = write_folder(tmp_path / "c", card_data)
    result = app.test_cli_runner().invoke(args=["rates", "import", str(path), "--version", "v2"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("channels, row 2, active: ")
    assert lines[1].startswith("rates, row 4, min_excl_kg: ")
    assert len(lines) == 3
    assert result.stdout == ""
    with app.app_context():
        assert set(table_counts().values()) == {0}


def test_cli_export_defaults_to_the_latest_card(app, tmp_path):
    later = valid_card()
    later["card"][0].update(version="2026-12", valid_from="2026-12-01")
    runner = app.test_cli_runner()
    assert (
        runner.invoke(args=["rates", "import", str(write_folder(tmp_path / "a", later))]).exit_code
        == 0
    )
    assert (
        runner.invoke(
            args=["rates", "import", str(write_folder(tmp_path / "b", valid_card()))]
        ).exit_code
        == 0
    )

    result = runner.invoke(args=["rates", "export", str(tmp_path / "latest.xlsx")])
    assert result.exit_code == 0, result.output
    assert read_sheets(tmp_path / "latest.xlsx")["card"].rows[0].cells["version"] == "2026-12"

    result = runner.invoke(
        args=["rates", "export", str(tmp_path / "nov.zip"), "--version", "2026-11"]
    )
    assert result.exit_code == 0, result.output
    assert read_sheets(tmp_path / "nov.zip")["card"].rows[0].cells["version"] == "2026-11"

    assert (
        runner.invoke(
            args=["rates", "export", str(tmp_path / "x.zip"), "--version", "nope"]
        ).exit_code
        == 1
    )
    assert runner.invoke(args=["rates", "export", str(tmp_path / "x.ods")]).exit_code == 1
    assert not (tmp_path / "x.zip").exists()


def test_cli_export_without_cards_fails(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["rates", "export", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 1
    assert not (tmp_path / "x.xlsx").exists()
