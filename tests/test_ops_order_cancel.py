"""Staff cancel an order with a reason: parcels released, customer told, action audited."""

import pytest

from portal.extensions import db
from portal.models import AuditEntry, Notification, Order, Parcel
from portal.services import order_states
from tests.helpers import login, post, soup
from tests.test_order_service import order_request, place, shop  # noqa: F401


@pytest.fixture
def service_client(app, make_staff):
    client = app.test_client()
    login(client, make_staff("service"))
    return client


def _cancel(client, order_id: int, reason: str):
    return post(client, f"/ops/orders/{order_id}/cancel", {"reason": reason})


def _place(app, shop) -> int:  # noqa: F811
    return place(app, shop.customer, order_request([shop.received_id], shop.address_id))


def test_staff_cancel_releases_parcels_notifies_and_audits(app, service_client, shop):  # noqa: F811
    order_id = _place(app, shop)
    response = _cancel(service_client, order_id, "客户要求取消")
    assert response.status_code == 303
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "cancelled"
        assert db.session.get(Parcel, shop.received_id).status == "received"
        entry = db.session.query(AuditEntry).filter_by(action="order.cancel").one()
        assert (entry.entity_id, entry.reason, entry.after) == (
            order.order_no,
            "客户要求取消",
            {"status": "cancelled"},
        )
        messages = db.session.query(Notification).filter_by(user_id=shop.customer.id)
        assert "order_cancelled" in [n.kind for n in messages]


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "bad\x00reason"])
def test_a_reason_is_required_and_checked(app, service_client, shop, reason):  # noqa: F811
    order_id = _place(app, shop)
    response = _cancel(service_client, order_id, reason)
    assert response.status_code == 422
    assert soup(response).select_one("#reason-error")
    with app.app_context():
        assert db.session.get(Order, order_id).status == "pending_pack"
        assert db.session.query(AuditEntry).count() == 0


def test_a_paid_order_is_not_cancelled_here(app, service_client, shop):  # noqa: F811
    order_id = _place(app, shop)
    with app.app_context():
        order = db.session.get(Order, order_id)
        order_states.transition(order, "awaiting_payment", shop.staff.id, order_states.STAFF)
        order_states.transition(order, "paid", shop.customer.id, order_states.CUSTOMER)
        db.session.commit()
    page = service_client.get(f"/ops/orders/{order_id}/cancel")
    assert page.status_code == 200
    assert not soup(page).select("[data-testid=confirm-cancel]")
    refused = _cancel(service_client, order_id, "客户要求取消")
    assert refused.status_code == 409
    assert soup(refused).select_one("[data-testid=cancel-error]")
    with app.app_context():
        assert db.session.get(Order, order_id).status == "paid"


def test_an_unknown_order_is_404(service_client):
    assert service_client.get("/ops/orders/999999/cancel").status_code == 404
    assert service_client.get(f"/ops/orders/{2**31}/cancel").status_code == 404


def test_the_order_page_offers_cancelling_to_service_staff_only(app, service_client, shop):  # noqa: F811
    order_id = _place(app, shop)
    link = soup(service_client.get(f"/ops/orders/{order_id}")).select_one(
        "[data-testid=action-cancel]"
    )
    assert link["href"] == f"/ops/orders/{order_id}/cancel"
    warehouse = app.test_client()
    login(warehouse, shop.staff)
    page = soup(warehouse.get(f"/ops/orders/{order_id}"))
    assert page.select_one("[data-testid=action-cancel]") is None
    assert warehouse.get(f"/ops/orders/{order_id}/cancel").status_code == 403
