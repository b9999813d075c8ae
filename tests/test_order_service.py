"""Placing and cancelling orders through the services (no HTTP), on SQLite and PostgreSQL.

The services flush and never commit: each test commits after a successful call and rolls back
after a DomainError, as a view does. Concurrency tests use real threads, each with its own
session, released together (`run_together`).
"""

import re
import uuid
from dataclasses import dataclass, replace
from datetime import date

import pytest
from flask_babel import gettext
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    Address,
    Notification,
    Order,
    OrderChargeLine,
    OrderDeclarationLine,
    OrderEvent,
    OrderParcel,
    OrderService,
    PackingService,
    Parcel,
    ParcelEvent,
    RateCard,
    User,
    utcnow,
)
from portal.services import notifications, rate_cards
from portal.services.codes import ALPHABET
from portal.services.errors import DomainError, ValidationFailed
from portal.services.order_states import STAFF, TransitionRefused, transition
from portal.services.orders import (
    DeclarationInput,
    OrderNotFound,
    OrderRequest,
    ParcelsTaken,
    cancel_order,
    order_parcels,
    place_order,
)
from portal.services.pricing import quote
from portal.services.pricing_types import Destination, LineCode, Piece, QuoteRequest
from tests.conftest import Account, run_together

TODAY = date(2026, 11, 22)  # the business day `demo_card` pins
CHANNEL = "US-STD-AIR"
ORDER_NO = re.compile(rf"JY261122[{ALPHABET}]{{6}}")
SHIRTS = DeclarationInput("衬衫", "Shirt", "general", 2, 5_000)
SHOES = DeclarationInput("运动鞋", "Sneakers", "general", 1, 30_000, "640411")


# ---- helpers (also used by test_order_states) ----------------------------------------------------


def order_request(parcel_ids, address_id: int, **changes) -> OrderRequest:
    """A valid request for the demo card's US air line; `changes` override single fields."""
    values = {
        "submit_token": uuid.uuid4().hex,
        "parcel_ids": tuple(parcel_ids),
        "address_id": address_id,
        "channel_code": CHANNEL,
        "weight_g": 2_500,
        "declarations": (SHIRTS,),
    }
    values.update(changes)
    return OrderRequest(**values)


def user(account: Account) -> User:
    return db.session.get(User, account.id)


def place(app, account: Account, req: OrderRequest) -> int:
    """Place an order as a view would (commit on success) and return its id."""
    with app.app_context():
        order = place_order(user(account), req)
        db.session.commit()
        return order.id


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def footprint() -> dict[str, object]:
    """Everything placing or cancelling an order may write, to show that nothing was."""
    written = {
        model.__tablename__: count(model)
        for model in (
            Order,
            OrderParcel,
            OrderEvent,
            OrderDeclarationLine,
            OrderService,
            OrderChargeLine,
            ParcelEvent,
            Notification,
        )
    }
    written["parcels"] = db.session.execute(
        select(Parcel.id, Parcel.status, Parcel.updated_at).order_by(Parcel.id)
    ).all()
    written["released"] = db.session.execute(
        select(OrderParcel.id, OrderParcel.released_at).order_by(OrderParcel.id)
    ).all()
    written["orders"] = db.session.execute(
        select(Order.id, Order.status, Order.updated_at).order_by(Order.id)
    ).all()
    return written


def live_bindings(parcel_id: int) -> int:
    return count(OrderParcel, OrderParcel.parcel_id == parcel_id, OrderParcel.released_at.is_(None))


def split(results: list[object]) -> tuple[list[object], list[Exception]]:
    """Successes and refusals of `run_together`; every thread finished and every refusal is a
    DomainError (never an IntegrityError, a lock timeout or a deadlock)."""
    assert None not in results, f"a thread did not finish: {results!r}"
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, DomainError) for e in losses), [repr(e) for e in losses]
    return wins, losses


@dataclass(frozen=True)
class Shop:
    customer: Account
    other: Account
    staff: Account
    address_id: int
    expected_id: int  # registered, not yet at the warehouse
    received_id: int  # received and weighed (1200 g)


def open_shop(make_customer, make_staff, make_address, make_parcel) -> Shop:
    customer = make_customer()
    return Shop(
        customer=customer,
        other=make_customer(),
        staff=make_staff("warehouse"),
        address_id=make_address(customer.id),
        expected_id=make_parcel(customer.id),
        received_id=make_parcel(customer.id, received=True),
    )


@pytest.fixture
def shop(app, demo_card, make_customer, make_staff, make_address, make_parcel) -> Shop:
    """A customer with a US address, one expected and one received parcel, on the demo card."""
    return open_shop(make_customer, make_staff, make_address, make_parcel)


# ---- placing -------------------------------------------------------------------------------------


def test_place_order_binds_parcels_and_records_everything(app, shop):
    with app.app_context():
        db.session.add_all(
            [
                PackingService(
                    code="REINFORCE", name_zh="加固", name_en="Reinforce", price_fen=1_500, sort=2
                ),
                PackingService(
                    code="PHOTO", name_zh="拍照", name_en="Photos", price_fen=500, sort=1
                ),
            ]
        )
        db.session.commit()
    req = order_request(
        [shop.received_id, shop.expected_id],
        shop.address_id,
        declarations=(SHIRTS, SHOES),
        insure=True,
        service_codes=("REINFORCE", "PHOTO"),
        note="易碎品",
    )
    order_id = place(app, shop.customer, req)

    with app.app_context():
        order = db.session.get(Order, order_id)
        assert ORDER_NO.fullmatch(order.order_no), order.order_no
        assert order.status == "pending_pack"
        assert order.customer_id == shop.customer.id
        assert order.submit_token == req.submit_token
        assert order.rate_card_id == rate_cards.current_card(TODAY).id
        assert db.session.scalar(select(func.count()).select_from(RateCard)) == 1
        assert (order.channel_code, order.service_level) == (CHANNEL, "standard")
        assert (order.estimate_weight_g, order.insure, order.note) == (2_500, True, "易碎品")
        assert order.declared_total_fen == 2 * 5_000 + 30_000
        assert order.categories == "general"

        # The parcels are bound: consolidated, one live link each, one audit row each.
        parcel_ids = sorted([shop.expected_id, shop.received_id])
        assert [p.id for p in order_parcels(order)] == parcel_ids
        assert all(p.status == "consolidated" for p in order_parcels(order))
        assert all(link.released_at is None for link in order.parcel_links)
        events = db.session.execute(
            select(ParcelEvent.parcel_id, ParcelEvent.actor_id, ParcelEvent.from_status)
            .where(ParcelEvent.to_status == "consolidated", ParcelEvent.reason == order.order_no)
            .order_by(ParcelEvent.parcel_id)
        ).all()
        assert events == [
            (shop.expected_id, shop.customer.id, "expected"),
            (shop.received_id, shop.customer.id, "received"),
        ]

        # The address, declaration lines and services are copied onto the order.
        address = db.session.get(Address, shop.address_id)
        assert (order.ship_name, order.ship_phone, order.ship_country) == (
            address.recipient_name,
            address.phone,
            address.country,
        )
        assert (order.ship_region, order.ship_city, order.ship_postcode, order.ship_line1) == (
            address.region,
            address.city,
            address.postcode,
            address.line1,
        )
        lines = [
            (d.seq, d.name_zh, d.name_en, d.category, d.quantity, d.unit_value_fen, d.hs_code)
            for d in order.declaration_lines
        ]
        assert lines == [(1, "衬衫", "Shirt", "general", 2, 5_000, ""), (2, *vars(SHOES).values())]
        assert [(s.code, s.name_zh, s.price_fen) for s in order.services] == [
            ("PHOTO", "拍照", 500),
            ("REINFORCE", "加固", 1_500),
        ]

        # The estimate is the pricing service's quote for the same shipment, plus the services.
        channel = next(c for c in rate_cards.channels_in_force(TODAY) if c.code == CHANNEL)
        offer = quote(
            channel,
            QuoteRequest(
                destination=Destination("US", "Los Angeles", "90001"),
                pieces=(Piece(2_500),),
                on=TODAY,
                categories=frozenset({"general"}),
                declared_value_fen=40_000,
                insure=True,
            ),
        )
        assert offer.available
        assert offer.line(LineCode.INSURANCE) is not None  # the insured value is priced too
        expected_lines = [
            ("estimate", i, line.code.value, line.amount_fen, "")
            for i, line in enumerate(offer.lines, 1)
        ]
        n = len(expected_lines)
        expected_lines += [
            ("estimate", n + 1, "SERVICE", 500, "PHOTO"),
            ("estimate", n + 2, "SERVICE", 1_500, "REINFORCE"),
        ]
        charged = [(c.stage, c.seq, c.code, c.amount_fen, c.detail) for c in order.charge_lines]
        assert charged == expected_lines
        assert order.estimate_fen == sum(c.amount_fen for c in order.charge_lines)
        assert order.estimate_fen == offer.total_fen + 2_000
        assert order.estimate_chargeable_g == offer.chargeable_g
        assert (order.transit_days_min, order.transit_days_max) == offer.transit_days

        # One audit row (None -> pending_pack) and one message for the customer.
        assert [(e.actor_id, e.from_status, e.to_status) for e in order.events] == [
            (shop.customer.id, None, "pending_pack")
        ]
        message = db.session.scalars(select(Notification)).one()
        assert (message.user_id, message.kind) == (shop.customer.id, notifications.ORDER_PLACED)
        assert message.params == {"order_no": order.order_no}
        assert message.link == f"/orders/{order.order_no}"


def test_order_keeps_its_address_and_prices_after_the_book_changes(app, shop):
    with app.app_context():
        db.session.add(
            PackingService(code="PHOTO", name_zh="拍照", name_en="Photos", price_fen=500)
        )
        db.session.commit()
    order_id = place(
        app,
        shop.customer,
        order_request([shop.expected_id], shop.address_id, service_codes=("PHOTO",)),
    )
    ship_columns = [c.name for c in Order.__table__.columns if c.name.startswith("ship_")]

    def snapshot():
        order = db.session.get(Order, order_id)
        return {name: getattr(order, name) for name in ship_columns}, order.services[0].price_fen

    with app.app_context():
        before = snapshot()
        address = db.session.get(Address, shop.address_id)
        address.recipient_name, address.line1, address.city = "Han Meimei", "9 Elm St", "Boston"
        address.postcode, address.phone = "02101", "+12025550199"
        db.session.scalars(select(PackingService)).one().price_fen = 900
        db.session.commit()
    with app.app_context():
        assert snapshot() == before
        db.session.delete(db.session.get(Address, shop.address_id))
        db.session.commit()
    with app.app_context():
        assert snapshot() == before
        assert before[0]["ship_line1"] == "1 Main St"


@pytest.mark.parametrize(
    ("country", "address", "listed_as", "channel"),
    [
        # JP-OKI lists prefectures: an Okinawa address gives 沖縄県 as its state/province.
        (
            "JP",
            {"region": "沖縄県", "city": "那覇市", "postcode": "900-0015"},
            "沖縄県",
            "JP-STD-AIR",
        ),
        # TW-TPE lists cities.
        ("TW", {"region": "", "city": "台北市", "postcode": "100"}, "台北市", "TW-STD-AIR"),
    ],
    ids=["zone-by-region", "zone-by-city"],
)
def test_estimate_uses_the_zone_the_card_lists_for_the_address(
    app, shop, make_address, country, address, listed_as, channel
):
    """The rate card lists some zones by state/province and some by city; the address book has
    both fields, and the estimate must find the zone whichever one the card uses."""
    address_id = make_address(
        shop.customer.id, country=country, phone="+81988620000", line1="1-1", **address
    )
    req = order_request([shop.expected_id], address_id, channel_code=channel, weight_g=1_000)
    order_id = place(app, shop.customer, req)
    with app.app_context():
        card_channel = next(c for c in rate_cards.channels_in_force(TODAY) if c.code == channel)

        def priced(region: str):
            return quote(
                card_channel,
                QuoteRequest(
                    destination=Destination(country, region, address["postcode"]),
                    pieces=(Piece(1_000),),
                    on=TODAY,
                    declared_value_fen=SHIRTS.total_fen,
                ),
            )

        zoned, country_wide = priced(listed_as), priced("")
        assert zoned.zone_code != country_wide.zone_code  # the case means something
        order = db.session.get(Order, order_id)
        assert order.estimate_fen == zoned.total_fen, (
            f"priced as {country_wide.zone_code} ({country_wide.total_fen} fen), "
            f"not as {zoned.zone_code} ({zoned.total_fen} fen)"
        )


def test_parcel_categories_count_when_choosing_a_line(app, shop, make_parcel):
    """A parcel registered as holding a battery needs a battery line, whatever is declared."""
    battery = make_parcel(shop.customer.id, category="battery_in_equipment")
    with app.app_context():
        with pytest.raises(ValidationFailed) as refused:
            place_order(user(shop.customer), order_request([battery], shop.address_id))
        assert refused.value.field == "channel"
        db.session.rollback()
    order_id = place(
        app,
        shop.customer,
        order_request([battery], shop.address_id, channel_code="US-STD-BAT"),
    )
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.category_list == ["battery_in_equipment", "general"]


def test_refusals_name_the_field_and_write_nothing(
    app, shop, make_customer, make_address, make_parcel, subtests
):
    other_parcel = make_parcel(shop.other.id)
    other_address = make_address(shop.other.id)
    bound = make_parcel(shop.customer.id)
    place(app, shop.customer, order_request([bound], shop.address_id))
    deleted = make_parcel(shop.customer.id)
    with app.app_context():
        db.session.execute(delete(Parcel).where(Parcel.id == deleted))
        db.session.add_all(
            [
                PackingService(code="PHOTO", name_zh="拍照", name_en="Photos", price_fen=500),
                PackingService(
                    code="OLD", name_zh="旧", name_en="Old", price_fen=100, is_active=False
                ),
            ]
        )
        db.session.commit()
    mine = [shop.expected_id, shop.received_id]
    battery_line = DeclarationInput("手机", "Phone", "battery_in_equipment", 1, 100_000)
    big_line = DeclarationInput("手表", "Watch", "general", 1, 6_000_000)

    cases = {
        "no parcels": (ValidationFailed, "parcels", {"parcel_ids": ()}),
        "51 parcels": (ValidationFailed, "parcels", {"parcel_ids": tuple(range(1, 52))}),
        "another customer's parcel": (ParcelsTaken, "parcels", {"parcel_ids": (other_parcel,)}),
        "mine and another's": (
            ParcelsTaken,
            "parcels",
            {"parcel_ids": (shop.expected_id, other_parcel)},
        ),
        "already bound": (ParcelsTaken, "parcels", {"parcel_ids": (shop.expected_id, bound)}),
        "deleted parcel": (ParcelsTaken, "parcels", {"parcel_ids": (deleted,)}),
        "no such parcel id": (ParcelsTaken, "parcels", {"parcel_ids": (2**31,)}),
        "another customer's address": (ValidationFailed, "address", {"address_id": other_address}),
        "no such address": (ValidationFailed, "address", {"address_id": 2**31}),
        "unknown channel": (ValidationFailed, "channel", {"channel_code": "US-NOPE"}),
        "inactive channel": (ValidationFailed, "channel", {"channel_code": "US-EXP-FEDEX-IE"}),
        "channel of another country": (ValidationFailed, "channel", {"channel_code": "GB-STD-AIR"}),
        "battery on a general line": (
            ValidationFailed,
            "channel",
            {"declarations": (SHIRTS, battery_line)},
        ),
        "over the line's max weight": (ValidationFailed, "channel", {"weight_g": 31_000}),
        "weight 0": (ValidationFailed, "weight", {"weight_g": 0}),
        "negative weight": (ValidationFailed, "weight", {"weight_g": -1}),
        "weight over 500 kg": (
            ValidationFailed,
            "weight",
            {"weight_g": 500_001},
        ),
        "below the measured weight": (ValidationFailed, "weight", {"weight_g": 1_199}),
        "no declaration lines": (ValidationFailed, "declarations", {"declarations": ()}),
        "31 declaration lines": (
            ValidationFailed,
            "declarations",
            {"declarations": (SHIRTS,) * 31},
        ),
        "declared total over the cap": (
            ValidationFailed,
            "declarations",
            {"declarations": (big_line, big_line)},
        ),
        "inactive packing service": (ValidationFailed, "services", {"service_codes": ("OLD",)}),
        "unknown packing service": (
            ValidationFailed,
            "services",
            {"service_codes": ("PHOTO", "GIFTWRAP")},
        ),
    }
    for name, (error, field, changes) in cases.items():
        with subtests.test(name), app.app_context():
            before = footprint()
            req = replace(order_request(mine, shop.address_id), **changes)
            with pytest.raises(error) as refused:
                place_order(user(shop.customer), req)
            assert refused.value.field == field
            assert str(refused.value.message)
            db.session.rollback()
            assert footprint() == before
            assert count(Order, Order.submit_token == req.submit_token) == 0

    # The same request without the fault goes through (the cases were refused for their fault).
    with app.app_context():
        before = count(Order)
    place(app, shop.customer, order_request(mine, shop.address_id, weight_g=1_200))
    with app.app_context():
        assert count(Order) == before + 1


def test_declared_total_at_the_cap_is_accepted(app, shop):
    at_cap = DeclarationInput("手表", "Watch", "general", 1, 5_000_000)
    order_id = place(
        app,
        shop.customer,
        order_request([shop.expected_id], shop.address_id, declarations=(at_cap, at_cap)),
    )
    with app.app_context():
        assert db.session.get(Order, order_id).declared_total_fen == 10_000_000


# ---- idempotency and atomic binding --------------------------------------------------------------


def test_resubmitting_the_same_request_returns_the_same_order(app, shop):
    req = order_request([shop.expected_id, shop.received_id], shop.address_id)
    first = place(app, shop.customer, req)
    with app.app_context():
        before = footprint()
    second = place(app, shop.customer, req)
    with app.app_context():
        assert second == first
        assert footprint() == before
        assert count(Order) == 1
        assert count(Notification) == 1


def test_ten_concurrent_submits_with_one_token_make_one_order(app, shop):
    req = order_request([shop.expected_id, shop.received_id], shop.address_id)

    def submit(_i):
        order = place_order(user(shop.customer), req)
        db.session.commit()
        return order.id

    results = run_together(app, 10, submit)
    wins, losses = split(results)
    assert losses == []
    assert len(set(wins)) == 1
    with app.app_context():
        assert count(Order) == 1
        assert count(OrderEvent) == 1
        assert count(Notification) == 1
        assert count(ParcelEvent) == 2
        assert live_bindings(shop.expected_id) == live_bindings(shop.received_id) == 1


def test_twenty_concurrent_orders_of_the_same_parcels_make_one_order(app, shop):
    parcels = [shop.expected_id, shop.received_id]

    def submit(i):
        order = place_order(
            user(shop.customer), order_request(parcels, shop.address_id, submit_token=f"t{i}")
        )
        db.session.commit()
        return order.id

    wins, losses = split(run_together(app, 20, submit))
    assert len(wins) == 1, wins
    assert len(losses) == 19
    assert all(isinstance(e, ParcelsTaken) and e.field == "parcels" for e in losses), losses
    with app.app_context():
        assert count(Order) == 1
        assert count(OrderEvent) == 1
        assert count(Notification) == 1
        assert count(OrderParcel) == 2
        assert count(ParcelEvent) == 2
        for parcel_id in parcels:
            assert live_bindings(parcel_id) == 1
            assert db.session.get(Parcel, parcel_id).status == "consolidated"
        order = db.session.get(Order, wins[0])
        assert [p.id for p in order_parcels(order)] == sorted(parcels)


def assert_bindings_consistent(parcel_ids: list[int], orders: list[int]) -> None:
    """No parcel in two live orders; a parcel is consolidated exactly when it is bound; every
    order that was made holds all its parcels."""
    for parcel_id in parcel_ids:
        bound = live_bindings(parcel_id)
        assert bound <= 1, parcel_id
        status = db.session.get(Parcel, parcel_id).status
        assert status == ("consolidated" if bound else "expected"), (parcel_id, status, bound)
    assert count(Order) == len(orders)
    assert count(OrderParcel) == count(ParcelEvent)


def test_overlapping_parcel_sets_ordered_at_once_bind_the_shared_parcel_once(
    app, shop, make_parcel
):
    a, b, c = (make_parcel(shop.customer.id) for _ in range(3))
    sets = [(a, b), (b, c)]

    def submit(i):
        order = place_order(user(shop.customer), order_request(sets[i % 2], shop.address_id))
        db.session.commit()
        return order.id

    wins, losses = split(run_together(app, 10, submit))
    assert len(wins) == 1, wins
    assert all(isinstance(e, ParcelsTaken) for e in losses), losses
    with app.app_context():
        assert_bindings_consistent([a, b, c], wins)
        order = db.session.get(Order, wins[0])
        assert [p.id for p in order_parcels(order)] in ([a, b], [b, c])


def test_a_chain_of_overlapping_orders_never_binds_a_parcel_twice(app, shop, make_parcel):
    parcels = [make_parcel(shop.customer.id) for _ in range(11)]

    def submit(i):
        pair = (parcels[i + 1], parcels[i]) if i % 2 else (parcels[i], parcels[i + 1])
        order = place_order(user(shop.customer), order_request(pair, shop.address_id))
        db.session.commit()
        return order.id

    wins, losses = split(run_together(app, 10, submit))
    assert wins
    assert all(isinstance(e, ParcelsTaken) for e in losses), losses
    with app.app_context():
        assert_bindings_consistent(parcels, wins)
        held = [p.id for order_id in wins for p in order_parcels(db.session.get(Order, order_id))]
        assert len(held) == 2 * len(wins) == len(set(held))


# ---- cancelling ----------------------------------------------------------------------------------


def parcel_states(*parcel_ids: int) -> list[str]:
    return [db.session.get(Parcel, pid).status for pid in parcel_ids]


@pytest.mark.parametrize("state", ["pending_pack", "awaiting_payment"])
def test_customer_cancels_and_parcels_go_back_to_where_they_were(app, shop, state):
    order_id = place(
        app, shop.customer, order_request([shop.expected_id, shop.received_id], shop.address_id)
    )
    with app.app_context():
        order = db.session.get(Order, order_id)
        if state == "awaiting_payment":
            transition(order, "awaiting_payment", shop.staff.id, STAFF, "packed")
            db.session.commit()
        cancel_order(user(shop.customer), order, "不要了")
        db.session.commit()

    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "cancelled"
        assert parcel_states(shop.expected_id, shop.received_id) == ["expected", "received"]
        assert all(link.released_at is not None for link in order.parcel_links)
        assert [p.id for p in order_parcels(order)] == [shop.expected_id, shop.received_id]
        assert (order.events[-1].actor_id, order.events[-1].from_status) == (
            shop.customer.id,
            state,
        )
        assert (order.events[-1].to_status, order.events[-1].reason) == ("cancelled", "不要了")
        released = db.session.execute(
            select(ParcelEvent.parcel_id, ParcelEvent.from_status, ParcelEvent.to_status)
            .where(ParcelEvent.reason == order.order_no, ParcelEvent.from_status == "consolidated")
            .order_by(ParcelEvent.parcel_id)
        ).all()
        assert released == [
            (shop.expected_id, "consolidated", "expected"),
            (shop.received_id, "consolidated", "received"),
        ]
        message = db.session.scalars(
            select(Notification).where(Notification.kind == notifications.ORDER_CANCELLED)
        ).one()
        assert (message.user_id, message.params) == (shop.customer.id, {"order_no": order.order_no})


def test_a_parcel_received_while_bound_goes_back_to_received(app, shop):
    order_id = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    with app.app_context():  # the warehouse scans it in while it waits for packing
        parcel = db.session.get(Parcel, shop.expected_id)
        parcel.received_at, parcel.weight_g = utcnow(), 800
        db.session.commit()
    with app.app_context():
        cancel_order(user(shop.customer), db.session.get(Order, order_id))
        db.session.commit()
    with app.app_context():
        assert parcel_states(shop.expected_id) == ["received"]


def test_released_parcels_can_be_ordered_again(app, shop):
    parcels = [shop.expected_id, shop.received_id]
    first = place(app, shop.customer, order_request(parcels, shop.address_id))
    with app.app_context():
        cancel_order(user(shop.customer), db.session.get(Order, first))
        db.session.commit()
    second = place(app, shop.customer, order_request(parcels, shop.address_id))
    with app.app_context():
        assert second != first
        for parcel_id in parcels:
            assert live_bindings(parcel_id) == 1
            assert count(OrderParcel, OrderParcel.parcel_id == parcel_id) == 2
        assert parcel_states(*parcels) == ["consolidated", "consolidated"]
        assert [p.id for p in order_parcels(db.session.get(Order, first))] == parcels
        assert [p.id for p in order_parcels(db.session.get(Order, second))] == parcels


@pytest.mark.parametrize("by_staff", [False, True], ids=["customer", "staff"])
def test_a_paid_order_cannot_be_cancelled_here(app, shop, by_staff):
    order_id = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    with app.app_context():
        db.session.execute(update(Order).where(Order.id == order_id).values(status="paid"))
        db.session.commit()
    with app.app_context():
        before = footprint()
        actor = shop.staff if by_staff else shop.customer
        with pytest.raises(TransitionRefused) as refused:
            cancel_order(user(actor), db.session.get(Order, order_id), by_staff=by_staff)
        assert str(refused.value.message) == gettext(
            "This order has been paid; please contact us to cancel it with a refund."
        )
        db.session.rollback()
        assert footprint() == before


def test_another_customer_cannot_cancel(app, shop):
    order_id = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    with app.app_context():
        before = footprint()
        with pytest.raises(OrderNotFound):
            cancel_order(user(shop.other), db.session.get(Order, order_id))
        db.session.rollback()
        assert footprint() == before
        assert db.session.get(Order, order_id).status == "pending_pack"


def test_staff_cancel_releases_and_tells_the_customer(app, shop):
    order_id = place(app, shop.customer, order_request([shop.received_id], shop.address_id))
    with app.app_context():
        cancel_order(
            user(shop.staff), db.session.get(Order, order_id), "地址无法派送", by_staff=True
        )
        db.session.commit()
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "cancelled"
        last = order.events[-1]
        assert (last.actor_id, last.reason) == (shop.staff.id, "地址无法派送")
        assert parcel_states(shop.received_id) == ["received"]
        release = db.session.scalars(
            select(ParcelEvent).where(ParcelEvent.to_status == "received")
        ).one()
        assert release.actor_id == shop.staff.id
        message = db.session.scalars(
            select(Notification).where(Notification.kind == notifications.ORDER_CANCELLED)
        ).one()
        assert message.user_id == shop.customer.id


def test_cancelling_twice_is_refused_the_second_time(app, shop):
    order_id = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    with app.app_context():
        cancel_order(user(shop.customer), db.session.get(Order, order_id))
        db.session.commit()
    with app.app_context():
        before = footprint()
        with pytest.raises(TransitionRefused):
            cancel_order(user(shop.customer), db.session.get(Order, order_id))
        db.session.rollback()
        assert footprint() == before


# ---- the partial unique index --------------------------------------------------------------------


def test_the_database_refuses_a_parcel_in_two_live_orders(app, shop):
    first = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    second = place(app, shop.customer, order_request([shop.received_id], shop.address_id))
    with app.app_context():
        db.session.add(OrderParcel(order_id=second, parcel_id=shop.expected_id))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        assert live_bindings(shop.expected_id) == 1

    with app.app_context():  # released links do not count: any number of them plus one live
        db.session.execute(
            update(OrderParcel).where(OrderParcel.order_id == first).values(released_at=utcnow())
        )
        db.session.add(OrderParcel(order_id=second, parcel_id=shop.expected_id))
        db.session.flush()
        db.session.add(
            OrderParcel(order_id=first, parcel_id=shop.expected_id, released_at=utcnow())
        )
        db.session.commit()
    with app.app_context():
        assert count(OrderParcel, OrderParcel.parcel_id == shop.expected_id) == 3
        assert live_bindings(shop.expected_id) == 1
        db.session.add(OrderParcel(order_id=first, parcel_id=shop.expected_id))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
