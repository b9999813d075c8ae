"""Packing (打包): the queue, the pack page and its bill, box photos for staff and the customer.

Runs on SQLite and PostgreSQL. The expected bills are computed here through the pricing service
with the card the order was placed with, not read back from the packing service.
"""

import csv
import io
import shutil
from decimal import Decimal

import pytest
from bs4 import BeautifulSoup
from flask import render_template
from flask_login import login_user
from PIL import Image
from sqlalchemy import func, select

from portal.cli import DEMO_RATE_CARD
from portal.extensions import db
from portal.models import (
    AuditEntry,
    Notification,
    Order,
    OrderBox,
    OrderChargeLine,
    OrderEvent,
    User,
)
from portal.services import notifications, rate_cards
from portal.services.errors import DomainError
from portal.services.order_states import CUSTOMER, transition
from portal.services.packing import BoxInput, NotPackable, pack_order
from portal.services.pricing import quote
from portal.services.pricing_types import Destination, Piece, QuoteRequest
from portal.services.rate_sheets import import_rate_card
from tests.conftest import run_together
from tests.helpers import csrf_token, field_error, login, post, soup
from tests.test_order_service import (
    CHANNEL,
    SHIRTS,
    TODAY,
    open_shop,
    order_request,
    place,
    split,
)

# ---- helpers -------------------------------------------------------------------------------------


@pytest.fixture(name="shop")
def _shop(app, demo_card, make_customer, make_staff, make_address, make_parcel):
    """A customer with a US address, one expected and one received parcel; a warehouse packer."""
    return open_shop(make_customer, make_staff, make_address, make_parcel)


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def upload_dir(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


def fetch(client, url: str) -> tuple[int, str]:
    """GET a photo URL: its status and type (the file response is closed)."""
    response = client.get(url)
    response.close()
    return response.status_code, response.mimetype


def stored_files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def staff_client(app, account):
    client = app.test_client()
    assert login(client, account).status_code == 303
    return client


def ready_order(app, shop, **changes) -> int:
    """An order of the shop's received parcel (1.2 kg), placed on the demo card."""
    return place(app, shop.customer, order_request([shop.received_id], shop.address_id, **changes))


def box_form(*rows: dict, adjustments: tuple[dict, ...] = ()) -> dict:
    data: dict = {}
    for n, row in enumerate(rows, 1):
        for name, value in row.items():
            data[f"box-{n}-{name}"] = value
    for n, row in enumerate(adjustments, 1):
        for name, value in row.items():
            data[f"adj-{n}-{name}"] = value
    return data


BOX = {"weight": "1.234", "length": "30", "width": "20", "height": "10"}


def pack_url(order_id: int) -> str:
    return f"/ops/orders/{order_id}/pack"


def expected_quote(channel, pieces, declared_fen: int, insure: bool = False):
    """The pricing service's quote for these pieces to the shop's address, computed here."""
    request = QuoteRequest(
        destination=Destination("US", "CA", "90001", city="Los Angeles"),
        pieces=tuple(pieces),
        on=TODAY,
        categories=frozenset({"general"}),
        declared_value_fen=declared_fen,
        insure=insure,
    )
    return quote(channel, request)


def card_channel(code: str = CHANNEL):
    return next(c for c in rate_cards.channels_in_force(TODAY) if c.code == code)


def snapshot(order_id: int) -> dict:
    """What packing may write for an order, to show that nothing was."""
    order = db.session.get(Order, order_id)
    return {
        "status": order.status,
        "bill": (order.bill_fen, order.bill_weight_g, order.bill_chargeable_g, order.packed_at),
        "boxes": db.session.scalar(
            select(func.count()).select_from(OrderBox).where(OrderBox.order_id == order_id)
        ),
        "lines": db.session.scalar(
            select(func.count())
            .select_from(OrderChargeLine)
            .where(OrderChargeLine.order_id == order_id, OrderChargeLine.stage == "bill")
        ),
        "events": db.session.scalar(
            select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == order_id)
        ),
        "audit": db.session.scalar(select(func.count()).select_from(AuditEntry)),
        "notes": db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == notifications.ORDER_PACKED)
        ),
    }


def pack_via_service(app, shop, order_id: int, *boxes: BoxInput) -> None:
    with app.app_context():
        pack_order(db.session.get(User, shop.staff.id), order_id, list(boxes), [])
        db.session.commit()


def paid_order(app, shop) -> int:
    """An order packed into one 1.3 kg box and paid by the customer."""
    order_id = ready_order(app, shop)
    pack_via_service(app, shop, order_id, BoxInput(1_300, 30, 20, 10))
    with app.app_context():
        transition(db.session.get(Order, order_id), "paid", shop.customer.id, CUSTOMER)
        db.session.commit()
    return order_id


# ---- the queue -----------------------------------------------------------------------------------


def test_queue_lists_orders_whose_parcels_all_arrived_oldest_first(app, shop, make_parcel):
    first = ready_order(app, shop)
    waiting = place(app, shop.customer, order_request([shop.expected_id], shop.address_id))
    second_parcel = make_parcel(shop.customer.id, received=True)
    second = place(app, shop.customer, order_request([second_parcel], shop.address_id))
    client = staff_client(app, shop.staff)
    with app.app_context():
        numbers = {i: db.session.get(Order, i).order_no for i in (first, waiting, second)}

    page = soup(client.get("/ops/packing"))
    rows = [r["data-order-no"] for r in page.select('[data-testid="queue-order"]')]
    assert rows == [numbers[first], numbers[second]]
    assert page.select_one('[data-testid="count-ready"]').get_text() == "2"
    assert page.select_one('[data-testid="count-waiting"]').get_text() == "1"
    assert page.select_one("#order_no").has_attr("autofocus")

    waiting_page = soup(client.get("/ops/packing?waiting=1"))
    rows = [r["data-order-no"] for r in waiting_page.select('[data-testid="queue-order"]')]
    assert rows == [numbers[waiting]]
    assert not waiting_page.select('[data-testid="pack-link"]')


def test_queue_fragment_for_htmx(app, shop):
    ready_order(app, shop)
    client = staff_client(app, shop.staff)
    response = client.get("/ops/packing?waiting=1", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    assert page.find("html") is None and page.select_one("#packing-list") is not None


def test_scanning_an_order_number_opens_its_pack_page(app, shop):
    order_id = ready_order(app, shop)
    client = staff_client(app, shop.staff)
    with app.app_context():
        number = db.session.get(Order, order_id).order_no
    response = client.get(f"/ops/packing?order_no={number.lower()}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(pack_url(order_id))
    for bad in ("JY000000NOPE", "", "<b>", "x" * 500, "JY\x00"):
        refused = client.get("/ops/packing", query_string={"order_no": bad})
        assert refused.status_code == 422, bad
        assert field_error(refused, "order_no")


# ---- packing -------------------------------------------------------------------------------------


def test_pack_records_boxes_prices_the_bill_and_tells_the_customer(app, shop, upload_dir):
    with app.app_context():
        from portal.models import PackingService

        db.session.add(
            PackingService(code="REINFORCE", name_zh="加固", name_en="Reinforce", price_fen=1_500)
        )
        db.session.commit()
    order_id = ready_order(app, shop, insure=True, service_codes=("REINFORCE",))
    client = staff_client(app, shop.staff)
    page = soup(client.get(pack_url(order_id)))
    assert [r["data-tracking-no"] for r in page.select('[data-testid="pack-parcel"]')]
    assert len(page.select('[data-testid="box-row"]')) == 5
    assert page.select_one('[data-testid="service"]')["data-code"] == "REINFORCE"

    data = box_form(
        {**BOX, "photo": (io.BytesIO(png()), "box.png")},
        {"weight": "0.5", "length": "10", "width": "10", "height": "10"},
    )
    response = post(client, pack_url(order_id), data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/ops/packing")

    with app.app_context():
        order = db.session.get(Order, order_id)
        offer = expected_quote(
            card_channel(),
            [Piece(1_234, 30, 20, 10), Piece(500, 10, 10, 10)],
            SHIRTS.total_fen,
            insure=True,
        )
        assert offer.available
        expected_lines = [(line.code.value, line.amount_fen, "") for line in offer.lines]
        expected_lines.append(("SERVICE", 1_500, "REINFORCE"))
        bill = [(line.code, line.amount_fen, line.detail) for line in order.charges("bill")]
        assert bill == expected_lines
        assert any(code == "INSURANCE" for code, _a, _d in bill)
        assert order.status == "awaiting_payment"
        assert order.bill_fen == offer.total_fen + 1_500
        assert (order.bill_weight_g, order.bill_chargeable_g) == (1_734, offer.chargeable_g)
        assert order.packed_at is not None
        boxes = [(b.seq, b.weight_g, b.length_cm, b.width_cm, b.height_cm) for b in order.boxes]
        assert boxes == [(1, 1_234, 30, 20, 10), (2, 500, 10, 10, 10)]
        assert order.boxes[0].photo_key and order.boxes[0].thumb_key
        assert order.boxes[1].photo_key is None
        assert stored_files(upload_dir) == sorted(
            [order.boxes[0].photo_key, order.boxes[0].thumb_key]
        )
        assert [(e.from_status, e.to_status, e.actor_id) for e in order.events][-1] == (
            "pending_pack",
            "awaiting_payment",
            shop.staff.id,
        )
        note = db.session.scalar(
            select(Notification).where(Notification.kind == notifications.ORDER_PACKED)
        )
        assert note.user_id == shop.customer.id
        assert note.link == f"/orders/{order.order_no}"
        amount = f"{Decimal(order.bill_fen) / 100:,.2f}"
        assert note.params == {"order_no": order.order_no, "amount": amount}
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "order.pack"))
        assert (entry.actor_id, entry.entity_type, entry.entity_id) == (
            shop.staff.id,
            "order",
            order.order_no,
        )
        assert entry.before == {"status": "pending_pack"}
        assert entry.after["status"] == "awaiting_payment"
        assert entry.after["bill_fen"] == order.bill_fen
        assert entry.after["boxes"] == 2


def test_the_bill_uses_the_card_version_the_order_was_placed_with(app, shop, tmp_path):
    order_id = ready_order(app, shop)
    with app.app_context():
        old_channel = card_channel()
        old_card_id = db.session.get(Order, order_id).rate_card_id
    newer = tmp_path / "card"
    shutil.copytree(DEMO_RATE_CARD, newer)
    (newer / "card.csv").write_text(
        "version,name,valid_from,valid_to\n2026-11b,涨价,2026-11-20,\n", encoding="utf-8"
    )
    with open(newer / "rates.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for name in ("first_price", "unit_price"):
            row[name] = str(Decimal(row[name]) * 2) if row[name] else row[name]
    with open(newer / "rates.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with app.app_context():
        import_rate_card(newer)
        db.session.commit()
        rate_cards.clear_caches()
        assert rate_cards.current_card(TODAY).id != old_card_id
        new_channel = card_channel()

    pack_via_service(app, shop, order_id, BoxInput(2_000, 20, 20, 20))
    with app.app_context():
        order = db.session.get(Order, order_id)
        old = expected_quote(old_channel, [Piece(2_000, 20, 20, 20)], SHIRTS.total_fen)
        new = expected_quote(new_channel, [Piece(2_000, 20, 20, 20)], SHIRTS.total_fen)
        assert old.total_fen != new.total_fen
        assert order.bill_fen == old.total_fen
        assert order.rate_card_id == old_card_id


def test_an_adjustment_needs_a_reason_and_shows_on_the_bill(app, shop):
    order_id = ready_order(app, shop)
    client = staff_client(app, shop.staff)
    with app.app_context():
        before = snapshot(order_id)
    refused = post(client, pack_url(order_id), box_form(BOX, adjustments=({"amount": "12.50"},)))
    assert refused.status_code == 422
    assert field_error(refused, "adj-1-reason")
    assert soup(refused).select_one("#adj-1-amount")["value"] == "12.50"
    with app.app_context():
        assert snapshot(order_id) == before

    response = post(
        client,
        pack_url(order_id),
        box_form(
            BOX,
            adjustments=(
                {"amount": "12.50", "reason": "超长加固"},
                {"amount": "-2", "reason": "老客户优惠"},
            ),
        ),
    )
    assert response.status_code == 303
    with app.app_context():
        order = db.session.get(Order, order_id)
        lines = [(x.code, x.amount_fen, x.detail) for x in order.charges("bill")]
        assert lines[-2:] == [("adjustment", 1_250, "超长加固"), ("adjustment", -200, "老客户优惠")]
        freight = expected_quote(card_channel(), [Piece(1_234, 30, 20, 10)], SHIRTS.total_fen)
        assert order.bill_fen == freight.total_fen + 1_050
        number = order.order_no

    customer = staff_client(app, shop.customer)
    page = soup(customer.get(f"/orders/{number}"))
    shown = [a.get_text(" ", strip=True) for a in page.select('[data-testid="adjustment"]')]
    assert shown == ["超长加固 +¥12.50", "老客户优惠 −¥2.00"]


def test_the_service_refuses_an_adjustment_without_a_reason(app, shop):
    from portal.services.packing import AdjustmentInput

    order_id = ready_order(app, shop)
    with app.app_context():
        staff = db.session.get(User, shop.staff.id)
        with pytest.raises(DomainError) as refused:
            pack_order(staff, order_id, [BoxInput(1_000, 10, 10, 10)], [AdjustmentInput(500, " ")])
        assert refused.value.field == "adjustments"
        db.session.rollback()
        assert db.session.get(Order, order_id).status == "pending_pack"


def test_an_adjustment_may_not_make_the_bill_negative(app, shop):
    order_id = ready_order(app, shop)
    client = staff_client(app, shop.staff)
    response = post(
        client,
        pack_url(order_id),
        box_form(BOX, adjustments=({"amount": "-9999", "reason": "免单"},)),
    )
    assert response.status_code == 422
    assert "负数" in soup(response).select_one("#adjustments-error").get_text()
    with app.app_context():
        assert db.session.get(Order, order_id).status == "pending_pack"


def test_pack_is_refused_while_a_parcel_is_missing(app, shop):
    order_id = place(
        app, shop.customer, order_request([shop.received_id, shop.expected_id], shop.address_id)
    )
    client = staff_client(app, shop.staff)
    page = soup(client.get(pack_url(order_id)))
    assert page.select_one('[data-testid="parcels-missing"]') is not None
    assert page.select_one('[data-testid="pack-form"]') is None
    with app.app_context():
        before = snapshot(order_id)
    response = post(client, pack_url(order_id), box_form(BOX))
    assert response.status_code == 409
    assert "尚未到仓" in soup(response).select_one('[data-testid="pack-refusal"]').get_text()
    with app.app_context():
        assert snapshot(order_id) == before


def test_a_channel_that_cannot_carry_the_boxes_refuses_and_nothing_is_written(
    app, shop, upload_dir
):
    order_id = ready_order(app, shop)
    client = staff_client(app, shop.staff)
    with app.app_context():
        before = snapshot(order_id)
    too_heavy = {**BOX, "weight": "35", "photo": (io.BytesIO(png()), "box.png")}
    response = post(client, pack_url(order_id), box_form(too_heavy))
    assert response.status_code == 422
    message = soup(response).select_one('[data-testid="boxes-error"]').get_text()
    assert "超出该渠道的重量限制" in message or "Too heavy" in message
    with app.app_context():
        assert snapshot(order_id) == before
    assert stored_files(upload_dir) == []


BAD_WEIGHTS = [
    "",
    "0",
    "0.0",
    "0.0004",
    "-1",
    "100.001",
    "101",
    "1000",
    "1e3",
    "1,5",
    "１",
    "abc",
    "1.2345",
    "NaN",
    "inf",
    "99999999999",
    "1\n2",
    "\x00",
    "<script>",
    "1 .5",
    "9" * 10_000,
    ".5",
    "1.",
]
BAD_SIDES = [
    "0",
    "-5",
    "301",
    "1000",
    "1.5",
    "abc",
    "1e2",
    "３０",
    "",
    "99999999999999999999",
    "\t",
    "10cm",
]


@pytest.mark.parametrize("backend_cases", ["weights", "sides", "photo"])
def test_bad_box_values_are_refused_beside_the_field_and_nothing_is_written(
    app, shop, upload_dir, backend_cases
):
    order_id = ready_order(app, shop)
    client = staff_client(app, shop.staff)
    token = csrf_token(client)
    with app.app_context():
        before = snapshot(order_id)
    if backend_cases == "weights":
        cases = [({**BOX, "weight": w}, "box-1-weight") for w in BAD_WEIGHTS]
    elif backend_cases == "sides":
        cases = [
            ({**BOX, side: v}, f"box-1-{side}")
            for v in BAD_SIDES
            for side in ("length", "width", "height")
        ]
    else:
        cases = [
            ({**BOX, "photo": (io.BytesIO(data), "x.jpg")}, "box-1-photo")
            for data in (b"not an image", b"\xff\xd8\xff broken jpeg", b"GIF89a" + b"\x00" * 20)
        ]
    assert len(BAD_WEIGHTS) + 3 * len(BAD_SIDES) >= 30
    for row, field in cases:
        response = client.post(pack_url(order_id), data={"csrf_token": token, **box_form(row)})
        assert response.status_code == 422, (row, field)
        assert field_error(response, field), (row, field)
        assert soup(response).select_one(f"#{field}")["aria-invalid"] == "true"
    with app.app_context():
        assert snapshot(order_id) == before
    assert stored_files(upload_dir) == []


def test_an_empty_form_asks_for_a_box(app, shop):
    order_id = ready_order(app, shop)
    client = staff_client(app, shop.staff)
    response = post(client, pack_url(order_id), {})
    assert response.status_code == 422
    assert soup(response).select_one('[data-testid="boxes-error"]')


@pytest.mark.parametrize("order_id", [999_999, 2**31, 2**40])
def test_unknown_orders_are_not_found(app, shop, order_id):
    client = staff_client(app, shop.staff)
    assert client.get(pack_url(order_id)).status_code == 404
    assert post(client, pack_url(order_id), box_form(BOX)).status_code == 404


def test_a_second_pack_is_refused_and_changes_nothing(app, shop):
    order_id = ready_order(app, shop)
    client = staff_client(app, shop.staff)
    assert post(client, pack_url(order_id), box_form(BOX)).status_code == 303
    with app.app_context():
        before = snapshot(order_id)
    again = post(client, pack_url(order_id), box_form({**BOX, "weight": "2"}))
    assert again.status_code == 409
    refusal = soup(again).select_one('[data-testid="pack-refusal"]').get_text()
    assert "已打包" in refusal or "already been packed" in refusal
    with app.app_context():
        assert snapshot(order_id) == before
    page = soup(client.get(pack_url(order_id)))
    assert page.select_one('[data-testid="pack-form"]') is None
    assert len(page.select('[data-testid="packed-box"]')) == 1


def test_ten_concurrent_packs_pack_the_order_once(app, shop, upload_dir):
    order_id = ready_order(app, shop)

    def work(i):
        staff = db.session.get(User, shop.staff.id)
        box = BoxInput(1_000 + i, 30, 20, 10, png())
        packed = pack_order(staff, order_id, [box], [])
        db.session.commit()
        return packed.order.bill_weight_g

    wins, losses = split(run_together(app, 10, work))
    assert len(wins) == 1, wins
    assert len(losses) == 9
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "awaiting_payment"
        assert [b.weight_g for b in order.boxes] == wins
        assert len([e for e in order.events if e.to_status == "awaiting_payment"]) == 1
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "order.pack")
            )
            == 1
        )
        assert stored_files(upload_dir) == sorted(
            [order.boxes[0].photo_key, order.boxes[0].thumb_key]
        )


def test_a_pack_refused_by_the_state_machine_discards_its_photos(
    app, shop, upload_dir, monkeypatch
):
    """The loser of a race that stored its photos before losing leaves no files behind."""
    from portal.services import packing

    order_id = ready_order(app, shop)

    def fail(*_args, **_kwargs):
        raise packing.ValidationFailed("boom", "boxes")

    monkeypatch.setattr(packing.notifications, "notify", fail)
    with app.app_context():
        staff = db.session.get(User, shop.staff.id)
        with pytest.raises(DomainError):
            pack_order(staff, order_id, [BoxInput(1_000, 10, 10, 10, png())], [])
        db.session.rollback()
    assert stored_files(upload_dir) == []


def test_the_service_refuses_packing_an_order_in_another_state(app, shop):
    order_id = paid_order(app, shop)
    with app.app_context(), pytest.raises(NotPackable):
        pack_order(db.session.get(User, shop.staff.id), order_id, [BoxInput(1, 1, 1, 1)], [])


# ---- photos --------------------------------------------------------------------------------------


def test_the_customer_sees_boxes_and_photos_and_others_do_not(app, shop, upload_dir):
    order_id = ready_order(app, shop)
    with app.app_context():
        pack_order(
            db.session.get(User, shop.staff.id),
            order_id,
            [BoxInput(1_500, 40, 30, 20, png("blue")), BoxInput(700, 20, 20, 20)],
            [],
        )
        db.session.commit()
        order = db.session.get(Order, order_id)
        number, box_id = order.order_no, order.boxes[0].id
        bare_box_id = order.boxes[1].id

    customer = staff_client(app, shop.customer)
    page = soup(customer.get(f"/orders/{number}"))
    boxes = page.select('[data-testid="box"]')
    assert [b.select_one('[data-testid="box-weight"]').get_text() for b in boxes] == [
        "1.5 kg",
        "0.7 kg",
    ]
    assert boxes[0].select_one('[data-testid="box-size"]').get_text() == "40 × 30 × 20 cm"
    assert "2.2" in page.select_one('[data-testid="measured-weight"]').get_text()
    link = boxes[0].select_one('[data-testid="box-photo"]')
    assert link["href"] == f"/orders/{number}/boxes/{box_id}/photo"
    assert boxes[1].select_one('[data-testid="box-photo"]') is None
    assert page.select_one('[data-testid="bill-total"]') is not None

    assert fetch(customer, link["href"]) == (200, "image/jpeg")
    assert link.img["src"] == link["href"] + "/thumb"
    assert fetch(customer, link.img["src"]) == (200, "image/jpeg")
    assert fetch(customer, f"/orders/{number}/boxes/{bare_box_id}/photo")[0] == 404
    assert fetch(customer, f"/orders/{number}/boxes/{2**31}/photo")[0] == 404

    other = staff_client(app, shop.other)
    assert fetch(other, link["href"])[0] == 404
    assert fetch(other, link["href"] + "/thumb")[0] == 404
    assert fetch(app.test_client(), link["href"])[0] in (302, 303)

    staff = staff_client(app, shop.staff)
    assert fetch(staff, f"/ops/orders/{order_id}/boxes/{box_id}/photo/thumb") == (
        200,
        "image/jpeg",
    )
    assert fetch(staff, f"/ops/orders/{order_id + 1}/boxes/{box_id}/photo")[0] == 404


def test_the_packer_sees_the_intake_photos(app, shop, upload_dir):
    from portal.models import ParcelPhoto
    from portal.services import images

    order_id = ready_order(app, shop)
    with app.app_context():
        stored = images.store_image(png("green"))
        photo = ParcelPhoto(
            parcel_id=shop.received_id, image_key=stored.image_key, thumb_key=stored.thumb_key
        )
        db.session.add(photo)
        db.session.commit()
        photo_id = photo.id
    client = staff_client(app, shop.staff)
    img = soup(client.get(pack_url(order_id))).select_one('[data-testid="parcel-photo"]')
    assert img["src"] == f"/ops/packing/parcels/{shop.received_id}/photos/{photo_id}/thumb"
    assert fetch(client, img["src"]) == (200, "image/jpeg")
    assert (
        client.get(f"/ops/packing/parcels/{shop.expected_id}/photos/{photo_id}").status_code == 404
    )


# ---- the order actions fragment ------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, status, present, absent",
    [
        ("warehouse", "pending_pack", ["action-pack"], ["ship-form", "deliver"]),
        ("warehouse", "paid", ["ship-form"], ["action-pack", "deliver"]),
        ("warehouse", "shipped", ["tracking-add", "deliver", "import-link"], ["ship-form"]),
        ("warehouse", "delivered", ["tracking-add"], ["deliver", "ship-form"]),
        ("finance", "paid", [], ["ship-form", "order-actions"]),
        ("service", "pending_pack", [], ["action-pack", "order-actions"]),
    ],
)
def test_order_actions_render_with_only_the_order(
    app, shop, make_staff, role, status, present, absent
):
    order_id = ready_order(app, shop)
    staff = make_staff(role)
    with app.app_context(), app.test_request_context("/ops/"):
        order = db.session.get(Order, order_id)
        order.status = status
        login_user(db.session.get(User, staff.id))
        html = render_template("ops/_order_actions.html", order=order)
        db.session.rollback()
    page = BeautifulSoup(html, "html.parser")
    for testid in present:
        assert page.select_one(f'[data-testid="{testid}"]') is not None, testid
    for testid in absent:
        assert page.select_one(f'[data-testid="{testid}"]') is None, testid
