"""The order state machine: every (from, to, role) against the one transition table, cancelling
from every state, and racing transitions (real threads, one session each) on SQLite and
PostgreSQL."""

import threading

import pytest
from flask_babel import gettext
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import ORDER_STATES, Notification, Order, OrderEvent, OrderParcel, ParcelEvent
from portal.services import notifications
from portal.services.order_states import (
    CUSTOMER,
    STAFF,
    TRANSITIONS,
    TransitionRefused,
    transition,
)
from portal.services.orders import cancel_order, order_parcels
from tests.conftest import run_together
from tests.test_order_service import (
    count,
    footprint,
    live_bindings,
    open_shop,
    order_request,
    place,
    split,
    user,
)

ROLES = (CUSTOMER, STAFF)
NOT_THAT_WAY = "This order cannot be changed that way in its current state."
CHANGED_MEANWHILE = "This order has just been changed by someone else; please look at it again."


def test_the_table_is_the_one_in_the_design():
    """DESIGN.md, "State machines"; no step can be skipped (pay before priced, ship before paid)."""
    design = {
        ("pending_pack", "awaiting_payment"): {STAFF},
        ("awaiting_payment", "paid"): {CUSTOMER},
        ("paid", "shipped"): {STAFF},
        ("shipped", "delivered"): {STAFF},
        ("pending_pack", "cancelled"): {CUSTOMER, STAFF},
        ("awaiting_payment", "cancelled"): {CUSTOMER, STAFF},
        ("paid", "cancelled"): {STAFF},
    }
    assert design == TRANSITIONS
    assert {state for pair in TRANSITIONS for state in pair} == set(ORDER_STATES)


@pytest.fixture
def shop(app, demo_card, make_customer, make_staff, make_address, make_parcel):
    return open_shop(make_customer, make_staff, make_address, make_parcel)


def set_status(order_id: int, status: str) -> None:
    db.session.execute(update(Order).where(Order.id == order_id).values(status=status))
    db.session.commit()


def order_row(order_id: int) -> dict:
    table = Order.__table__
    return dict(db.session.execute(select(table).where(table.c.id == order_id)).one()._mapping)


def event_rows() -> list[tuple]:
    table = OrderEvent.__table__
    return [tuple(row) for row in db.session.execute(select(table).order_by(table.c.id))]


def test_every_pair_in_the_table_succeeds_and_every_other_pair_is_refused(app, shop, subtests):
    order_id = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    actors = {CUSTOMER: shop.customer.id, STAFF: shop.staff.id}
    cases = [(a, b, role) for a in ORDER_STATES for b in ORDER_STATES for role in ROLES]
    assert len(cases) == 72

    for from_status, to_status, role in cases:
        reason = f"{from_status} to {to_status} by {role}"
        with subtests.test(reason), app.app_context():
            set_status(order_id, from_status)
            order = db.session.get(Order, order_id)
            row, events = order_row(order_id), event_rows()

            if role in TRANSITIONS.get((from_status, to_status), ()):
                transition(order, to_status, actors[role], role, reason)
                db.session.commit()
                assert order.status == to_status
                after = order_row(order_id)
                assert after["status"] == to_status
                assert after["updated_at"] >= row["updated_at"]
                unchanged = {k: v for k, v in after.items() if k not in ("status", "updated_at")}
                assert unchanged == {k: row[k] for k in unchanged}
                new = db.session.scalars(
                    select(OrderEvent).where(OrderEvent.id > max(e[0] for e in events))
                ).all()
                assert len(new) == 1
                event = new[0]
                assert (event.order_id, event.actor_id, event.reason) == (
                    order_id,
                    actors[role],
                    reason,
                )
                assert (event.from_status, event.to_status) == (from_status, to_status)
                assert event.created_at is not None
            else:
                with pytest.raises(TransitionRefused) as refused:
                    transition(order, to_status, actors[role], role, reason)
                assert str(refused.value.message) == gettext(NOT_THAT_WAY)
                assert not (db.session.new or db.session.dirty or db.session.deleted)
                assert (order_row(order_id), event_rows()) == (row, events)
                db.session.rollback()
                assert (order_row(order_id), event_rows()) == (row, events)


def test_an_unknown_role_moves_nothing(app, shop):
    order_id = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    with app.app_context():
        order = db.session.get(Order, order_id)
        for to_status in ORDER_STATES:
            for role in ("admin", "warehouse", "", None):
                with pytest.raises(TransitionRefused):
                    transition(order, to_status, shop.staff.id, role)
        assert db.session.get(Order, order_id).status == "pending_pack"


def test_cancel_order_from_every_state(app, shop, make_parcel, subtests):
    """cancel_order goes by the table, except that a paid order needs a refund (not yet)."""
    for state in ORDER_STATES:
        for role in ROLES:
            cancellable = role in TRANSITIONS.get((state, "cancelled"), ()) and state != "paid"
            with subtests.test(f"{state} by {role}"):
                parcels = [make_parcel(shop.customer.id), make_parcel(shop.customer.id)]
                order_id = place(app, shop.customer, order_request(parcels, shop.address_id))
                with app.app_context():
                    set_status(order_id, state)
                    before = footprint()
                    actor = user(shop.staff if role == STAFF else shop.customer)
                    order = db.session.get(Order, order_id)
                    if cancellable:
                        cancel_order(actor, order, "test", by_staff=role == STAFF)
                        db.session.commit()
                        assert order.status == "cancelled"
                        assert [live_bindings(p) for p in parcels] == [0, 0]
                        assert count(OrderEvent) == before["order_events"] + 1
                        assert count(ParcelEvent) == before["parcel_events"] + 2
                    else:
                        with pytest.raises(TransitionRefused):
                            cancel_order(actor, order, "test", by_staff=role == STAFF)
                        db.session.rollback()
                        assert footprint() == before


# ---- racing transitions --------------------------------------------------------------------------


def race(app, order_id: int, acts: list, *, same_snapshot: bool) -> list[object]:
    """Run acts[i](order) in one thread each, all released together, then commit.

    same_snapshot: every thread reads the order before any of them acts, as two people who
    opened the same page and click at once; the acts then change the order from the status they
    read. Otherwise each thread reads the order just before acting (as one request does).
    """
    everyone_has_read = threading.Barrier(len(acts))

    def work(i):
        order = db.session.get(Order, order_id)
        if same_snapshot:
            db.session.expunge(order)  # keep what was read...
            db.session.rollback()  # ...and end the read (SQLite holds its lock until then)
            everyone_has_read.wait(timeout=30)
            order = db.session.merge(order, load=False)
        acts[i](order)
        db.session.commit()
        return order.status

    return run_together(app, len(acts), work)


def assert_cancelled_once(order_id: int, parcels: list[int], actor_ids: set[int]) -> None:
    """One cancel event, each parcel released exactly once, one message."""
    order = db.session.get(Order, order_id)
    assert order.status == "cancelled"
    cancels = [e for e in order.events if e.to_status == "cancelled"]
    assert len(cancels) == 1
    assert cancels[0].actor_id in actor_ids
    releases = db.session.execute(
        select(ParcelEvent.parcel_id)
        .where(ParcelEvent.from_status == "consolidated", ParcelEvent.reason == order.order_no)
        .order_by(ParcelEvent.parcel_id)
    ).scalars()
    assert list(releases) == sorted(parcels)
    links = db.session.scalars(select(OrderParcel).where(OrderParcel.order_id == order_id)).all()
    assert len({link.released_at for link in links}) == 1
    assert links[0].released_at is not None
    assert [p.id for p in order_parcels(order)] == sorted(parcels)
    assert count(Notification, Notification.kind == notifications.ORDER_CANCELLED) == 1


def test_customer_cancel_races_staff_packing_and_one_wins(app, shop):
    parcels = [shop.expected_id, shop.received_id]
    order_id = place(app, shop.customer, order_request(parcels, shop.address_id))
    customer_id, staff_id = shop.customer.id, shop.staff.id

    def cancel(order):
        cancel_order(user(shop.customer), order, "changed my mind")

    def pack(order):
        transition(order, "awaiting_payment", staff_id, STAFF, "packed and priced")

    results = race(app, order_id, [cancel, pack], same_snapshot=True)
    wins, losses = split(results)
    assert len(wins) == 1, results
    assert len(losses) == 1, results
    assert isinstance(losses[0], TransitionRefused)
    assert str(losses[0].message) == CHANGED_MEANWHILE
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert [e.to_status for e in order.events] == ["pending_pack", wins[0]]
        if wins[0] == "cancelled":
            assert_cancelled_once(order_id, parcels, {customer_id})
        else:
            assert order.status == "awaiting_payment"
            assert order.events[-1].actor_id == staff_id
            assert [live_bindings(p) for p in parcels] == [1, 1]
            assert count(ParcelEvent) == 2  # only the binding


def test_cancel_and_pack_in_two_requests_at_once_leave_a_valid_history(app, shop):
    """Each request reads and acts in its own transaction: either one is refused, or (when the
    packing committed before the cancel read the order) both succeed one after the other."""
    parcels = [shop.expected_id, shop.received_id]
    order_id = place(app, shop.customer, order_request(parcels, shop.address_id))

    def cancel(order):
        cancel_order(user(shop.customer), order)

    def pack(order):
        transition(order, "awaiting_payment", shop.staff.id, STAFF)

    wins, losses = split(race(app, order_id, [cancel, pack], same_snapshot=False))
    assert all(isinstance(e, TransitionRefused) for e in losses)
    with app.app_context():
        order = db.session.get(Order, order_id)
        path = [e.to_status for e in order.events]
        assert path in (
            ["pending_pack", "cancelled"],
            ["pending_pack", "awaiting_payment"],
            ["pending_pack", "awaiting_payment", "cancelled"],
        )
        assert len(wins) == len(path) - 1
        assert all(e.from_status == p for e, p in zip(order.events[1:], path, strict=False))
        if order.status == "cancelled":
            assert_cancelled_once(order_id, parcels, {shop.customer.id})
        else:
            assert [live_bindings(p) for p in parcels] == [1, 1]


@pytest.mark.parametrize("same_snapshot", [True, False], ids=["one-snapshot", "own-reads"])
def test_ten_concurrent_cancels_cancel_once(app, shop, same_snapshot):
    parcels = [shop.expected_id, shop.received_id]
    order_id = place(app, shop.customer, order_request(parcels, shop.address_id))

    def cancel(order):
        cancel_order(user(shop.customer), order)

    results = race(app, order_id, [cancel] * 10, same_snapshot=same_snapshot)
    wins, losses = split(results)
    assert wins == ["cancelled"], results
    assert len(losses) == 9
    assert all(isinstance(e, TransitionRefused) for e in losses)
    messages = {str(e.message) for e in losses}
    # A thread that read the order after the winner committed is told it cannot be changed
    # that way; one that read it before is told it has just been changed.
    assert messages <= ({CHANGED_MEANWHILE} if same_snapshot else {CHANGED_MEANWHILE, NOT_THAT_WAY})
    with app.app_context():
        assert_cancelled_once(order_id, parcels, {shop.customer.id})
        assert [e.to_status for e in db.session.get(Order, order_id).events] == [
            "pending_pack",
            "cancelled",
        ]


def test_two_staff_shipping_at_once_ship_once(app, shop, make_staff):
    order_id = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    with app.app_context():
        set_status(order_id, "paid")
    staff_ids = [shop.staff.id, make_staff("warehouse").id]

    def ship_as(staff_id):
        return lambda order: transition(order, "shipped", staff_id, STAFF, f"by {staff_id}")

    results = race(app, order_id, [ship_as(s) for s in staff_ids], same_snapshot=True)
    wins, losses = split(results)
    assert wins == ["shipped"], results
    assert [str(e.message) for e in losses] == [CHANGED_MEANWHILE]
    with app.app_context():
        events = db.session.get(Order, order_id).events
        assert [(e.from_status, e.to_status) for e in events] == [
            (None, "pending_pack"),
            ("paid", "shipped"),
        ]
        assert events[-1].actor_id in staff_ids
