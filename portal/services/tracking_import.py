"""Importing a carrier's tracking file (CSV): every row checked first, all rows or none, and a
file imported twice adds nothing the second time.

Columns: tracking number, time (Beijing), place, description. A first row naming them (in
English or Chinese, any order) is read as the header; without one the columns are in that order.
"""

import csv
import io
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import Order, TrackingEvent, User
from portal.services import audit
from portal.services.errors import DomainError, ValidationFailed
from portal.services.shipping import TRACKABLE, EventInput, event_input, outbound_tracking_no

MAX_BYTES = 1024 * 1024
MAX_ROWS = 5_000
COLUMNS = ("tracking_no", "time", "place", "description")
HEADER_NAMES = {
    "tracking_no": {"tracking_no", "tracking number", "tracking", "运单号", "单号", "快递单号"},
    "time": {"time", "date", "datetime", "occurred_at", "时间", "日期", "时间日期"},
    "place": {"place", "location", "地点", "位置"},
    "description": {"description", "event", "status", "描述", "内容", "轨迹", "状态"},
}
FIELD_LABELS = {
    "occurred_at": _l("time"),
    "place": _l("place"),
    "description": _l("description"),
    "tracking_no": _l("tracking number"),
}


class RowsInvalid(ValidationFailed):
    """Some rows of the file are not acceptable; `errors` lists (line number, message)."""

    def __init__(self, errors: list[tuple[int, object]]):
        super().__init__(_l("Nothing was imported: correct these rows and upload again."), "file")
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int
    orders: int


@dataclass(frozen=True)
class _Row:
    line: int
    order_id: int
    event: EventInput

    @property
    def key(self) -> tuple:
        return (self.order_id, self.event.occurred_at, self.event.description)


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ValidationFailed(_l("Choose a CSV file with tracking events."), "file")
    if len(data) > MAX_BYTES:
        raise ValidationFailed(_l("The file may be at most 1 MB."), "file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            _l("Save the file as CSV in UTF-8 and upload it again."), "file"
        ) from exc


def _header(cells: list[str]) -> dict[str, int] | None:
    """Column name -> index when the row is a header naming every column, else None."""
    positions = {}
    for index, cell in enumerate(cells):
        name = cell.strip().casefold()
        for column, names in HEADER_NAMES.items():
            if name in names and column not in positions:
                positions[column] = index
    if len(positions) == len(COLUMNS):
        return positions
    if positions:
        raise ValidationFailed(
            _l(
                "The first row must name the columns: tracking number, time, place, "
                "description (运单号, 时间, 地点, 描述)."
            ),
            "file",
        )
    return None


def read_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """Numbered rows of the file as column -> text; blank lines skipped."""
    text = _decode(data)
    if "\x00" in text:
        raise ValidationFailed(_l("Save the file as CSV in UTF-8 and upload it again."), "file")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, str]]] = []
    positions: dict[str, int] | None = None
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if positions is None and not rows:
                positions = _header(cells)
                if positions is not None:
                    continue
            where = positions or {c: i for i, c in enumerate(COLUMNS)}
            rows.append((line, {c: cells[i] if i < len(cells) else "" for c, i in where.items()}))
            if len(rows) > MAX_ROWS:
                raise ValidationFailed(
                    _l("At most %(n)s rows per file; split it.", n=MAX_ROWS), "file"
                )
    except csv.Error as exc:
        raise ValidationFailed(_l("This file is not a readable CSV file."), "file") from exc
    if not rows:
        raise ValidationFailed(_l("We found no tracking events in the file."), "file")
    return rows


def _orders_by_number(numbers: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    listed = sorted(numbers)
    for start in range(0, len(listed), 500):
        rows = db.session.execute(
            select(Order.outbound_tracking_no, Order.id).where(
                Order.outbound_tracking_no.in_(listed[start : start + 500]),
                Order.status.in_(TRACKABLE),
            )
        )
        found.update(dict(rows.all()))
    return found


def check_rows(rows: list[tuple[int, dict[str, str]]]) -> list[_Row]:
    """Every row matched to its order and checked; raises RowsInvalid listing each bad row."""
    errors: list[tuple[int, object]] = []
    numbers: dict[int, str] = {}
    for line, values in rows:
        try:
            numbers[line] = outbound_tracking_no(values["tracking_no"])
        except ValidationFailed as err:
            errors.append((line, err.message))
    orders = _orders_by_number(set(numbers.values()))
    checked = []
    for line, values in rows:
        if line not in numbers:
            continue
        order_id = orders.get(numbers[line])
        if order_id is None:
            errors.append(
                (line, _l("No shipped order has tracking number %(no)s.", no=numbers[line]))
            )
            continue
        try:
            event = event_input(values["time"], values["place"], values["description"])
        except ValidationFailed as err:
            label = FIELD_LABELS.get(err.field or "", "")
            errors.append((line, _l("%(field)s: %(problem)s", field=label, problem=err.message)))
            continue
        checked.append(_Row(line, order_id, event))
    if errors:
        raise RowsInvalid(sorted(errors, key=lambda e: e[0]))
    return checked


def _existing(rows: list[_Row]) -> set[tuple]:
    order_ids = {row.order_id for row in rows}
    existing = db.session.execute(
        select(TrackingEvent.order_id, TrackingEvent.occurred_at, TrackingEvent.description).where(
            TrackingEvent.order_id.in_(order_ids)
        )
    )
    return {tuple(row) for row in existing}


def import_tracking(actor: User, data: bytes) -> ImportResult:
    """Add the new events of a carrier file; rows already in a timeline are skipped.

    Raises ValidationFailed for an unreadable file, RowsInvalid listing every bad row.
    """
    rows = check_rows(read_rows(data))
    seen = _existing(rows)
    new = []
    for row in rows:
        if row.key not in seen:
            seen.add(row.key)
            new.append(row)
    try:
        with db.session.begin_nested():
            db.session.add_all(
                TrackingEvent(
                    order_id=row.order_id,
                    occurred_at=row.event.occurred_at,
                    place=row.event.place,
                    description=row.event.description,
                )
                for row in new
            )
    except IntegrityError as exc:
        raise DomainError(
            _l("These events were just imported by someone else; upload the file again.")
        ) from exc
    result = ImportResult(len(new), len(rows) - len(new), len({r.order_id for r in new}))
    audit.record(
        actor,
        "tracking.import",
        "tracking_events",
        "import",
        None,
        {"added": result.added, "skipped": result.skipped, "orders": result.orders},
    )
    return result
