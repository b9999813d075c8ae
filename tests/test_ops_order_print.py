"""Printing an order's packing list and label: the pages and their barcode, counting prints with
an atomic UPDATE (one per POST, never on GET, 10 at once count 10), and the audit entries."""

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Order
from portal.services import barcodes
from tests.conftest import run_together
from tests.helpers import csrf_token, login, post, soup
from tests.test_order_service import order_request, place, shop  # noqa: F401 (fixture)

KINDS = {"packing-list": "packing_list_prints", "label": "label_prints"}


@pytest.fixture
def placed(app, shop):  # noqa: F811
    """A real order of two parcels, placed through the service."""
    req = order_request([shop.received_id, shop.expected_id], shop.address_id)
    return place(app, shop.customer, req)


def prints(app, order_id: int) -> tuple[int, int]:
    with app.app_context():
        order = db.session.get(Order, order_id)
        return order.packing_list_prints, order.label_prints


def audit_rows(app) -> list[tuple]:
    with app.app_context():
        return [
            (e.actor_id, e.action, e.entity_type, e.entity_id, e.before, e.after)
            for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def order_no(app, order_id: int) -> str:
    with app.app_context():
        return db.session.get(Order, order_id).order_no


@pytest.mark.parametrize("kind", KINDS)
def test_the_print_pages_show_the_order_with_its_barcode_and_change_nothing(
    app, client, make_staff, placed, kind
):
    login(client, make_staff("finance"))
    response = client.get(f"/ops/orders/{placed}/{kind}")
    assert response.status_code == 200
    page = soup(response)
    svg = page.select_one(".print-barcode svg")
    assert svg["data-barcode"] == order_no(app, placed)
    assert len(svg.select("g rect")) > 20
    assert not page.select("[style]"), "the CSP forbids style attributes"
    assert not page.select("script:not([src])"), "the CSP forbids inline scripts"
    assert page.select_one("script[src$='ops-print.js']")
    assert not page.body.has_attr("data-autoprint")
    # Finance may look but not print: no counted print button.
    assert page.select('[data-testid="print-button"]') == []
    if kind == "packing-list":
        assert len(page.select('[data-testid="parcel"]')) == 2
        assert len(page.select('[data-testid="declaration-line"]')) == 1
    else:
        assert "Li Lei" in page.select_one('[data-testid="label"]').get_text()
    assert prints(app, placed) == (0, 0)
    assert audit_rows(app) == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_print_post_counts_once_and_opens_the_page_with_the_print_dialog(
    app, client, make_staff, placed, kind
):
    staff = make_staff("warehouse")
    login(client, staff)
    response = post(client, f"/ops/orders/{placed}/print/{kind}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ops/orders/{placed}/{kind}?print=1"
    page = client.get(response.headers["Location"])
    assert soup(page).body.has_attr("data-autoprint")
    again = soup(page).select_one('[data-testid="print-button"]').find_parent("form")
    assert again["action"] == f"/ops/orders/{placed}/print/{kind}"
    post(client, f"/ops/orders/{placed}/print/{kind}")
    expected = (2, 0) if kind == "packing-list" else (0, 2)
    assert prints(app, placed) == expected
    column = KINDS[kind]
    action = "order.print_packing_list" if kind == "packing-list" else "order.print_label"
    number = order_no(app, placed)
    assert audit_rows(app) == [
        (staff.id, action, "order", number, {column: 0}, {column: 1}),
        (staff.id, action, "order", number, {column: 1}, {column: 2}),
    ]
    counts = soup(client.get(f"/ops/orders/{placed}")).select('[data-testid="print-count"]')
    assert [c["data-count"] for c in counts] == [str(n) for n in expected]


def test_an_htmx_print_post_answers_hx_redirect(app, client, make_staff, placed):
    login(client, make_staff("service"))
    response = post(client, f"/ops/orders/{placed}/print/label", htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/ops/orders/{placed}/label?print=1"
    assert prints(app, placed) == (0, 1)


def test_printing_a_missing_order_or_kind_is_404_and_writes_nothing(app, client, make_staff):
    login(client, make_staff("admin"))
    for url in (
        "/ops/orders/999999/print/label",
        f"/ops/orders/{2**31}/print/label",
        "/ops/orders/1/print/invoice",
        "/ops/orders/999999/label",
        "/ops/orders/999999/packing-list",
    ):
        method = post if "/print/" in url else (lambda c, u: c.get(u))
        assert method(client, url).status_code == 404, url
    assert audit_rows(app) == []


def test_a_print_post_needs_the_csrf_token_and_the_role(app, client, make_staff, placed):
    login(client, make_staff("finance"))
    assert post(client, f"/ops/orders/{placed}/print/label").status_code == 403
    other = app.test_client()
    login(other, make_staff("warehouse"))
    assert other.post(f"/ops/orders/{placed}/print/label").status_code == 400
    assert prints(app, placed) == (0, 0)


def test_ten_prints_at_once_count_ten(app, make_staff, placed):
    clients = []
    for _ in range(10):
        client = app.test_client()
        login(client, make_staff("warehouse"))
        clients.append((client, csrf_token(client)))

    def press(i: int) -> int:
        client, token = clients[i]
        return client.post(
            f"/ops/orders/{placed}/print/label", data={"csrf_token": token}
        ).status_code

    assert run_together(app, 10, press) == [303] * 10
    assert prints(app, placed) == (0, 10)
    afters = sorted(row[5]["label_prints"] for row in audit_rows(app))
    assert afters == list(range(1, 11))


def test_the_barcode_is_plain_svg_of_the_value():
    svg = BeautifulSoup(str(barcodes.code128_svg("JY261122ABCDEF")), "html.parser").svg
    assert svg["data-barcode"] == "JY261122ABCDEF"
    assert svg.title.get_text() == "JY261122ABCDEF"
    assert not svg.select("[style]")
    bars = svg.select("g rect")
    # Code 128: start, 14 characters (code C pairs digits), checksum and stop, 3 bars each.
    assert 20 <= len(bars) <= 60
    hostile = str(barcodes.code128_svg("<b>&", label='"><script>'))
    assert "<script>" not in hostile and "<b>" not in hostile
    assert str(barcodes.code128_svg("A")) != str(barcodes.code128_svg("B"))


def test_the_print_button_is_a_post_to_the_counter(app, client, make_staff, placed):
    login(client, make_staff("warehouse"))
    page = soup(client.get(f"/ops/orders/{placed}"))
    forms = [b.find_parent("form") for b in page.select('[data-testid="print-button"]')]
    assert [f["action"] for f in forms] == [
        f"/ops/orders/{placed}/print/packing-list",
        f"/ops/orders/{placed}/print/label",
    ]
    assert all(f["method"] == "post" and f.select_one("[name=csrf_token]") for f in forms)
