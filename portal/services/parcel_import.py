"""Reading many parcels at once: pasted lines, a CSV file or an XLSX workbook, into numbered
rows of fields for parcels.register_parcels(); and the templates customers download.

Columns, in order: tracking number, contents, goods category, declared value (CNY). Only the
first is required. A first row naming the columns is skipped. Files are capped in size, in rows
and (for XLSX, a zip archive) in uncompressed size, so a hostile file cannot exhaust memory.
"""

import csv
import io
import warnings
import zipfile
from collections.abc import Iterable, Iterator

from flask_babel import lazy_gettext as _l

from portal.services.errors import ValidationFailed
from portal.services.parcel_fields import EXTRA_COLUMNS
from portal.services.parcels import MAX_BULK_ROWS

COLUMNS = ("tracking_no", "contents", "category", "declared_value")
HEADER_NAMES = {"tracking_no", "tracking number", "tracking", "快递单号", "单号", "运单号"}
MAX_UPLOAD_BYTES = 1024 * 1024
MAX_PASTE_CHARS = 100_000
MAX_XLSX_UNCOMPRESSED = 20 * 1024 * 1024
# Rows read from a file at most, blank ones included (a sheet may hold thousands of empty,
# formatted rows); beyond that the file is refused rather than read on.
MAX_PHYSICAL_ROWS = MAX_BULK_ROWS * 4
# XLSX columns read: enough to notice a row with too many columns.
MAX_XLSX_COLUMNS = 10

Row = tuple[int, dict[str, object]]

TEMPLATE_ROWS = (
    ("tracking_no", "contents", "category", "declared_value"),
    ("SF1234567890123", "T恤 3件", "general", "199.00"),
    ("YT1234567890123", "口红", "cosmetic", "89.50"),
    ("JT1234567890123", "", "", ""),
)


def _too_many_rows() -> ValidationFailed:
    return ValidationFailed(
        _l("At most %(n)s parcels at once, please. Split the list.", n=MAX_BULK_ROWS), "rows"
    )


def _rows_from_cells(records: Iterable[tuple[int, list[object]]], field: str) -> list[Row]:
    """Numbered rows of fields from numbered lists of cells: blanks and a header row skipped."""
    rows: list[Row] = []
    seen_data = False
    for count, (line, cells) in enumerate(records, start=1):
        if count > MAX_PHYSICAL_ROWS:
            raise _too_many_rows()
        texts = [_cell_text(cell) for cell in cells]
        while texts and not texts[-1]:
            texts.pop()
        if not texts:
            continue
        if not seen_data and texts[0].strip().casefold() in HEADER_NAMES:
            seen_data = True
            continue
        seen_data = True
        values: dict[str, object] = dict(zip(COLUMNS, texts, strict=False))
        if len(texts) > len(COLUMNS):
            values[EXTRA_COLUMNS] = len(texts) - len(COLUMNS)
        rows.append((line, values))
        if len(rows) > MAX_BULK_ROWS:
            raise _too_many_rows()
    if not rows:
        raise ValidationFailed(_l("We found no tracking numbers in it."), field)
    return rows


def _cell_text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 1e17:
        # A number typed into a spreadsheet cell: 751234567890.0 is "751234567890".
        return str(int(cell))
    return str(cell)


def _csv_records(text: str) -> Iterator[tuple[int, list[object]]]:
    delimiter = "\t" if "\t" in text else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error:
        raise ValidationFailed(
            _l("Line %(line)s could not be read: check the quotation marks.", line=reader.line_num)
        ) from None


def rows_from_text(text: str) -> list[Row]:
    """Pasted lines: a tracking number per line, optionally followed by the other columns
    separated by commas (or tabs, as copied from a spreadsheet)."""
    if len(text) > MAX_PASTE_CHARS:
        raise ValidationFailed(
            _l("That is too much text at once; paste at most %(n)s parcels.", n=MAX_BULK_ROWS),
            "rows",
        )
    if "\x00" in text:
        raise ValidationFailed(_l("Remove the control characters from the list."), "rows")
    try:
        return _rows_from_cells(_csv_records(text), "rows")
    except ValidationFailed as err:
        err.field = "rows"
        raise


def rows_from_upload(data: bytes) -> list[Row]:
    """A CSV file (UTF-8 or GB18030, as Excel saves it in China) or an XLSX workbook's first
    sheet, told apart by their content, not their name."""
    try:
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValidationFailed(_l("The file is larger than 1 MB."))
        if not data.strip():
            raise ValidationFailed(_l("The file is empty."))
        if data.startswith(b"PK\x03\x04"):
            return _rows_from_cells(_xlsx_records(data), "file")
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise ValidationFailed(_l("Old .xls files cannot be read; save it as .xlsx or CSV."))
        return _rows_from_cells(_csv_records(_decode(data)), "file")
    except ValidationFailed as err:
        err.field = "file"
        raise


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise ValidationFailed(_l("This is not a CSV or XLSX file."))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(_l("This is not a CSV or XLSX file."))


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[object]]]:
    unreadable = ValidationFailed(_l("This XLSX file could not be read; save it again and retry."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        uncompressed = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise unreadable from None
    if uncompressed > MAX_XLSX_UNCOMPRESSED:
        raise ValidationFailed(_l("This XLSX file holds too much; keep only the parcel rows."))

    from openpyxl import load_workbook

    workbook = None
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it ignores (styles, data validation): not our concern.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            sheet = workbook.worksheets[0]
            records = []
            for line, cells in enumerate(
                sheet.iter_rows(max_col=MAX_XLSX_COLUMNS, values_only=True), start=1
            ):
                records.append((line, list(cells)))
                if line > MAX_PHYSICAL_ROWS:
                    break
    except ValidationFailed:
        raise
    except Exception:  # noqa: BLE001 (openpyxl raises many kinds of error on a broken file)
        raise unreadable from None
    finally:
        if workbook is not None:
            workbook.close()
    yield from records


def template_csv() -> bytes:
    """The CSV template: UTF-8 with a byte order mark, so that Excel opens it as UTF-8."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(TEMPLATE_ROWS)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    """The XLSX template; the tracking number column is text, so long numbers keep every digit."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "parcels"
    for row in TEMPLATE_ROWS:
        sheet.append(list(row))
    for cell in sheet["A"]:
        cell.number_format = "@"
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 30
    sheet.column_dimensions["C"].width = 14
    sheet.column_dimensions["D"].width = 14
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
