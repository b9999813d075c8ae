"""The shipping desk (出库), tracking events one by one, and delivery; on SQLite and PostgreSQL."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Notification, Order, OrderEvent, TrackingEvent, User
from portal.services import notifications
from portal.services.rate_cards import BUSINESS_ZONE
from portal.services.shipping import NotShippable, ship_order
from tests.conftest import run_together
from tests.helpers import csrf_token, field_error, post, soup
from tests.test_ops_packing import _shop as _packing_shop  # noqa: F401 (the `shop` fixture)
from tests.test_ops_packing import (
    paid_order,
    ready_order,
    staff_client,
)
from tests.test_order_service import split


def ship_url(order_id: int) -> str:
    return f"/ops/orders/{order_id}/ship"


def order_no(app, order_id: int) -> str:
    with app.app_context():
        return db.session.get(Order, order_id).order_no


def state(order_id: int) -> dict:
    """What shipping, tracking or delivering may write for an order."""
    order = db.session.get(Order, order_id)
    count = lambda model, *where: db.session.scalar(  # noqa: E731
        select(func.count()).select_from(model).where(*where)
    )
    return {
        "order": (
            order.status,
            order.outbound_carrier,
            order.outbound_tracking_no,
            order.shipped_at,
            order.delivered_at,
        ),
        "events": count(OrderEvent, OrderEvent.order_id == order_id),
        "tracking": count(TrackingEvent, TrackingEvent.order_id == order_id),
        "audit": count(AuditEntry),
        "notes": count(Notification),
    }


def shipped_order(app, shop, number: str = "1Z999AA10123456784") -> int:
    order_id = paid_order(app, shop)
    client = staff_client(app, shop.staff)
    response = post(client, ship_url(order_id), {"carrier": "UPS", "tracking_no": number})
    assert response.status_code == 303
    return order_id


def beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BUSINESS_ZONE).astimezone(UTC)


# ---- the desk ------------------------------------------------------------------------------------


def test_the_desk_lists_paid_orders_and_a_scan_opens_the_ship_form(app, shop, make_parcel):
    first = paid_order(app, shop)
    unpaid = ready_order(app, replace(shop, received_id=shop.expected_id))
    client = staff_client(app, shop.staff)
    page = soup(client.get("/ops/shipping"))
    rows = [r["data-order-no"] for r in page.select('[data-testid="paid-order"]')]
    assert rows == [order_no(app, first)]
    assert page.select_one("#order_no").has_attr("autofocus")
    assert page.select_one('[data-testid="ship-form"]') is None

    opened = soup(client.get("/ops/shipping", query_string={"order_no": order_no(app, first)}))
    form = opened.select_one('[data-testid="ship-form"] form')
    assert form["action"] == ship_url(first)
    assert opened.select_one("#tracking_no").has_attr("autofocus")
    assert "DHL" in [o["value"] for o in opened.select("#carrier option")]

    for scanned in (order_no(app, unpaid), "JYNOSUCHORDER", "", "坏" * 50):
        refused = client.get("/ops/shipping", query_string={"order_no": scanned})
        assert refused.status_code == 422, scanned
        assert field_error(refused, "order_no"), scanned
        assert soup(refused).select_one('[data-testid="ship-form"]') is None


def test_ship_records_the_carrier_and_number_and_tells_the_customer(app, shop):
    order_id = paid_order(app, shop)
    client = staff_client(app, shop.staff)
    response = post(client, ship_url(order_id), {"carrier": "DHL", "tracking_no": " 12 3456-7890 "})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/ops/shipping")
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "shipped"
        assert (order.outbound_carrier, order.outbound_tracking_no) == ("DHL", "1234567890")
        assert order.shipped_at is not None
        assert (order.events[-1].from_status, order.events[-1].actor_id) == ("paid", shop.staff.id)
        note = db.session.scalar(
            select(Notification).where(Notification.kind == notifications.ORDER_SHIPPED)
        )
        assert note.user_id == shop.customer.id and note.link == f"/orders/{order.order_no}"
        assert note.params == {
            "order_no": order.order_no,
            "carrier": "DHL",
            "tracking_no": "1234567890",
        }
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.ship"))
        assert (entry.actor_id, entry.entity_id) == (shop.staff.id, order.order_no)
        assert entry.before == {"status": "paid"}
        assert entry.after == {"status": "shipped", "carrier": "DHL", "tracking_no": "1234567890"}


def test_another_carrier_can_be_typed(app, shop):
    order_id = paid_order(app, shop)
    client = staff_client(app, shop.staff)
    refused = post(client, ship_url(order_id), {"carrier": "other", "tracking_no": "YT12345678"})
    assert refused.status_code == 422
    assert field_error(refused, "carrier_other")
    response = post(
        client,
        ship_url(order_id),
        {"carrier": "other", "carrier_other": "云途物流", "tracking_no": "YT12345678"},
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Order, order_id).outbound_carrier == "云途物流"


BAD_NUMBERS = ["", "   ", "abc", "12", "x" * 41, "!!!!!", "中文单号码", "AB\x00CD", "１２"]
BAD_CARRIERS = [("", ""), ("other", ""), ("other", "x" * 41), ("x" * 41, ""), ("DHL\x00", "")]


def test_bad_ship_fields_are_refused_beside_the_field(app, shop):
    order_id = paid_order(app, shop)
    client = staff_client(app, shop.staff)
    token = csrf_token(client)
    with app.app_context():
        before = state(order_id)
    for number in BAD_NUMBERS:
        response = client.post(
            ship_url(order_id), data={"csrf_token": token, "carrier": "DHL", "tracking_no": number}
        )
        assert response.status_code == 422, number
        assert field_error(response, "tracking_no"), number
    for carrier, other in BAD_CARRIERS:
        response = client.post(
            ship_url(order_id),
            data={
                "csrf_token": token,
                "carrier": carrier,
                "carrier_other": other,
                "tracking_no": "1234567890",
            },
        )
        assert response.status_code == 422, carrier
        field = "carrier_other" if carrier == "other" else "carrier"
        assert field_error(response, field), carrier
    with app.app_context():
        assert state(order_id) == before


def test_an_order_that_is_not_paid_cannot_be_shipped(app, shop):
    order_id = ready_order(app, shop)
    client = staff_client(app, shop.staff)
    with app.app_context():
        before = state(order_id)
    response = post(client, ship_url(order_id), {"carrier": "DHL", "tracking_no": "1234567890"})
    assert response.status_code == 409
    assert soup(response).select_one('[data-testid="ship-refusal"]')
    with app.app_context():
        assert state(order_id) == before


def test_shipping_twice_is_refused(app, shop):
    order_id = shipped_order(app, shop)
    client = staff_client(app, shop.staff)
    with app.app_context():
        before = state(order_id)
    again = post(client, ship_url(order_id), {"carrier": "DHL", "tracking_no": "999999999"})
    assert again.status_code == 409
    text = soup(again).select_one('[data-testid="ship-refusal"]').get_text()
    assert "已出库" in text or "already been shipped" in text
    with app.app_context():
        assert state(order_id) == before


def test_an_outbound_number_already_on_another_order_is_refused(app, shop, make_parcel):
    first = shipped_order(app, shop, "SAME123456")
    second = paid_order(
        app, replace(shop, received_id=make_parcel(shop.customer.id, received=True))
    )
    client = staff_client(app, shop.staff)
    response = post(client, ship_url(second), {"carrier": "DHL", "tracking_no": "same-123456"})
    assert response.status_code == 422
    assert order_no(app, first) in field_error(response, "tracking_no")


def test_ten_concurrent_ships_ship_once(app, shop):
    order_id = paid_order(app, shop)

    def work(i):
        order = db.session.get(Order, order_id)
        ship_order(db.session.get(User, shop.staff.id), order, "DHL", f"RACE{i:06d}")
        db.session.commit()
        return i

    wins, losses = split(run_together(app, 10, work))
    assert len(wins) == 1
    assert len(losses) == 9
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.outbound_tracking_no == f"RACE{wins[0]:06d}"
        assert [e.to_status for e in order.events].count("shipped") == 1
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "order.ship")
            )
            == 1
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.kind == notifications.ORDER_SHIPPED)
            )
            == 1
        )


# ---- tracking events -----------------------------------------------------------------------------


def tracking_url(order_id: int) -> str:
    return f"/ops/orders/{order_id}/tracking"


def test_a_tracking_event_is_stored_in_utc_and_shown_newest_first(app, shop):
    order_id = shipped_order(app, shop)
    client = staff_client(app, shop.staff)
    first = post(
        client,
        tracking_url(order_id),
        {"occurred_at": "2025-01-02T10:30", "place": "深圳", "description": "已交航空公司"},
    )
    assert first.status_code == 303
    assert first.headers["Location"].endswith(tracking_url(order_id))
    second = post(
        client,
        tracking_url(order_id),
        {"occurred_at": "2025-01-03 08:00", "place": "", "description": "Arrived at LAX"},
    )
    assert second.status_code == 303
    with app.app_context():
        events = db.session.scalars(
            select(TrackingEvent).where(TrackingEvent.order_id == order_id)
        ).all()
        stored = sorted((e.occurred_at, e.place, e.description) for e in events)
        assert stored == [
            (datetime(2025, 1, 2, 2, 30, tzinfo=UTC), "深圳", "已交航空公司"),
            (datetime(2025, 1, 3, 0, 0, tzinfo=UTC), "", "Arrived at LAX"),
        ]
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "order.tracking_add").limit(1)
        )
        assert entry.actor_id == shop.staff.id
        assert entry.after["description"] in ("已交航空公司", "Arrived at LAX")
    page = soup(client.get(tracking_url(order_id)))
    shown = [e.get_text(" ", strip=True) for e in page.select('[data-testid="tracking-event"]')]
    assert shown[0].startswith("2025-01-03 08:00") and "Arrived at LAX" in shown[0]
    assert shown[1].startswith("2025-01-02 10:30")


BAD_EVENTS = [
    ({"occurred_at": ""}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": "2025-13-01T10:00"}, "occurred_at"),
    ({"occurred_at": "2025-02-30 10:00"}, "occurred_at"),
    ({"occurred_at": "1999-12-31 10:00"}, "occurred_at"),
    ({"occurred_at": "2025-01-01T10:00\x00"}, "occurred_at"),
    ({"occurred_at": "9" * 5000}, "occurred_at"),
    ({"description": ""}, "description"),
    ({"description": "   "}, "description"),
    ({"description": "x" * 301}, "description"),
    ({"description": "a\nb"}, "description"),
    ({"description": "\x07bell"}, "description"),
    ({"place": "x" * 101}, "place"),
    ({"place": "深\r\n圳"}, "place"),
]


def test_bad_tracking_events_are_refused_beside_the_field(app, shop):
    order_id = shipped_order(app, shop)
    client = staff_client(app, shop.staff)
    token = csrf_token(client)
    future = (datetime.now(BUSINESS_ZONE) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    cases = [*BAD_EVENTS, ({"occurred_at": future}, "occurred_at")]
    with app.app_context():
        before = state(order_id)
    for change, field in cases:
        data = {"occurred_at": "2025-01-02T10:30", "place": "深圳", "description": "揽收", **change}
        response = client.post(tracking_url(order_id), data={"csrf_token": token, **data})
        assert response.status_code == 422, change
        assert field_error(response, field), change
    with app.app_context():
        assert state(order_id) == before


def test_a_few_minutes_of_clock_skew_are_tolerated(app, shop):
    order_id = shipped_order(app, shop)
    client = staff_client(app, shop.staff)
    soon = (datetime.now(BUSINESS_ZONE) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    response = post(client, tracking_url(order_id), {"occurred_at": soon, "description": "揽收"})
    assert response.status_code == 303


def test_the_same_event_twice_is_refused(app, shop):
    order_id = shipped_order(app, shop)
    client = staff_client(app, shop.staff)
    data = {"occurred_at": "2025-01-02T10:30", "description": "揽收"}
    assert post(client, tracking_url(order_id), data).status_code == 303
    again = post(client, tracking_url(order_id), data)
    assert again.status_code == 422
    assert field_error(again, "description")
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(TrackingEvent))
        assert count == 1


def test_tracking_events_need_a_shipped_order(app, shop):
    order_id = paid_order(app, shop)
    client = staff_client(app, shop.staff)
    response = post(
        client, tracking_url(order_id), {"occurred_at": "2025-01-02T10:30", "description": "揽收"}
    )
    assert response.status_code == 409
    assert soup(response).select_one('[data-testid="tracking-refusal"]')
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrackingEvent)) == 0


# ---- delivery ------------------------------------------------------------------------------------


def test_deliver_marks_the_order_signed_for_and_the_customer_sees_it(app, shop):
    order_id = shipped_order(app, shop)
    client = staff_client(app, shop.staff)
    post(client, tracking_url(order_id), {"occurred_at": "2025-01-02T10:30", "description": "揽收"})
    post(
        client, tracking_url(order_id), {"occurred_at": "2025-01-05T09:00", "description": "已签收"}
    )
    response = post(client, f"/ops/orders/{order_id}/deliver")
    assert response.status_code == 303
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "delivered" and order.delivered_at is not None
        note = db.session.scalar(
            select(Notification).where(Notification.kind == notifications.ORDER_DELIVERED)
        )
        assert note.params == {"order_no": order.order_no}
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.deliver"))
        assert (entry.before, entry.after) == ({"status": "shipped"}, {"status": "delivered"})
        number = order.order_no
        before = state(order_id)

    again = post(client, f"/ops/orders/{order_id}/deliver")
    assert again.status_code == 409
    with app.app_context():
        assert state(order_id) == before

    customer = staff_client(app, shop.customer)
    page = soup(customer.get(f"/orders/{number}"))
    assert page.select_one('[data-testid="status"]').get_text() == "已签收"
    events = [e.get_text(" ", strip=True) for e in page.select('[data-testid="tracking-event"]')]
    assert "已签收" in events[0] and "揽收" in events[1]


def test_only_shipped_orders_can_be_delivered(app, shop):
    order_id = paid_order(app, shop)
    client = staff_client(app, shop.staff)
    with app.app_context():
        before = state(order_id)
    assert post(client, f"/ops/orders/{order_id}/deliver").status_code == 409
    with app.app_context():
        assert state(order_id) == before
        with pytest.raises(NotShippable):
            from portal.services.shipping import deliver_order

            deliver_order(db.session.get(User, shop.staff.id), db.session.get(Order, order_id))


@pytest.mark.parametrize("order_id", [999_999, 2**31])
def test_unknown_orders_are_not_found(app, shop, order_id):
    client = staff_client(app, shop.staff)
    assert post(client, ship_url(order_id), {"carrier": "DHL"}).status_code == 404
    assert client.get(tracking_url(order_id)).status_code == 404
    assert post(client, f"/ops/orders/{order_id}/deliver").status_code == 404
