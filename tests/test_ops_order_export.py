"""Exporting the ops order list: CSV and XLSX with the list's filters, streamed, formula-safe,
and refused beyond the row limit."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask_login import login_user
from openpyxl import load_workbook
from sqlalchemy import update

from portal.extensions import db
from portal.models import Order, User
from portal.services import order_export
from tests.helpers import field_error, login, soup

HEADER = [
    "Order number",
    "Created (Beijing time)",
    "Customer code",
    "Status",
    "Channel",
    "Destination country",
    "Parcels",
    "Weight (kg)",
    "Estimate (CNY)",
    "Bill (CNY)",
    "Outbound tracking number",
]


@pytest.fixture
def staff(app, client, make_staff):
    """A warehouse clerk who reads the portal in English."""
    account = make_staff("warehouse")
    with app.app_context():
        db.session.get(User, account.id).locale = "en"
        db.session.commit()
    login(client, account)
    return client


@pytest.fixture
def orders(app, make_customer, insert_orders):
    """Three pending orders (two parcels each) and two shipped ones, one with a hostile cell."""
    customer = make_customer()
    pending = insert_orders(customer.id, 3, parcels=2)
    shipped = insert_orders(customer.id, 2, status="shipped")
    with app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.order_no == shipped[0])
            .values(
                bill_fen=12_345,
                bill_weight_g=2_350,
                outbound_tracking_no="=HYPERLINK(1)",
                channel_name="@SUM(A1)",
                created_at=datetime(2026, 11, 20, 15, 59, tzinfo=UTC),
            )
        )
        db.session.commit()
    return pending, shipped


def body(response) -> bytes:
    """The whole body; closing the response releases its generator or temporary file."""
    with response:
        return response.get_data()


def read_csv(response) -> list[list[str]]:
    body_ = body(response)
    assert body_.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body_.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(body(response)), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_csv_has_the_header_and_every_order_of_the_query(staff, orders):
    pending, shipped = orders
    response = staff.get("/ops/orders/export?format=csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="orders-\d{8}-\d{4}\.csv"', disposition)
    table = read_csv(response)
    assert table[0] == HEADER
    # The hostile order was placed last (on the 20th), the others on the 1st.
    assert [row[0] for row in table[1:]] == [shipped[0], shipped[1], *reversed(pending)]
    hostile = next(row for row in table if row[0] == shipped[0])
    assert hostile == [
        shipped[0],
        "2026-11-20 23:59",
        hostile[2],
        "Shipped",
        "'@SUM(A1)",
        "US",
        "1",
        "2.350",
        "100.04",
        "123.45",
        "'=HYPERLINK(1)",
    ]
    first = next(row for row in table if row[0] == pending[0])
    assert first[3] == "Awaiting packing" and first[6] == "2" and first[9] == ""


def test_xlsx_has_the_same_rows_as_cells(staff, orders):
    pending, shipped = orders
    response = staff.get("/ops/orders/export?format=xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert re.fullmatch(
        r'attachment; filename="?orders-\d{8}-\d{4}\.xlsx"?',
        response.headers["Content-Disposition"],
    )
    table = read_xlsx(response)
    assert table[0] == HEADER
    assert len(table) == 1 + len(pending) + len(shipped)
    hostile = next(row for row in table if row[0] == shipped[0])
    assert hostile[1] == "2026-11-20 23:59"
    assert hostile[3] == "Shipped"
    # Formulas stay text: openpyxl would read a formula back as "=...".
    assert hostile[4] == "'@SUM(A1)" and hostile[10] == "'=HYPERLINK(1)"
    assert hostile[6] == 1 and float(hostile[7]) == 2.35 and float(hostile[9]) == 123.45
    first = next(row for row in table if row[0] == pending[0])
    assert first[6] == 2 and first[9] is None


def test_the_xlsx_is_sent_from_a_temporary_file(app, make_staff, orders):
    """The view answers with the file itself (direct passthrough), not bytes held in memory."""
    account = make_staff("warehouse")
    with app.test_request_context("/ops/orders/export?format=xlsx"):
        login_user(db.session.get(User, account.id))
        response = app.view_functions["ops.orders_export"]()
        assert response.direct_passthrough
        assert response.is_streamed
        response.close()


def test_the_export_takes_the_filters_of_the_list(staff, orders):
    pending, shipped = orders
    cases = {
        "status=shipped": [shipped[0], shipped[1]],
        f"q={pending[1]}": [pending[1]],
        "since=2026-11-20&until=2026-11-20": [shipped[0]],
        "status=paid": [],
    }
    for args, expected in cases.items():
        for kind in ("csv", "xlsx"):
            response = staff.get(f"/ops/orders/export?format={kind}&{args}")
            assert response.status_code == 200, (kind, args)
            table = read_csv(response) if kind == "csv" else read_xlsx(response)
            assert [row[0] for row in table[1:]] == expected, (kind, args)
    # The list's export links carry its filters.
    page = soup(staff.get(f"/ops/orders?status=shipped&q={shipped[1]}"))
    link = page.select_one('[data-testid="export-xlsx"]')["href"]
    assert "status=shipped" in link and f"q={shipped[1]}" in link and "format=xlsx" in link


def test_bad_filters_or_format_are_422(staff, orders):
    response = staff.get("/ops/orders/export?format=csv&since=2026-02-30")
    assert response.status_code == 422
    assert field_error(response, "since")
    for kind in ("pdf", "", "x" * 5000):
        response = staff.get("/ops/orders/export", query_string={"format": kind})
        assert response.status_code == 422, kind
        assert soup(response).select_one('[data-testid="export-error"]')


def test_too_many_rows_are_refused_with_a_request_to_narrow_the_range(staff, orders, monkeypatch):
    monkeypatch.setattr(order_export, "MAX_ROWS", 4)
    response = staff.get("/ops/orders/export?format=xlsx")
    assert response.status_code == 422
    message = soup(response).select_one('[data-testid="export-error"]').get_text()
    assert "5" in message and "4" in message and "Narrow" in message
    assert staff.get("/ops/orders/export?format=csv&status=pending_pack").status_code == 200


def test_safe_cell_prefixes_formula_starts_only():
    for value in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert order_export.safe_cell(value) == "'" + value
    for value in ("JY261122", "1Z-1", "", 5, None):
        assert order_export.safe_cell(value) == value
