"""The ops order list as a spreadsheet: CSV streamed row by row, XLSX written to a temporary file
in write-only mode; both read the orders in batches, so memory stays bounded."""

import csv
import io
import os
import tempfile
import weakref
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Order, OrderParcel, User
from portal.services.order_search import OrderQuery, selected
from portal.services.rate_cards import BUSINESS_ZONE

MAX_ROWS = 200_000
BATCH = 1_000
# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = (
    _l("Order number"),
    _l("Created (Beijing time)"),
    _l("Customer code"),
    _l("Status"),
    _l("Channel"),
    _l("Destination country"),
    _l("Parcels"),
    _l("Weight (kg)"),
    _l("Estimate (CNY)"),
    _l("Bill (CNY)"),
    _l("Outbound tracking number"),
)


def safe_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula, prefixed with ' so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen).scaleb(-2)


def _kg(grams: int) -> Decimal:
    return Decimal(grams).scaleb(-3)


def export_rows(query: OrderQuery, status_label: Callable[[str], str]) -> Iterator[tuple]:
    """The query's orders as export rows (text and Decimals, formula-safe), read in batches."""
    parcels = (
        select(func.count())
        .where(OrderParcel.order_id == Order.id)
        .correlate(Order)
        .scalar_subquery()
    )
    statement = (
        selected(query)
        .add_columns(
            Order.order_no,
            Order.created_at,
            User.customer_code,
            Order.status,
            Order.channel_name,
            Order.ship_country,
            parcels,
            func.coalesce(Order.bill_weight_g, Order.estimate_weight_g),
            Order.estimate_fen,
            Order.bill_fen,
            Order.outbound_tracking_no,
        )
        .join(User, User.id == Order.customer_id)
        .limit(MAX_ROWS)
        .execution_options(yield_per=BATCH)
    )
    for row in db.session.execute(statement):
        (order_no, created, code, status, channel, country, count, weight, est, bill, out) = row
        created_local: datetime = created.astimezone(BUSINESS_ZONE)
        yield tuple(
            safe_cell(value)
            for value in (
                order_no,
                created_local.strftime("%Y-%m-%d %H:%M"),
                code,
                status_label(status),
                channel,
                country,
                count,
                _kg(weight),
                _yuan(est),
                _yuan(bill),
                out,
            )
        )


def header() -> tuple[str, ...]:
    return tuple(str(name) for name in COLUMNS)


def csv_chunks(rows: Iterator[tuple], header_row: tuple[str, ...]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so Excel reads Chinese), about BATCH rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header_row)
    for number, row in enumerate(rows, 1):
        writer.writerow(row)
        if number % BATCH == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_file(rows: Iterator[tuple], header_row: tuple[str, ...]) -> Path:
    """The rows as an XLSX workbook in a new temporary file; the caller removes it."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header_row)
    for row in rows:
        sheet.append(row)
    handle, name = tempfile.mkstemp(prefix="orders-", suffix=".xlsx")
    os.close(handle)
    path = Path(name)
    try:
        workbook.save(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def file_chunks(path: Path) -> Iterator[bytes]:
    """A temporary file's bytes in chunks; the file is removed once read, or when the chunks
    are dropped unread (a client gone before the body was sent)."""
    chunks = _read_and_remove(path)
    weakref.finalize(chunks, path.unlink, missing_ok=True)
    return chunks


def _read_and_remove(path: Path, size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(size):
                yield chunk
    finally:
        path.unlink(missing_ok=True)
