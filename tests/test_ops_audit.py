"""The audit log: staff actions are recorded with actor, entity and before/after, and the ops page
finds them by words and days."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEntry, Order
from portal.services import audit
from portal.services.orders import cancel_order
from tests.helpers import HTMX, login, soup
from tests.test_order_service import order_request, place, shop, user  # noqa: F401 (fixture)


def entries(app) -> list[tuple]:
    with app.app_context():
        return [
            (e.actor_id, e.action, e.entity_type, e.entity_id, e.before, e.after, e.reason)
            for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


@pytest.mark.parametrize("by_staff", [False, True], ids=["customer", "staff"])
def test_a_staff_cancel_is_audited_a_customer_cancel_is_not(app, shop, by_staff):  # noqa: F811
    order_id = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    actor = shop.staff if by_staff else shop.customer
    with app.app_context():
        order = db.session.get(Order, order_id)
        cancel_order(user(actor), order, reason="客户要求", by_staff=by_staff)
        db.session.commit()
        order_no = order.order_no
    expected = [
        (
            shop.staff.id,
            "order.cancel",
            "order",
            order_no,
            {"status": "pending_pack"},
            {"status": "cancelled"},
            "客户要求",
        )
    ]
    assert entries(app) == (expected if by_staff else [])


@pytest.fixture
def logged(app, make_staff):
    """Three entries by two staff members on three days (Beijing time)."""
    admin, packer = make_staff("admin"), make_staff("warehouse")
    rows = [
        (packer, "parcel.intake", "parcel", "SF1234567890", datetime(2026, 11, 20, 3, tzinfo=UTC)),
        (admin, "customer.disable", "user", "42", datetime(2026, 11, 21, 3, tzinfo=UTC)),
        # 23:30 in UTC on the 21st is already the 22nd in Beijing.
        (
            packer,
            "order.cancel",
            "order",
            "JY261122ABCDEF",
            datetime(2026, 11, 21, 23, 30, tzinfo=UTC),
        ),
    ]
    with app.app_context():
        for account, action, kind, ident, at in rows:
            entry = audit.record(user(account), action, kind, ident, {"a": 1}, {"a": "<b>"})
            entry.created_at = at
        db.session.commit()
    return admin, packer


@pytest.mark.parametrize(
    ("args", "actions"),
    [
        ({}, ["order.cancel", "customer.disable", "parcel.intake"]),
        ({"q": "ORDER"}, ["order.cancel"]),
        ({"q": "1234567"}, ["parcel.intake"]),
        ({"since": "2026-11-22"}, ["order.cancel"]),
        ({"since": "2026-11-21", "until": "2026-11-21"}, ["customer.disable"]),
    ],
    ids=["all", "action", "entity", "since-beijing-day", "one-day"],
)
def test_the_ops_page_lists_and_filters(client, logged, args, actions):
    admin, _packer = logged
    login(client, admin)
    response = client.get("/ops/audit", query_string=args)
    assert response.status_code == 200
    rows = soup(response).find_all(attrs={"data-testid": "audit-entry"})
    assert [r.find_all("td")[2].get_text() for r in rows] == actions
    fragment = client.get("/ops/audit", query_string=args, headers=HTMX)
    assert soup(fragment).find("html") is None


def test_search_by_the_staff_login_and_values_are_escaped(client, logged):
    admin, packer = logged
    login(client, admin)
    response = client.get("/ops/audit", query_string={"q": packer.identifier})
    rows = soup(response).find_all(attrs={"data-testid": "audit-entry"})
    assert len(rows) == 2
    assert "&lt;b&gt;" in response.get_data(as_text=True)
    assert "<b>" not in response.get_data(as_text=True)
    assert rows[0].find_all("td")[5].get_text() == "a: <b>"


@pytest.mark.parametrize(
    ("args", "field"),
    [({"since": "2026-13-01"}, "since"), ({"until": "yesterday"}, "until"), ({"q": "x" * 61}, "q")],
)
def test_bad_filters_are_refused_next_to_the_field(client, logged, args, field):
    login(client, logged[0])
    response = client.get("/ops/audit", query_string=args)
    assert response.status_code == 422
    assert soup(response).find(id=f"{field}-error").get_text()


def test_the_dashboard_links_the_audit_log_for_admins_only(app, make_staff):
    admin, packer = app.test_client(), app.test_client()
    login(admin, make_staff("admin"))
    login(packer, make_staff("warehouse"))
    assert soup(admin.get("/ops/")).find(attrs={"data-testid": "audit-link"}) is not None
    assert soup(packer.get("/ops/")).find(attrs={"data-testid": "audit-link"}) is None
