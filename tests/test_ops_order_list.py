"""The ops order list (销售订单处理) and the order page: tabs and counts, every search kind, Beijing
days, bad input, the query's total, pages and a constant number of queries."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Order, User
from tests.helpers import HTMX, field_error, login, soup, sql_statements
from tests.test_order_service import order_request, place, shop  # noqa: F401 (fixture)


@pytest.fixture
def staff(client, make_staff):
    login(client, make_staff("finance"))
    return client


def set_orders(app, numbers, **values) -> None:
    with app.app_context():
        db.session.execute(update(Order).where(Order.order_no.in_(numbers)).values(**values))
        db.session.commit()


def order_id(app, number: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Order.id).where(Order.order_no == number))


def rows(response) -> list[str]:
    return [tr["data-order-no"] for tr in soup(response).select('[data-testid="order-row"]')]


def tab_counts(response) -> dict[str, int]:
    return {
        a["data-status"]: int(a.select_one('[data-testid="count"]').get_text())
        for a in soup(response).select('[data-testid="tab"]')
    }


def amount(response) -> int:
    return int(soup(response).select_one('[data-testid="orders-amount"]')["data-fen"])


def test_tabs_count_each_status_and_show_the_newest_first(app, staff, make_customer, insert_orders):
    customer = make_customer()
    waiting = insert_orders(customer.id, 3)
    delivered = insert_orders(customer.id, 2, status="delivered")
    cancelled = insert_orders(customer.id, 1, status="cancelled")
    everything = staff.get("/ops/orders")
    assert everything.status_code == 200
    assert tab_counts(everything) == {
        "all": 6,
        "pending_pack": 3,
        "awaiting_payment": 0,
        "paid": 0,
        "shipped": 0,
        "delivered": 2,
        "cancelled": 1,
    }
    assert rows(everything) == list(reversed(waiting + delivered + cancelled))
    tab = staff.get("/ops/orders?status=delivered")
    assert rows(tab) == list(reversed(delivered))
    current = soup(tab).select_one('[data-testid="tab"][aria-current="page"]')
    assert current["data-status"] == "delivered"
    first = soup(tab).select_one('[data-testid="order-row"] a')
    assert first["href"] == f"/ops/orders/{order_id(app, delivered[-1])}"
    # An unknown tab is the "all" tab.
    assert rows(staff.get("/ops/orders?status=lost")) == rows(everything)


def test_the_fragment_is_the_list_alone(staff, make_customer, insert_orders):
    insert_orders(make_customer().id, 2)
    response = staff.get("/ops/orders?status=pending_pack", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    assert soup(response).find(id="order-list") is not None
    assert "HX-Request" in response.headers["Vary"]
    assert len(rows(response)) == 2
    form = soup(response).select_one("form[role=search]")
    assert form["hx-push-url"] == "true" and form["hx-get"] == "/ops/orders"


def test_search_finds_each_kind_of_number(app, staff, make_customer, insert_orders):
    customer = make_customer()
    other = make_customer()
    mine = insert_orders(customer.id, 3)
    theirs = insert_orders(other.id, 2)
    set_orders(app, [theirs[0]], outbound_tracking_no="1Z999AA10123456784")
    with app.app_context():
        code = db.session.get(User, other.id).customer_code
    cases = {
        mine[1]: [mine[1]],  # an order number
        mine[1].lower(): [mine[1]],  # typed in lower case
        "JY261101T0000": list(reversed(mine + theirs)),  # a prefix of order numbers
        code: list(reversed(theirs)),  # a customer code
        customer.identifier: list(reversed(mine)),  # a customer's phone
        "+86 " + customer.identifier: list(reversed(mine)),  # with the country code
        "1Z999AA10123456784": [theirs[0]],  # an outbound tracking number
        "1Z999AA101": [theirs[0]],  # its prefix
        "YT000002000": [mine[1]],  # the tracking number of a parcel in the order
        "YT 000002-000": [mine[1]],  # as a scanner or a person may type it
        "JY26": [],  # too short for a prefix: exact numbers only
        "没有": [],
        "%": [],
    }
    for q, expected in cases.items():
        response = staff.get("/ops/orders", query_string={"q": q})
        assert response.status_code == 200, q
        assert rows(response) == expected, q
        assert tab_counts(response)["all"] == len(expected), q
    # The search keeps the tab, and the tab links keep the search.
    response = staff.get("/ops/orders", query_string={"q": code, "status": "delivered"})
    assert rows(response) == []
    links = [a["href"] for a in soup(response).select('[data-testid="tab"]')]
    assert all(f"q={code}" in href for href in links)


def test_days_are_beijing_days_inclusive(app, staff, make_customer, insert_orders):
    late, midnight, early = insert_orders(make_customer().id, 3)
    # 23:59 in Beijing on the 20th, 00:00 in Beijing on the 21st, 00:00 on the 20th.
    set_orders(app, [late], created_at=datetime(2026, 11, 20, 15, 59, tzinfo=UTC))
    set_orders(app, [midnight], created_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC))
    set_orders(app, [early], created_at=datetime(2026, 11, 19, 16, 0, tzinfo=UTC))
    cases = {
        ("2026-11-20", "2026-11-20"): [late, early],
        ("2026-11-21", "2026-11-21"): [midnight],
        ("2026-11-21", ""): [midnight],
        ("", "2026-11-19"): [],
        ("", "2026-11-20"): [late, early],
        ("2026-11-19", "2026-11-22"): [midnight, late, early],
    }
    for (since, until), expected in cases.items():
        response = staff.get("/ops/orders", query_string={"since": since, "until": until})
        assert response.status_code == 200
        assert rows(response) == expected, (since, until)
        assert tab_counts(response)["all"] == len(expected)


BAD_INPUT = [
    ({"since": "2026-13-01"}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-11-31"}, "until"),
    ({"until": "20261122"}, "until"),
    ({"since": "0001-01-01"}, "since"),
    ({"until": "9999-12-31"}, "until"),
    ({"since": "2026-11-22\x00"}, "since"),
    ({"since": "２０２６-11-22"}, "since"),
    ({"since": "2026-11-22", "until": "2026-11-21"}, "until"),
    ({"q": "J" * 41}, "q"),
    ({"q": "x" * 100_000}, "q"),
    ({"q": "JY\x00261101"}, "q"),
    ({"q": "JY\n261101"}, "q"),
]


@pytest.mark.parametrize(("args", "field"), BAD_INPUT)
def test_bad_dates_and_searches_are_422_with_the_message_by_the_field(
    staff, make_customer, insert_orders, args, field
):
    insert_orders(make_customer().id, 1)
    for headers in ({}, HTMX):
        response = staff.get("/ops/orders", query_string=args, headers=headers)
        assert response.status_code == 422, args
        assert field_error(response, field), args
        assert soup(response).find(id=f"orders-{field}")["aria-invalid"] == "true"
        assert rows(response) == []


def test_odd_page_numbers_are_404_and_a_page_past_the_end_is_the_last(staff):
    for page in ("0", "-1", "abc", "1e3", "99999999999", "１"):
        assert staff.get("/ops/orders", query_string={"page": page}).status_code == 404, page
    assert staff.get("/ops/orders?page=7").status_code == 200


def test_the_total_is_the_bill_when_billed_else_the_estimate(
    app, staff, make_customer, insert_orders
):
    customer = make_customer()
    # estimate_fen is 10000 + n for the n-th inserted order.
    pending = insert_orders(customer.id, 2)  # 10001 + 10002
    paid = insert_orders(customer.id, 1, status="paid")  # estimate 10003, billed below
    set_orders(app, paid, bill_fen=12_345)
    everything = staff.get("/ops/orders")
    assert amount(everything) == 10_001 + 10_002 + 12_345
    assert "¥323.48" in soup(everything).select_one('[data-testid="orders-amount"]').get_text()
    assert amount(staff.get("/ops/orders?status=paid")) == 12_345
    assert amount(staff.get("/ops/orders?status=pending_pack")) == 20_003
    assert amount(staff.get("/ops/orders", query_string={"q": pending[0]})) == 10_001
    assert amount(staff.get("/ops/orders?status=shipped")) == 0


def test_pages_of_fifty(staff, make_customer, insert_orders):
    numbers = insert_orders(make_customer().id, 120, parcels=0)
    newest_first = list(reversed(numbers))
    first = staff.get("/ops/orders")
    assert rows(first) == newest_first[:50]
    assert soup(first).select_one("a[rel=next]")["href"] == "/ops/orders?page=2"
    assert soup(first).select_one("a[rel=prev]") is None
    last = staff.get("/ops/orders?page=3")
    assert rows(last) == newest_first[100:]
    assert soup(last).select_one("a[rel=next]") is None
    assert rows(staff.get("/ops/orders?page=9")) == newest_first[100:]


def test_a_page_costs_the_same_few_queries_however_many_orders(
    app, staff, make_customer, insert_orders
):
    customer = make_customer()
    insert_orders(customer.id, 2)
    staff.get("/ops/orders")  # warm the caches of the first request
    with sql_statements(app) as few:
        assert len(rows(staff.get("/ops/orders?q=JY261101T00"))) == 2
    insert_orders(customer.id, 60, parcels=2)
    with sql_statements(app) as many:
        assert len(rows(staff.get("/ops/orders?q=JY261101T00"))) == 50
    assert len(few) == len(many)
    assert len(many) <= 8, many


def test_the_order_page_shows_everything_about_the_order(app, client, make_staff, shop):  # noqa: F811
    login(client, make_staff("service"))
    req = order_request([shop.received_id, shop.expected_id], shop.address_id, note="易碎品")
    found = place(app, shop.customer, req)
    response = client.get(f"/ops/orders/{found}")
    assert response.status_code == 200
    page = soup(response)
    with app.app_context():
        order = db.session.get(Order, found)
        customer = db.session.get(User, shop.customer.id)
        order_no, code = order.order_no, customer.customer_code
    assert page.select_one('[data-testid="order-no"]').get_text() == order_no
    assert code in page.select_one('[data-testid="customer"]').get_text()
    assert shop.customer.identifier in page.select_one('[data-testid="customer"]').get_text()
    assert len(page.select('[data-testid="parcel"]')) == 2
    assert len(page.select('[data-testid="declaration-line"]')) == 1
    assert page.select('[data-testid="charge-line"]')
    assert len(page.select('[data-testid="event"]')) == 1
    counts = [c["data-count"] for c in page.select('[data-testid="print-count"]')]
    assert counts == ["0", "0"]
    # Service staff may print: the buttons are there.
    assert len(page.select('[data-testid="print-button"]')) == 2


def test_the_order_page_of_a_missing_order_is_404(staff):
    for order in ("999999", str(2**31), "0"):
        assert staff.get(f"/ops/orders/{order}").status_code == 404, order


def test_finance_sees_the_order_without_print_buttons(app, staff, make_customer, insert_orders):
    (number,) = insert_orders(make_customer().id, 1)
    page = soup(staff.get(f"/ops/orders/{order_id(app, number)}"))
    assert page.select_one('[data-testid="order-no"]').get_text() == number
    assert page.select('[data-testid="print-button"]') == []
