"""Registering many parcels at once (/parcels/bulk): pasted lines, CSV and XLSX files, all or
nothing with every bad row reported, the limits on rows and files, and the templates."""

import csv
import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from portal.extensions import db
from portal.models import Parcel, ParcelEvent
from portal.services import parcel_import
from portal.services.errors import ValidationFailed
from portal.services.parcels import MAX_BULK_ROWS
from tests.helpers import HTMX, csrf_token, field_error, login, post, soup


@pytest.fixture
def customer(app, client, make_customer):
    account = make_customer()
    assert login(client, account).status_code == 303
    return account


def parcels_of(app, customer_id: int) -> dict[str, dict]:
    """The customer's parcels by tracking number."""
    with app.app_context():
        found = db.session.scalars(select(Parcel).where(Parcel.customer_id == customer_id))
        return {
            p.tracking_no: {c.name: getattr(p, c.name) for c in Parcel.__table__.columns}
            for p in found
        }


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def paste(client, text: str, htmx: bool = False):
    return post(client, "/parcels/bulk", {"rows": text}, htmx=htmx)


def upload(client, data: bytes, name: str = "parcels.csv", htmx: bool = False, **fields):
    """POST a file. The body is encoded here, in memory: for a body over 500 kB the test client
    would spool it to a temporary file it never closes (a ResourceWarning)."""
    values = MultiDict([("csrf_token", csrf_token(client)), *fields.items()])
    values.add("file", FileStorage(io.BytesIO(data), filename=name))
    boundary, body = encode_multipart(values)
    return client.post(
        "/parcels/bulk",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=HTMX if htmx else {},
    )


def row_errors(response) -> dict[int, int]:
    """Row number -> how many problems are reported for it."""
    found: dict[int, int] = {}
    for item in soup(response).select("#row-errors li[data-row]"):
        found[int(item["data-row"])] = found.get(int(item["data-row"]), 0) + 1
    return found


def xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def test_the_page_has_a_paste_box_a_file_input_and_templates(client, customer):
    response = client.get("/parcels/bulk")
    assert response.status_code == 200
    page = soup(response)
    form = page.find("form", id="bulk-form")
    assert (form["method"], form["enctype"]) == ("post", "multipart/form-data")
    assert form["hx-post"] == "/parcels/bulk"
    assert form.find("textarea", attrs={"name": "rows"}) is not None
    assert form.find("input", attrs={"name": "file", "type": "file"}) is not None
    links = {a["data-testid"]: a["href"] for a in page.select("[data-testid^=template-]")}
    assert links == {
        "template-csv": "/parcels/bulk/template.csv",
        "template-xlsx": "/parcels/bulk/template.xlsx",
    }


# ---------------------------------------------------------------------------------------------
# Pasting
# ---------------------------------------------------------------------------------------------


def test_pasted_numbers_are_registered_with_their_couriers(app, client, customer):
    response = paste(client, "sf1234567890123\n\n  yt-1234567890123 \r\n7712345678901\n")
    assert response.status_code == 303
    assert response.headers["Location"] == "/parcels/?status=expected"
    found = parcels_of(app, customer.id)
    assert {n: p["courier"] for n, p in found.items()} == {
        "SF1234567890123": "SF",
        "YT1234567890123": "YTO",
        "7712345678901": "STO",
    }
    assert all(p["status"] == "expected" for p in found.values())
    assert count(app, ParcelEvent) == 3


def test_pasted_columns_are_read(app, client, customer):
    text = (
        "SF1234567890123,T恤 3件,general,199.9\n"
        'YT1234567890123,"口红, 两支",化妆品,89.50\n'
        "JT1234567890123,Shampoo,Liquids\n"
        "JD0012345678901,,,\n"
    )
    assert paste(client, text, htmx=True).status_code == 204
    found = parcels_of(app, customer.id)
    assert found["SF1234567890123"]["contents"] == "T恤 3件"
    assert found["SF1234567890123"]["declared_value_fen"] == 19990
    assert found["YT1234567890123"]["contents"] == "口红, 两支"
    assert found["YT1234567890123"]["category"] == "cosmetic"  # by its Chinese name
    assert found["JT1234567890123"]["category"] == "liquid"  # by its English name
    assert found["JD0012345678901"]["category"] == "general"


def test_rows_copied_from_a_spreadsheet_are_tab_separated(app, client, customer):
    assert paste(client, "SF1234567890123\t衣服\tgeneral\t50\n").status_code == 303
    assert parcels_of(app, customer.id)["SF1234567890123"]["contents"] == "衣服"


def test_a_header_row_is_skipped(app, client, customer):
    text = "tracking_no,contents,category,declared_value\nSF1234567890123,x,general,1\n"
    assert paste(client, text).status_code == 303
    assert list(parcels_of(app, customer.id)) == ["SF1234567890123"]


def test_one_bad_row_registers_nothing_and_every_bad_row_is_reported(
    app, client, customer, make_parcel
):
    make_parcel(customer.id, tracking_no="JD0012345678901")
    text = "\n".join(
        [
            "SF1234567890123",  # 1: fine
            "bad number!",  # 2
            "YT1234567890123,x,plutonium,1",  # 3: category
            "JT1234567890123,x,general,1.234",  # 4: value
            "sf-1234567890123",  # 5: the same as row 1
            "JD0012345678901",  # 6: registered before
            "DPK123456789,a,general,1,extra",  # 7: too many columns
            "",
            "EA123456789CN,x,?,-1",  # 9: two problems
            "7712345678901",  # 10: fine
        ]
    )
    response = paste(client, text, htmx=True)
    assert response.status_code == 422
    page = soup(response)
    assert page.find("html") is None and page.find("form", id="bulk-form") is not None
    assert row_errors(response) == {2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 9: 2}
    assert list(parcels_of(app, customer.id)) == ["JD0012345678901"]
    assert count(app, ParcelEvent) == 0
    # What was typed stays in the box.
    assert "bad number!" in page.find("textarea", id="rows").get_text()


def test_a_number_another_customer_has_is_flagged(
    app, client, customer, make_customer, make_parcel
):
    make_parcel(make_customer().id, tracking_no="SF1234567890123")
    assert paste(client, "SF1234567890123\nYT1234567890123").status_code == 303
    found = parcels_of(app, customer.id)
    assert found["SF1234567890123"]["shared_tracking_no"] is True
    assert found["YT1234567890123"]["shared_tracking_no"] is False


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rows": ""}, "rows"),
        ({"rows": " \n \n"}, "rows"),
        ({"rows": "tracking_no\n"}, "rows"),
        ({"rows": "SF\x001234567890"}, "rows"),
        ({"rows": "x" * 100_001}, "rows"),
    ],
)
def test_an_empty_or_unreadable_paste_is_refused(app, client, customer, data, field):
    response = post(client, "/parcels/bulk", data)
    assert response.status_code == 422
    assert field_error(response, field)
    assert count(app, Parcel) == 0


def test_at_most_500_rows(app, client, customer):
    numbers = [f"SF{i:013d}" for i in range(MAX_BULK_ROWS + 1)]
    response = paste(client, "\n".join(numbers))
    assert response.status_code == 422
    assert field_error(response, "rows")
    assert count(app, Parcel) == 0
    assert paste(client, "\n".join(numbers[:MAX_BULK_ROWS])).status_code == 303
    assert count(app, Parcel) == MAX_BULK_ROWS


def test_paste_and_file_together_are_refused(app, client, customer):
    response = upload(client, b"YT1234567890123\n", rows="SF1234567890123")
    assert response.status_code == 422
    assert field_error(response, "rows")
    assert count(app, Parcel) == 0


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_csv_file_is_read_in_the_encodings_excel_uses(app, client, customer, encoding):
    text = "快递单号,contents,category,declared_value\r\nSF1234567890123,衣服,普货,10\r\n"
    assert upload(client, text.encode(encoding)).status_code == 303
    found = parcels_of(app, customer.id)
    assert found["SF1234567890123"]["contents"] == "衣服"
    assert found["SF1234567890123"]["category"] == "general"


def test_an_xlsx_file_is_read(app, client, customer):
    data = xlsx(
        [
            ["tracking_no", "contents", "category", "declared_value"],
            ["SF1234567890123", "衣服", "general", 12.5],
            [751234567890, "鞋", None, 100],  # a number typed into a cell
            [None, None, None, None],
            ["YT1234567890123"],
        ]
    )
    response = upload(client, data, "parcels.xlsx", htmx=True)
    assert response.status_code == 204
    found = parcels_of(app, customer.id)
    assert set(found) == {"SF1234567890123", "751234567890", "YT1234567890123"}
    assert found["SF1234567890123"]["declared_value_fen"] == 1250
    assert found["751234567890"]["courier"] == "ZTO"


def test_bad_rows_of_an_xlsx_file_are_reported_by_their_row_number(app, client, customer):
    data = xlsx([["tracking_no"], ["SF1234567890123"], ["??"], ["SF1234567890123"], [None, "x"]])
    response = upload(client, data, "parcels.xlsx")
    assert response.status_code == 422
    assert row_errors(response) == {3: 1, 4: 1, 5: 1}
    assert count(app, Parcel) == 0


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (25 * 1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "photo.png"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx"),
        (b"", "empty.csv"),
        (b"\xff\xfe\xfa\xfb" * 10, "binary.csv"),
        (b"SF1234567890123\n" * 70_000, "big.csv"),  # over 1 MB
        (b"SF" + b"1" * 200_000, "one-huge-field.csv"),
    ],
    ids=["png", "xls", "broken-zip", "empty", "binary", "over-1mb", "huge-field"],
)
def test_files_we_cannot_read_are_refused_beside_the_field(app, client, customer, data, name):
    response = upload(client, data, name, htmx=True)
    assert response.status_code == 422
    assert field_error(response, "file") or field_error(response, "rows")
    assert count(app, Parcel) == 0


def test_an_xlsx_that_unpacks_to_too_much_is_refused_before_reading(app, client, customer):
    response = upload(client, zip_bomb(), "bomb.xlsx")
    assert response.status_code == 422
    assert field_error(response, "file")


def test_a_file_of_many_blank_rows_is_refused(app, client, customer):
    data = xlsx(
        [["SF1234567890123"]] + [[None, None, None, None, None, None, None, None, None, "."]] * 2100
    )
    response = upload(client, data, "parcels.xlsx")
    assert response.status_code == 422
    assert count(app, Parcel) == 0


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


def test_the_csv_template_downloads_and_can_be_uploaded_as_it_is(app, client, customer):
    response = client.get("/parcels/bulk/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=parcels-template.csv"
    data = response.get_data()
    assert data.startswith("\ufeff".encode())
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header == list(parcel_import.COLUMNS)
    assert upload(client, data).status_code == 303
    assert len(parcels_of(app, customer.id)) == len(parcel_import.TEMPLATE_ROWS) - 1


def test_the_xlsx_template_downloads_and_can_be_uploaded_as_it_is(app, client, customer):
    response = client.get("/parcels/bulk/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    data = response.get_data()
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    first = next(sheet.iter_rows(values_only=True))
    assert list(first) == list(parcel_import.COLUMNS)
    assert upload(client, data, "template.xlsx").status_code == 303
    assert len(parcels_of(app, customer.id)) == len(parcel_import.TEMPLATE_ROWS) - 1


def test_templates_need_a_login_and_other_formats_are_404(app, client, customer):
    assert app.test_client().get("/parcels/bulk/template.csv").status_code == 302
    assert client.get("/parcels/bulk/template.xls").status_code == 404


# ---------------------------------------------------------------------------------------------
# The reader on its own (no database)
# ---------------------------------------------------------------------------------------------


def test_rows_keep_their_line_numbers():
    rows = parcel_import.rows_from_text("tracking_no\n\nSF1234567890123,a\n\nYT1234567890123\n")
    assert rows == [
        (3, {"tracking_no": "SF1234567890123", "contents": "a"}),
        (5, {"tracking_no": "YT1234567890123"}),
    ]


def test_a_row_with_too_many_columns_is_marked():
    [(line, values)] = parcel_import.rows_from_text("SF1234567890123,a,b,c,d,e,,")
    assert line == 1 and values["extra_columns"] == 2


def test_the_reader_refuses_more_rows_than_allowed():
    with pytest.raises(ValidationFailed):
        parcel_import.rows_from_text("\n".join(["SF1234567890123"] * (MAX_BULK_ROWS + 1)))
