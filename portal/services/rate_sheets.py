"""Rate cards as spreadsheets (docs/rate-cards.md): read, check every cell, import, export."""

import csv
import io
import os
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    DUTY_BASES,
    OVER_LIMIT_ACTIONS,
    SERVICE_LEVELS,
    SURCHARGE_KINDS,
    Channel,
    ChannelZone,
    DutyRule,
    RateCard,
    RateRow,
    RateZone,
    RateZoneArea,
    Surcharge,
)
from portal.services.errors import DomainError, ValidationFailed
from portal.services.rate_sheet_checks import (
    Cell,
    CellError,
    Parser,
    area_key,
    categories,
    channel_code,
    choice,
    country,
    day,
    is_blank,
    kg,
    money,
    optional,
    percent,
    positive_kg,
    positive_money,
    postcode,
    required,
    text,
    whole,
    yes_no,
)

MAX_ROWS = 100_000
MAX_CSV_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class SheetProblem:
    """One problem of a rate sheet, located as the spreadsheet shows it (header is row 1)."""

    sheet: str
    row: int
    column: str
    message: Any

    def __str__(self) -> str:
        if self.row == 0:
            return f"{self.sheet}: {self.message}"
        if not self.column:
            return f"{self.sheet}, row {self.row}: {self.message}"
        return f"{self.sheet}, row {self.row}, {self.column}: {self.message}"


class RateSheetInvalid(DomainError):
    """The rate sheet has problems; nothing was written."""

    def __init__(self, problems: Iterable[SheetProblem]):
        self.problems = _sorted_problems(problems)
        super().__init__(_l("The rate sheet has problems: %(count)s.", count=len(self.problems)))


@dataclass(frozen=True)
class Column:
    """A column of a sheet: its parser, and whether row 1 must name it."""

    name: str
    parse: Parser
    header_required: bool = True


@dataclass(frozen=True)
class SheetSpec:
    """A sheet of the format and its columns, in the order the doc lists them."""

    name: str
    required: bool
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _area_columns(key: str) -> tuple[Column, ...]:
    return (
        Column(key, required(text(40))),
        Column("country", required(country)),
        Column("region", optional(text(100)), False),
        Column("postcode", optional(postcode), False),
    )


SPECS: tuple[SheetSpec, ...] = (
    SheetSpec(
        "card",
        True,
        (
            Column("version", required(text(40))),
            Column("name", required(text(100))),
            Column("valid_from", required(day)),
            Column("valid_to", optional(day), False),
        ),
    ),
    SheetSpec(
        "channels",
        True,
        (
            Column("code", required(channel_code)),
            Column("name_zh", required(text(100))),
            Column("name_en", required(text(100))),
            Column("carrier", optional(text(60)), False),
            Column("service_level", required(choice(SERVICE_LEVELS))),
            Column("transit_min_days", required(whole)),
            Column("transit_max_days", required(whole)),
            Column("active", yes_no),
            Column("volumetric_divisor", optional(whole)),
            Column("volumetric_min_side_cm", optional(whole), False),
            Column("rounding_step_kg", required(positive_kg)),
            Column("min_chargeable_kg", optional(kg), False),
            Column("min_charge", optional(money), False),
            Column("max_piece_kg", optional(positive_kg), False),
            Column("max_chargeable_kg", optional(positive_kg), False),
            Column("max_longest_side_cm", optional(whole), False),
            Column("max_girth_cm", optional(whole), False),
            Column("over_limit", required(choice(OVER_LIMIT_ACTIONS))),
            Column("refuse_piece_kg", optional(positive_kg), False),
            Column("refuse_longest_side_cm", optional(whole), False),
            Column("refuse_girth_cm", optional(whole), False),
            Column("categories", required(categories)),
            Column("ddp", yes_no),
            Column("insurance_rate_pct", optional(percent), False),
            Column("insurance_min", optional(money), False),
            Column("insurance_max", optional(positive_money), False),
        ),
    ),
    SheetSpec("zones", True, _area_columns("zone")),
    SheetSpec("remote_areas", True, _area_columns("list")),
    SheetSpec(
        "rates",
        True,
        (
            Column("channel", required(text(40))),
            Column("zone", required(text(40))),
            Column("min_excl_kg", required(kg)),
            Column("max_incl_kg", required(kg)),
            Column("first_kg", required(kg)),
            Column("first_price", required(money)),
            Column("unit_kg", required(positive_kg)),
            Column("unit_price", required(money)),
            Column("parcel_fee", optional(money), False),
        ),
    ),
    SheetSpec(
        "transit",
        False,
        (
            Column("channel", required(text(40))),
            Column("zone", required(text(40))),
            Column("transit_min_days", required(whole)),
            Column("transit_max_days", required(whole)),
        ),
    ),
    SheetSpec(
        "surcharges",
        False,
        (
            Column("channel", required(text(40))),
            Column("kind", required(choice(SURCHARGE_KINDS))),
            Column("remote_list", optional(text(40)), False),
            Column("categories", optional(categories), False),
            Column("percent", optional(percent), False),
            Column("per_kg", optional(money), False),
            Column("minimum", optional(money), False),
            Column("flat", optional(money), False),
            Column("per_piece", optional(money), False),
            Column("refuse", yes_no, False),
            Column("fuel_applies", yes_no, False),
            Column("valid_from", optional(day), False),
            Column("valid_to", optional(day), False),
        ),
    ),
    SheetSpec(
        "duties",
        False,
        (
            Column("country", required(country)),
            Column("rate_pct", required(percent)),
            Column("de_minimis", optional(money), False),
            Column("basis", required(choice(DUTY_BASES))),
            Column("valid_from", required(day)),
            Column("valid_to", optional(day), False),
        ),
    ),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
SHEET_NAMES = tuple(SPEC_BY_NAME)

# Surcharge columns a kind may fill (refuse and fuel_applies count as filled when "yes").
# Each refusal limit of a channel and the fee limit it must lie above.
REFUSAL_LIMIT_COLUMNS = {
    "refuse_piece_kg": "max_piece_kg",
    "refuse_longest_side_cm": "max_longest_side_cm",
    "refuse_girth_cm": "max_girth_cm",
}
KIND_COLUMNS = {
    "fuel": {"percent", "valid_from", "valid_to"},
    "remote": {"remote_list", "refuse", "per_kg", "minimum", "fuel_applies"},
    "sensitive": {"categories", "flat", "per_kg", "minimum", "fuel_applies"},
    "oversize": {"per_piece", "fuel_applies"},
    "handling": {"flat", "per_piece", "fuel_applies"},
}
SURCHARGE_VALUE_COLUMNS = (
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
)


# Reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    """A non-empty data row: its spreadsheet row number and its cells by column name."""

    number: int
    cells: dict[str, Cell]


@dataclass(frozen=True)
class Sheet:
    """One sheet as read: the names in row 1 (blank names kept as "") and its non-empty rows."""

    name: str
    header: tuple[str, ...]
    rows: tuple[SheetRow, ...]


def _cell(value: object) -> Cell:
    """Normalise a raw cell: strip text, floats to exact Decimals through their shortest repr."""
    if value is None or isinstance(value, bool | int | Decimal | date):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    text_value = str(value).strip()
    return text_value or None


def _grid_to_sheet(name: str, grid: Iterable[Iterable[object]], problems: list) -> Sheet:
    header: tuple[str, ...] = ()
    rows: list[SheetRow] = []
    for number, raw in enumerate(grid, start=1):
        values = [_cell(v) for v in raw]
        if number == 1:
            names = ["" if v is None else str(v).strip() for v in values]
            while names and not names[-1]:
                names.pop()
            header = tuple(names)
            continue
        if all(is_blank(v) for v in values):
            continue
        if len(rows) >= MAX_ROWS:
            problems.append(
                SheetProblem(name, number, "", _l("Too many rows (at most %(max)s).", max=MAX_ROWS))
            )
            break
        cells: dict[str, Cell] = {}
        for index, value in enumerate(values):
            key = header[index] if index < len(header) else ""
            if key not in cells or (key == "" and not is_blank(value)):
                cells[key] = value
        rows.append(SheetRow(number, cells))
    return Sheet(name, header, tuple(rows))


def _read_xlsx(path: Path, problems: list) -> dict[str, Sheet]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        problems.append(SheetProblem(path.name, 0, "", _l("Not a readable .xlsx file.")))
        return {}
    try:
        sheets = {}
        for worksheet in workbook.worksheets:
            # The stored dimensions may be wrong; read every row and column that is there.
            worksheet.reset_dimensions()
            name = worksheet.title.strip()
            sheets[name] = _grid_to_sheet(name, worksheet.iter_rows(values_only=True), problems)
        return sheets
    except (KeyError, ValueError, zipfile.BadZipFile, OSError, SyntaxError):
        problems.append(SheetProblem(path.name, 0, "", _l("Not a readable .xlsx file.")))
        return {}
    finally:
        workbook.close()


def _csv_sheet(name: str, data: bytes, problems: list) -> Sheet | None:
    if len(data) > MAX_CSV_BYTES:
        problems.append(SheetProblem(name, 0, "", _l("The file is too large.")))
        return None
    try:
        content = data.decode("utf-8-sig")
        return _grid_to_sheet(name, csv.reader(io.StringIO(content, newline="")), problems)
    except UnicodeDecodeError:
        problems.append(SheetProblem(name, 0, "", _l("The file is not UTF-8 text.")))
    except csv.Error:
        problems.append(SheetProblem(name, 0, "", _l("The file is not valid CSV.")))
    return None


def _add_csv(sheets: dict, file_name: str, data: bytes, problems: list) -> None:
    name = file_name[: -len(".csv")].strip()
    if name in sheets:
        problems.append(SheetProblem(name, 0, "", _l("This sheet is given twice.")))
        return
    sheet = _csv_sheet(name, data, problems)
    if sheet is not None:
        sheets[name] = sheet


def _read_zip(path: Path, problems: list) -> dict[str, Sheet]:
    sheets: dict[str, Sheet] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                member = PurePosixPath(info.filename)
                if info.is_dir() or "__MACOSX" in member.parts or member.name.startswith("."):
                    continue
                if not member.name.lower().endswith(".csv"):
                    continue
                if info.file_size > MAX_CSV_BYTES:
                    problems.append(SheetProblem(member.name, 0, "", _l("The file is too large.")))
                    continue
                _add_csv(sheets, member.name, archive.read(info), problems)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        problems.append(SheetProblem(path.name, 0, "", _l("Not a readable .zip file.")))
    return sheets


def _read_folder(path: Path, problems: list) -> dict[str, Sheet]:
    sheets: dict[str, Sheet] = {}
    for entry in sorted(path.iterdir()):
        if entry.is_file() and entry.name.lower().endswith(".csv"):
            _add_csv(sheets, entry.name, entry.read_bytes(), problems)
    return sheets


def read_sheets(path: str | os.PathLike[str]) -> dict[str, Sheet]:
    """Read an .xlsx file, a .zip of CSV files or a folder of them; raises RateSheetInvalid."""
    source = Path(path)
    problems: list[SheetProblem] = []
    if source.is_dir():
        sheets = _read_folder(source, problems)
    elif not source.is_file():
        problems.append(SheetProblem(source.name, 0, "", _l("No such file or folder.")))
        sheets = {}
    elif source.suffix.lower() == ".xlsx":
        sheets = _read_xlsx(source, problems)
    elif source.suffix.lower() == ".zip":
        sheets = _read_zip(source, problems)
    else:
        message = _l("Use an .xlsx file, a .zip of CSV files or a folder of CSV files.")
        problems.append(SheetProblem(source.name, 0, "", message))
        sheets = {}
    if problems:
        raise RateSheetInvalid(problems)
    return sheets


# Checking -----------------------------------------------------------------------------------


@dataclass
class Parsed:
    """A row whose readable cells are parsed; a cell with a problem is left out of values."""

    sheet: str
    number: int
    values: dict[str, Any]

    def has(self, *names: str) -> bool:
        return all(n in self.values for n in names)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str) -> Any:
        return self.values.get(name)


@dataclass
class _Checker:
    """Collects every problem of a set of sheets; `parsed` holds the rows for building."""

    sheets: dict[str, Sheet]
    version: str | None
    problems: list[SheetProblem] = field(default_factory=list)
    parsed: dict[str, list[Parsed]] = field(default_factory=dict)
    usable: set[str] = field(default_factory=set)

    def add(self, sheet: str, row: int, column: str, message) -> None:
        self.problems.append(SheetProblem(sheet, row, column, message))

    def run(self) -> None:
        self._parse_all()
        channels = self._check_card_and_channels()
        zones = self._check_areas("zones", "zone")
        remote_lists = self._check_areas("remote_areas", "list")
        used = self._check_rates(channels, zones)
        self._check_channel_coverage(channels, used)
        self._check_shared_areas(used, zones)
        self._check_transit(channels, zones, used)
        self._check_surcharges(channels, remote_lists)
        self._check_duties()

    def _parse_all(self) -> None:
        for name in self.sheets.keys() - SPEC_BY_NAME.keys():
            self.add(
                name,
                0,
                "",
                _l("Unknown sheet; the sheets are: %(names)s.", names=", ".join(SHEET_NAMES)),
            )
        for spec in SPECS:
            sheet = self.sheets.get(spec.name)
            if sheet is None:
                if spec.required:
                    self.add(spec.name, 1, "", _l("This sheet is missing."))
                else:
                    self.usable.add(spec.name)
                self.parsed[spec.name] = []
                continue
            if self._check_header(spec, sheet):
                self.usable.add(spec.name)
            self.parsed[spec.name] = [self._parse_row(spec, sheet, row) for row in sheet.rows]

    def _check_header(self, spec: SheetSpec, sheet: Sheet) -> bool:
        seen: set[str] = set()
        for name in sheet.header:
            if name in seen and name:
                self.add(spec.name, 1, name, _l("This column appears twice."))
            elif name and name not in spec.column_names:
                self.add(spec.name, 1, name, _l("Unknown column."))
            seen.add(name)
        if any(not is_blank(row.cells.get("")) for row in sheet.rows):
            self.add(spec.name, 1, "", _l("A column with data has no name in row 1."))
        complete = True
        for column in spec.columns:
            if column.header_required and column.name not in seen:
                self.add(spec.name, 1, column.name, _l("This column is missing."))
                complete = False
        return complete

    def _parse_row(self, spec: SheetSpec, sheet: Sheet, row: SheetRow) -> Parsed:
        values: dict[str, Any] = {}
        for column in spec.columns:
            if column.name not in sheet.header and column.header_required:
                continue
            try:
                values[column.name] = column.parse(row.cells.get(column.name))
            except CellError as err:
                self.add(spec.name, row.number, column.name, err.message)
        return Parsed(spec.name, row.number, values)

    def _check_dates(self, row: Parsed) -> None:
        start, end = row.get("valid_from"), row.get("valid_to")
        if start is not None and end is not None and end <= start:
            self.add(row.sheet, row.number, "valid_to", _l("Must be after valid_from."))

    def _check_transit_days(self, row: Parsed) -> None:
        if (
            row.has("transit_min_days", "transit_max_days")
            and row["transit_min_days"] > row["transit_max_days"]
        ):
            self.add(
                row.sheet,
                row.number,
                "transit_max_days",
                _l("Must not be less than transit_min_days."),
            )

    def _check_card_and_channels(self) -> dict[str, Parsed]:
        cards = self.parsed["card"]
        if "card" in self.usable and not cards:
            self.add("card", 2, "", _l("Fill in one row for the card."))
        for extra in cards[1:]:
            self.add("card", extra.number, "", _l("The card sheet has only one row."))
        if cards:
            card = cards[0]
            if self.version is not None:
                try:
                    card.values["version"] = required(text(40))(self.version)
                except CellError as err:
                    card.values.pop("version", None)
                    self.add("card", card.number, "version", err.message)
            self._check_dates(card)
            if card.has("version") and _version_exists(card["version"]):
                self.add(
                    "card",
                    card.number,
                    "version",
                    _l("Version %(version)s already exists.", version=card["version"]),
                )

        channels: dict[str, Parsed] = {}
        rows = self.parsed["channels"]
        if "channels" in self.usable and not rows:
            self.add("channels", 2, "", _l("Add at least one channel."))
        for row in rows:
            self._check_transit_days(row)
            self._check_refusal_limits(row)
            if row.get("volumetric_divisor") is None and row.get("volumetric_min_side_cm"):
                self.add(
                    "channels",
                    row.number,
                    "volumetric_min_side_cm",
                    _l("Must be blank when volumetric_divisor is blank."),
                )
            if row.has("insurance_rate_pct") and row["insurance_rate_pct"] is None:
                for name in ("insurance_min", "insurance_max"):
                    if row.get(name) is not None:
                        self.add(
                            "channels",
                            row.number,
                            name,
                            _l("Must be blank when insurance_rate_pct is blank."),
                        )
            if not row.has("code"):
                continue
            first = channels.get(row["code"])
            if first is not None:
                self.add(
                    "channels",
                    row.number,
                    "code",
                    _l("This code is already used on row %(row)s.", row=first.number),
                )
            else:
                channels[row["code"]] = row
        return channels

    def _check_refusal_limits(self, row: Parsed) -> None:
        """Refusal limits belong to fee channels and must lie above the fee's own limit."""
        for refuse, fee in REFUSAL_LIMIT_COLUMNS.items():
            if row.get(refuse) is None:
                continue
            if row.has("over_limit") and row["over_limit"] != "fee":
                message = _l(
                    "Only for channels with over_limit = fee (%(column)s refuses already).",
                    column=fee,
                )
                self.add("channels", row.number, refuse, message)
            elif row.get(fee) is not None and row[refuse] <= row[fee]:
                message = _l(
                    "Must be greater than %(column)s, where the oversize fee starts.", column=fee
                )
                self.add("channels", row.number, refuse, message)

    def _check_areas(self, sheet: str, key: str) -> dict[str, list[Parsed]]:
        groups: dict[str, list[Parsed]] = {}
        seen: dict[tuple, Parsed] = {}
        for row in self.parsed[sheet]:
            if not row.has(key):
                continue
            groups.setdefault(row[key], []).append(row)
            if not row.has("country", "region", "postcode"):
                continue
            identity = (row[key], *area_key(row["country"], row["region"], row["postcode"]))
            first = seen.setdefault(identity, row)
            if first is not row:
                self.add(sheet, row.number, key, _l("Same area as row %(row)s.", row=first.number))
        return groups

    def _known(self, row: Parsed, column: str, sheet: str, known, message) -> bool:
        """Check that row[column] names something defined in `sheet`; True when it does."""
        if not row.has(column) or sheet not in self.usable:
            return False
        if row[column] is None or row[column] in known:
            return True
        self.add(row.sheet, row.number, column, message)
        return False

    def _check_rates(self, channels: dict[str, Parsed], zones: dict) -> dict[str, list[str]]:
        """Check rate rows and their bands; returns the zones each channel has rates for."""
        groups: dict[tuple[str, str], list[Parsed]] = defaultdict(list)
        used: dict[str, list[str]] = {}
        broken: set[tuple[str, str]] = set()
        for row in self.parsed["rates"]:
            known_channel, known_zone = self._known_channel_zone(row, channels, zones)
            if row.has("channel"):
                zones_of_channel = used.setdefault(row["channel"], [])
            if row.has("channel", "zone"):
                pair = (row["channel"], row["zone"])
                groups[pair].append(row)
                if known_channel and known_zone and row["zone"] not in zones_of_channel:
                    zones_of_channel.append(row["zone"])
                if not row.has("min_excl_kg", "max_incl_kg"):
                    broken.add(pair)
                elif row["max_incl_kg"] <= row["min_excl_kg"]:
                    broken.add(pair)
                    self.add(
                        "rates", row.number, "max_incl_kg", _l("Must be greater than min_excl_kg.")
                    )
            if row.has("first_kg", "max_incl_kg") and row["first_kg"] > row["max_incl_kg"]:
                self.add("rates", row.number, "first_kg", _l("Must not be more than max_incl_kg."))
        for pair, rows in groups.items():
            if pair not in broken:
                self._check_bands(rows, channels.get(pair[0]))
        return used

    def _check_bands(self, rows: list[Parsed], channel: Parsed | None) -> None:
        rows = sorted(rows, key=lambda r: (r["min_excl_kg"], r["max_incl_kg"], r.number))
        first = rows[0]
        if channel is not None and channel.has("rounding_step_kg", "min_chargeable_kg"):
            lowest = max(channel["rounding_step_kg"], channel["min_chargeable_kg"] or 0)
            if first["min_excl_kg"] >= lowest:
                self.add(
                    "rates",
                    first.number,
                    "min_excl_kg",
                    _l(
                        "The first band must start below %(kg)s kg, the lowest chargeable weight"
                        " of this channel.",
                        kg=format_kg(lowest),
                    ),
                )
        reach = first
        for row in rows[1:]:
            start, end = row["min_excl_kg"], reach["max_incl_kg"]
            if start != end:
                values = {"start": format_kg(start), "end": format_kg(end), "row": reach.number}
                if start < end:
                    message = _l(
                        "Bands overlap: this band starts at %(start)s kg, the band on row"
                        " %(row)s ends at %(end)s kg.",
                        **values,
                    )
                else:
                    message = _l(
                        "Gap between bands: this band starts at %(start)s kg, the band on row"
                        " %(row)s ends at %(end)s kg.",
                        **values,
                    )
                self.add("rates", row.number, "min_excl_kg", message)
            if row["max_incl_kg"] > reach["max_incl_kg"]:
                reach = row

    def _check_channel_coverage(self, channels: dict[str, Parsed], used: dict) -> None:
        if "rates" not in self.usable:
            return
        for code, row in channels.items():
            if code not in used:
                self.add("channels", row.number, "code", _l("This channel has no rate rows."))

    def _check_shared_areas(self, used: dict[str, list[str]], zones: dict) -> None:
        """Two zones of one channel with the same area would match equally: refuse it."""
        order = list(zones)
        reported: set[int] = set()
        for channel, zone_codes in used.items():
            seen: dict[tuple, tuple[str, Parsed]] = {}
            for zone in sorted(zone_codes, key=order.index):
                for row in zones[zone]:
                    if not row.has("country", "region", "postcode"):
                        continue
                    identity = area_key(row["country"], row["region"], row["postcode"])
                    first = seen.setdefault(identity, (zone, row))
                    if first[0] != zone and row.number not in reported:
                        reported.add(row.number)
                        message = _l(
                            "Same area as row %(row)s of zone %(zone)s; channel %(channel)s has"
                            " rates for both zones.",
                            row=first[1].number,
                            zone=first[0],
                            channel=channel,
                        )
                        self.add("zones", row.number, "zone", message)

    def _known_channel_zone(self, row: Parsed, channels: dict, zones: dict) -> tuple[bool, bool]:
        """Whether the row's channel and zone exist (each unknown one is reported)."""
        known_channel = self._known(
            row,
            "channel",
            "channels",
            channels,
            _l("Unknown channel %(code)s.", code=row.get("channel")),
        )
        known_zone = self._known(
            row, "zone", "zones", zones, _l("Unknown zone %(code)s.", code=row.get("zone"))
        )
        return known_channel, known_zone

    def _check_transit(self, channels: dict, zones: dict, used: dict) -> None:
        seen: dict[tuple[str, str], Parsed] = {}
        for row in self.parsed["transit"]:
            self._check_transit_days(row)
            known_channel, known_zone = self._known_channel_zone(row, channels, zones)
            if not (known_channel and known_zone):
                continue
            pair = (row["channel"], row["zone"])
            if pair in seen:
                message = _l("Already given on row %(row)s.", row=seen[pair].number)
                self.add("transit", row.number, "zone", message)
                continue
            seen[pair] = row
            if "rates" in self.usable and row["zone"] not in used.get(row["channel"], ()):
                message = _l("Channel %(code)s has no rates for this zone.", code=row["channel"])
                self.add("transit", row.number, "zone", message)

    def _check_surcharges(self, channels: dict[str, Parsed], remote_lists: dict) -> None:
        fuel: dict[str, list[Parsed]] = defaultdict(list)
        oversize: dict[str, Parsed] = {}
        remote: dict[tuple[str, str], Parsed] = {}
        for row in self.parsed["surcharges"]:
            self._check_dates(row)
            known_channel = self._known(
                row,
                "channel",
                "channels",
                channels,
                _l("Unknown channel %(code)s.", code=row.get("channel")),
            )
            if not row.has("kind"):
                continue
            kind = row["kind"]
            self._check_kind_columns(row, kind, remote_lists)
            if not known_channel:
                continue
            code = row["channel"]
            if kind == "fuel":
                fuel[code].append(row)
            elif kind == "oversize":
                self._check_oversize(row, channels[code], oversize)
            elif kind == "remote" and row.get("remote_list"):
                first = remote.setdefault((code, row["remote_list"]), row)
                if first is not row:
                    message = _l(
                        "This channel already has this list on row %(row)s.", row=first.number
                    )
                    self.add("surcharges", row.number, "remote_list", message)
        for rows in fuel.values():
            self._check_overlaps(rows)
        if "surcharges" in self.usable:
            for code, row in channels.items():
                if row.get("over_limit") == "fee" and code not in oversize:
                    self.add(
                        "channels",
                        row.number,
                        "over_limit",
                        _l("Add an oversize surcharge row for this channel."),
                    )

    def _check_oversize(self, row: Parsed, channel: Parsed, seen: dict[str, Parsed]) -> None:
        if channel.has("over_limit") and channel["over_limit"] != "fee":
            self.add(
                "surcharges",
                row.number,
                "kind",
                _l("Only for channels with over_limit = fee."),
            )
        first = seen.setdefault(row["channel"], row)
        if first is not row:
            message = _l(
                "This channel already has an oversize surcharge on row %(row)s.", row=first.number
            )
            self.add("surcharges", row.number, "kind", message)

    def _check_kind_columns(self, row: Parsed, kind: str, remote_lists: dict) -> None:
        allowed = KIND_COLUMNS[kind]
        for name in SURCHARGE_VALUE_COLUMNS:
            value = row.get(name)
            if name not in allowed and value not in (None, False):
                self.add(
                    "surcharges",
                    row.number,
                    name,
                    _l("Must be blank for a %(kind)s surcharge.", kind=kind),
                )

        def need(name: str) -> None:
            if row.has(name) and row[name] is None:
                self.add(
                    "surcharges",
                    row.number,
                    name,
                    _l("Required for a %(kind)s surcharge.", kind=kind),
                )

        def blank(value) -> bool:
            return value in (None, False)

        if kind == "fuel":
            need("percent")
            need("valid_from")
        elif kind == "remote":
            need("remote_list")
            self._known(
                row,
                "remote_list",
                "remote_areas",
                remote_lists,
                _l("Unknown remote-area list %(code)s.", code=row.get("remote_list")),
            )
            if row.get("refuse"):
                for name in ("per_kg", "minimum", "fuel_applies"):
                    if not blank(row.get(name)):
                        self.add(
                            "surcharges", row.number, name, _l("Must be blank when refuse is yes.")
                        )
            elif row.has("refuse", "per_kg", "minimum") and _all_none(row, "per_kg", "minimum"):
                self.add("surcharges", row.number, "per_kg", _l("Give per_kg, minimum or both."))
        elif kind == "sensitive":
            need("categories")
            if not row.has("flat", "per_kg", "minimum"):
                return
            if row["flat"] is not None and not _all_none(row, "per_kg", "minimum"):
                self.add(
                    "surcharges",
                    row.number,
                    "flat",
                    _l("Give either flat, or per_kg and minimum, not both."),
                )
            elif _all_none(row, "flat", "per_kg", "minimum"):
                self.add("surcharges", row.number, "flat", _l("Give flat, or per_kg and minimum."))
        elif kind == "oversize":
            need("per_piece")
        elif row.has("flat", "per_piece") and _all_none(row, "flat", "per_piece"):
            self.add("surcharges", row.number, "flat", _l("Give flat, per_piece or both."))

    def _check_overlaps(self, rows: list[Parsed]) -> None:
        """Date ranges [valid_from, valid_to) of the rows must not overlap."""
        dated = [
            r
            for r in rows
            if r.get("valid_from") is not None
            and r.has("valid_to")
            and (r["valid_to"] is None or r["valid_to"] > r["valid_from"])
        ]
        dated.sort(key=lambda r: (r["valid_from"], r.number))
        reach: Parsed | None = None
        for row in dated:
            if reach is not None:
                end = reach["valid_to"]
                if end is None or row["valid_from"] < end:
                    message = _l("Overlaps the dates on row %(row)s.", row=reach.number)
                    self.add(row.sheet, row.number, "valid_from", message)
                if end is not None and (row["valid_to"] is None or row["valid_to"] > end):
                    reach = row
            else:
                reach = row

    def _check_duties(self) -> None:
        by_country: dict[str, list[Parsed]] = defaultdict(list)
        for row in self.parsed["duties"]:
            self._check_dates(row)
            if row.has("country"):
                by_country[row["country"]].append(row)
        for rows in by_country.values():
            self._check_overlaps(rows)


def _all_none(row: Parsed, *names: str) -> bool:
    return all(row[name] is None for name in names)


def _version_exists(version: str) -> bool:
    return db.session.scalar(select(RateCard.id).where(RateCard.version == version)) is not None


def _sorted_problems(problems: Iterable[SheetProblem]) -> list[SheetProblem]:
    def key(item: tuple[int, SheetProblem]) -> tuple:
        index, problem = item
        spec = SPEC_BY_NAME.get(problem.sheet)
        sheet_index = SPECS.index(spec) if spec else len(SPECS)
        columns = spec.column_names if spec else ()
        column_index = columns.index(problem.column) if problem.column in columns else -1
        return sheet_index, problem.sheet, problem.row, column_index, index

    return [p for _, p in sorted(enumerate(problems), key=key)]


# Building -----------------------------------------------------------------------------------


def _build_card(parsed: dict[str, list[Parsed]]) -> RateCard:
    head = parsed["card"][0]
    card = RateCard(
        version=head["version"],
        name=head["name"],
        valid_from=head["valid_from"],
        valid_to=head["valid_to"],
    )
    zones: dict[tuple[str, str], RateZone] = {}
    for kind, sheet, key in (("delivery", "zones", "zone"), ("remote", "remote_areas", "list")):
        for row in parsed[sheet]:
            zone = zones.get((kind, row[key]))
            if zone is None:
                zone = zones[(kind, row[key])] = RateZone(kind=kind, code=row[key])
                card.zones.append(zone)
            zone.areas.append(
                RateZoneArea(
                    country=row["country"],
                    region=row["region"] or "",
                    postcode=row["postcode"] or "",
                )
            )

    channels: dict[str, Channel] = {}
    for index, row in enumerate(parsed["channels"]):
        channel = channels[row["code"]] = _build_channel(row, index)
        card.channels.append(channel)

    links: dict[tuple[str, str], ChannelZone] = {}
    for row in sorted(parsed["rates"], key=lambda r: r["min_excl_kg"]):
        pair = (row["channel"], row["zone"])
        if pair not in links:
            links[pair] = ChannelZone(zone=zones[("delivery", row["zone"])])
        links[pair].rows.append(
            RateRow(
                min_excl_g=row["min_excl_kg"],
                max_incl_g=row["max_incl_kg"],
                first_g=row["first_kg"],
                first_price_fen=row["first_price"],
                unit_g=row["unit_kg"],
                unit_price_fen=row["unit_price"],
                parcel_fee_fen=row["parcel_fee"] or 0,
            )
        )
    # Channel zones keep the order in which the file first names each pair.
    order = list(dict.fromkeys((r["channel"], r["zone"]) for r in parsed["rates"]))
    for pair in order:
        channels[pair[0]].zones.append(links[pair])
    for row in parsed["transit"]:
        link = links[(row["channel"], row["zone"])]
        link.transit_min_days = row["transit_min_days"]
        link.transit_max_days = row["transit_max_days"]

    for row in parsed["surcharges"]:
        remote_list = row["remote_list"]
        channels[row["channel"]].surcharges.append(
            Surcharge(
                kind=row["kind"],
                remote_zone=zones[("remote", remote_list)] if remote_list else None,
                categories=",".join(row["categories"] or ()),
                percent_bp=row["percent"],
                per_kg_fen=row["per_kg"],
                min_fen=row["minimum"],
                flat_fen=row["flat"],
                per_piece_fen=row["per_piece"],
                refuse=row["refuse"],
                fuel_applies=row["fuel_applies"],
                valid_from=row["valid_from"],
                valid_to=row["valid_to"],
            )
        )
    for row in parsed["duties"]:
        card.duty_rules.append(
            DutyRule(
                country=row["country"],
                rate_bp=row["rate_pct"],
                de_minimis_fen=row["de_minimis"] or 0,
                basis=row["basis"],
                valid_from=row["valid_from"],
                valid_to=row["valid_to"],
            )
        )
    return card


def _build_channel(row: Parsed, index: int) -> Channel:
    return Channel(
        code=row["code"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        carrier=row["carrier"] or "",
        service_level=row["service_level"],
        transit_min_days=row["transit_min_days"],
        transit_max_days=row["transit_max_days"],
        is_active=row["active"],
        sort_order=index,
        volumetric_divisor=row["volumetric_divisor"],
        volumetric_min_side_cm=row["volumetric_min_side_cm"],
        rounding_step_g=row["rounding_step_kg"],
        min_chargeable_g=row["min_chargeable_kg"] or 0,
        min_charge_fen=row["min_charge"] or 0,
        max_piece_g=row["max_piece_kg"],
        max_chargeable_g=row["max_chargeable_kg"],
        max_longest_side_cm=row["max_longest_side_cm"],
        max_girth_cm=row["max_girth_cm"],
        over_limit_action=row["over_limit"],
        refuse_piece_g=row["refuse_piece_kg"],
        refuse_longest_side_cm=row["refuse_longest_side_cm"],
        refuse_girth_cm=row["refuse_girth_cm"],
        categories=",".join(row["categories"]),
        is_ddp=row["ddp"],
        insurance_rate_bp=row["insurance_rate_pct"],
        insurance_min_fen=row["insurance_min"] or 0,
        insurance_max_fen=row["insurance_max"],
    )


def import_rate_card(path: str | os.PathLike[str], version: str | None = None) -> RateCard:
    """Check every cell of a rate sheet and add it as a new card (flushed, not committed).

    `version` replaces the version written in the file. Raises RateSheetInvalid listing every
    problem; then nothing was added to the session.
    """
    checker = _Checker(read_sheets(path), version)
    checker.run()
    if checker.problems:
        raise RateSheetInvalid(checker.problems)
    card = _build_card(checker.parsed)
    try:
        with db.session.begin_nested():
            db.session.add(card)
            db.session.flush()
    except IntegrityError:
        # Another import took the version between our check and the insert.
        row = checker.parsed["card"][0].number
        message = _l("Version %(version)s already exists.", version=card.version)
        raise RateSheetInvalid([SheetProblem("card", row, "version", message)]) from None
    return card


# Exporting ----------------------------------------------------------------------------------


def _units(amount: int | None, places: int) -> Decimal | None:
    """An integer of the smallest unit as a plain Decimal (grams -> kg, basis points -> %)."""
    if amount is None:
        return None
    value = Decimal(amount).scaleb(-places).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def format_kg(grams: int) -> str:
    """Grams as a plain kg string: 500 -> "0.5", 20000 -> "20"."""
    return format(_units(grams, 3), "f")


def _cny(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen).scaleb(-2)


def _blank_zero(value: Decimal | None) -> Decimal | None:
    return value or None


def _flag(value: bool) -> str:
    return "yes" if value else "no"


def _table_rows(card: RateCard) -> dict[str, list[list[Any]]]:
    """Every sheet of the card as rows of values in the doc's column order."""
    tables: dict[str, list[list[Any]]] = {name: [] for name in SHEET_NAMES}
    tables["card"].append([card.version, card.name, card.valid_from, card.valid_to])
    for zone in card.zones:
        sheet = "zones" if zone.kind == "delivery" else "remote_areas"
        for area in zone.areas:
            tables[sheet].append([zone.code, area.country, area.region, area.postcode])
    for channel in card.channels:
        insured = channel.insurance_rate_bp is not None
        tables["channels"].append(
            [
                channel.code,
                channel.name_zh,
                channel.name_en,
                channel.carrier,
                channel.service_level,
                channel.transit_min_days,
                channel.transit_max_days,
                _flag(channel.is_active),
                channel.volumetric_divisor,
                channel.volumetric_min_side_cm,
                _units(channel.rounding_step_g, 3),
                _blank_zero(_units(channel.min_chargeable_g, 3)),
                _blank_zero(_cny(channel.min_charge_fen)),
                _units(channel.max_piece_g, 3),
                _units(channel.max_chargeable_g, 3),
                channel.max_longest_side_cm,
                channel.max_girth_cm,
                channel.over_limit_action,
                _units(channel.refuse_piece_g, 3),
                channel.refuse_longest_side_cm,
                channel.refuse_girth_cm,
                channel.categories,
                _flag(channel.is_ddp),
                _units(channel.insurance_rate_bp, 2),
                _cny(channel.insurance_min_fen) if insured else None,
                _cny(channel.insurance_max_fen),
            ]
        )
        for link in channel.zones:
            for rate in link.rows:
                tables["rates"].append(
                    [
                        channel.code,
                        link.zone.code,
                        _units(rate.min_excl_g, 3),
                        _units(rate.max_incl_g, 3),
                        _units(rate.first_g, 3),
                        _cny(rate.first_price_fen),
                        _units(rate.unit_g, 3),
                        _cny(rate.unit_price_fen),
                        _blank_zero(_cny(rate.parcel_fee_fen)),
                    ]
                )
            if link.transit_min_days is not None:
                tables["transit"].append(
                    [channel.code, link.zone.code, link.transit_min_days, link.transit_max_days]
                )
        for charge in channel.surcharges:
            tables["surcharges"].append(
                [
                    channel.code,
                    charge.kind,
                    charge.remote_zone.code if charge.remote_zone else None,
                    charge.categories,
                    _units(charge.percent_bp, 2),
                    _cny(charge.per_kg_fen),
                    _cny(charge.min_fen),
                    _cny(charge.flat_fen),
                    _cny(charge.per_piece_fen),
                    "yes" if charge.refuse else None,
                    "yes" if charge.fuel_applies else None,
                    charge.valid_from,
                    charge.valid_to,
                ]
            )
    for duty in card.duty_rules:
        tables["duties"].append(
            [
                duty.country,
                _units(duty.rate_bp, 2),
                _blank_zero(_cny(duty.de_minimis_fen)),
                duty.basis,
                duty.valid_from,
                duty.valid_to,
            ]
        )
    return tables


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv_bytes(header: tuple[str, ...], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[_csv_text(v) for v in row] for row in rows])
    # The BOM makes Excel open the file as UTF-8 (Chinese names stay readable).
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _display_width(value: Any) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in _csv_text(value))


def _write_xlsx(tables: dict[str, list[list[Any]]], path: Path) -> None:
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for spec in SPECS:
        sheet = workbook.create_sheet(spec.name)
        sheet.append(spec.column_names)
        for cell in sheet[1]:
            cell.font = bold
        for row in tables[spec.name]:
            sheet.append(row)
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, datetime | date):
                    cell.number_format = "yyyy-mm-dd"
        sheet.freeze_panes = "A2"
        for index, name in enumerate(spec.column_names):
            values = [name, *(row[index] for row in tables[spec.name])]
            width = max(_display_width(v) for v in values) + 2
            sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(width, 8), 40)
    workbook.save(path)


def _csv_files(tables: dict[str, list[list[Any]]]) -> Iterator[tuple[str, bytes]]:
    for spec in SPECS:
        yield f"{spec.name}.csv", _csv_bytes(spec.column_names, tables[spec.name])


def export_rate_card(card: RateCard, path: str | os.PathLike[str]) -> None:
    """Write a card as .xlsx, a .zip of CSV files, or a folder of them (a path without suffix)."""
    target = Path(path)
    tables = _table_rows(card)
    suffix = target.suffix.lower()
    if suffix == ".xlsx":
        _write_xlsx(tables, target)
    elif suffix == ".zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in _csv_files(tables):
                archive.writestr(name, data)
    elif not suffix:
        target.mkdir(parents=True, exist_ok=True)
        for name, data in _csv_files(tables):
            (target / name).write_bytes(data)
    else:
        raise ValidationFailed(_l("Export to an .xlsx file, a .zip file or a folder."))


# Comparing ----------------------------------------------------------------------------------

_SKIPPED = {"id", "created_at", "version", "revision"}


def _columns(obj: Any) -> dict[str, Any]:
    return {
        c.key: getattr(obj, c.key)
        for c in obj.__table__.columns
        if c.key not in _SKIPPED and not c.key.endswith("_id")
    }


def card_summary(card: RateCard) -> dict[str, Any]:
    """Everything a card holds except ids, created_at, version and revision, as plain data."""
    return {
        **_columns(card),
        "zones": [
            {**_columns(zone), "areas": [_columns(area) for area in zone.areas]}
            for zone in sorted(card.zones, key=lambda z: (z.kind, z.code))
        ],
        "channels": [
            {
                **_columns(channel),
                "zones": [
                    {
                        **_columns(link),
                        "zone": (link.zone.kind, link.zone.code),
                        "rows": [_columns(row) for row in link.rows],
                    }
                    for link in channel.zones
                ],
                "surcharges": [
                    {
                        **_columns(charge),
                        "remote_zone": charge.remote_zone.code if charge.remote_zone else None,
                    }
                    for charge in channel.surcharges
                ],
            }
            for channel in card.channels
        ],
        "duty_rules": [_columns(duty) for duty in card.duty_rules],
    }
