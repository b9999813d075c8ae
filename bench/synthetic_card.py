"""A benchmark rate card: the demo card with its US channels copied until US has N active ones.

The copies keep everything that makes a channel expensive to price (express/standard/economy mix,
several weight bands, zone-specific transit, remote, fuel, oversize, sensitive and handling
surcharges, insurance, DDP duties) and get their own codes, names and prices (+3 % per copy), so
the card is written in the CSV layout of docs/rate-cards.md and imported like any other card.
"""

import csv
import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SHEETS = (
    "card",
    "channels",
    "zones",
    "remote_areas",
    "rates",
    "transit",
    "surcharges",
    "duties",
)
PRICE_COLUMNS = ("first_price", "unit_price", "parcel_fee")
STEP = Decimal("0.03")
CENT = Decimal("0.01")


def read_sheet(folder: Path, name: str) -> tuple[list[str], list[dict[str, str]]]:
    """The column names and rows of one CSV sheet (empty when the file is absent)."""
    path = folder / f"{name}.csv"
    if not path.exists():
        return [], []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_sheet(folder: Path, name: str, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Write one CSV sheet with a header row."""
    with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def scaled(value: str, factor: Decimal) -> str:
    """A CNY amount times a factor, to the fen; blanks stay blank."""
    if not value.strip():
        return value
    return str((Decimal(value) * factor).quantize(CENT, rounding=ROUND_HALF_UP))


def channels_to(country: str, sheets: dict[str, tuple[list[str], list[dict[str, str]]]]) -> list:
    """Codes of the channels with a rate row in a zone of the country, in file order."""
    zones = {row["zone"] for row in sheets["zones"][1] if row["country"] == country}
    priced = {row["channel"] for row in sheets["rates"][1] if row["zone"] in zones}
    return [row["code"] for row in sheets["channels"][1] if row["code"] in priced]


def build_card(
    demo: Path,
    target: Path,
    version: str,
    valid_from: date,
    country: str = "US",
    min_active: int = 32,
) -> int:
    """Write the benchmark card into `target`; return how many active channels serve `country`."""
    sheets = {name: read_sheet(demo, name) for name in SHEETS}
    codes = channels_to(country, sheets)
    active = {r["code"] for r in sheets["channels"][1] if r["active"].strip().lower() == "yes"}
    originals = [code for code in codes if code in active]
    if not originals:
        raise ValueError(f"the demo card has no active channel to {country}")
    copies = math.ceil(min_active / len(originals)) - 1

    card_columns, card_rows = sheets["card"]
    card_rows = [
        {
            **card_rows[0],
            "version": version,
            "name": f"Benchmark card ({len(originals) * (copies + 1)} {country} channels)",
            "valid_from": valid_from.isoformat(),
            "valid_to": "",
        }
    ]
    sheets["card"] = (card_columns, card_rows)

    for number in range(1, copies + 1):
        factor = 1 + STEP * number
        renamed = {code: f"{code}-B{number}" for code in codes}
        for row in [r for r in sheets["channels"][1] if r["code"] in renamed]:
            sheets["channels"][1].append(
                {
                    **row,
                    "code": renamed[row["code"]],
                    "name_zh": f"{row['name_zh']}（{number}号）",
                    "name_en": f"{row['name_en']} #{number}",
                }
            )
        for sheet in ("rates", "transit", "surcharges"):
            for row in [r for r in sheets[sheet][1] if r["channel"] in renamed]:
                copy = {**row, "channel": renamed[row["channel"]]}
                if sheet == "rates":
                    copy.update({col: scaled(row[col], factor) for col in PRICE_COLUMNS})
                sheets[sheet][1].append(copy)

    target.mkdir(parents=True, exist_ok=True)
    for name, (columns, rows) in sheets.items():
        if columns:
            write_sheet(target, name, columns, rows)
    return len(originals) * (copies + 1)
