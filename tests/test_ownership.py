"""Every route that names an object answers 404 to a customer who does not own it, whatever the
method. The routes are read from the URL map, so a new route cannot be forgotten: a route with an
argument this test does not know fails until the test learns it."""

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Address,
    DeclarationTemplate,
    Notification,
    Order,
    OrderBox,
    Parcel,
    ParcelPhoto,
    User,
)
from portal.services import notifications, orders, recharges
from portal.services.declarations import DeclarationInput
from portal.services.images import StoredImage
from tests.helpers import csrf_token, login
from tests.test_http import RULES

# Arguments that select one of the owner's objects, and those that merely choose a variant.
OBJECT_ARGUMENTS = {
    "parcel_id",
    "photo_id",
    "address_id",
    "template_id",
    "order_no",
    "message_id",
    "box_id",
    "recharge_id",
    "recharge_no",
}
# An unclaimed parcel belongs to nobody until a claim is approved: any customer may claim it.
# The collection QR images are the company's, shown to every customer. A staff invitation's
# token is its own secret (tests/test_ops_staff.py). A quote's price details name a public
# channel code.
VARIANT_ARGUMENTS = {"size", "fmt", "filename", "unclaimed_id", "channel", "token", "code"}
OWNED_RULES = [
    r
    for r in RULES
    if r.arguments & OBJECT_ARGUMENTS and not r.rule.startswith("/ops") and r.endpoint != "static"
]


def test_every_route_argument_is_known():
    unknown = {
        (r.rule, arg)
        for r in RULES
        if not r.rule.startswith("/ops") and r.endpoint != "static"
        for arg in r.arguments - OBJECT_ARGUMENTS - VARIANT_ARGUMENTS
    }
    assert not unknown, f"teach test_ownership these arguments: {unknown}"
    assert len(OWNED_RULES) >= 10


@pytest.fixture
def owned(app, demo_card, make_customer, make_parcel, make_address):
    """One of everything belonging to an owner; returns the owner and the argument values."""
    owner = make_customer()
    parcel_id = make_parcel(owner.id, received=True)
    free_parcel = make_parcel(owner.id)
    address_id = make_address(owner.id, is_default=True)
    with app.app_context():
        photo = ParcelPhoto(parcel_id=parcel_id, image_key="missing.jpg", thumb_key="missing.jpg")
        template = DeclarationTemplate(
            customer_id=owner.id, name_zh="衣服", name_en="Clothes", unit_value_fen=100
        )
        db.session.add_all([photo, template])
        user = db.session.get(User, owner.id)
        order = orders.place_order(
            user,
            orders.OrderRequest(
                submit_token="own",
                parcel_ids=(parcel_id,),
                address_id=address_id,
                channel_code="US-EXP-DHL",
                weight_g=1500,
                declarations=(DeclarationInput("衣服", "Clothes", "general", 1, 5000),),
            ),
        )
        message = notifications.notify(owner.id, notifications.ORDER_PLACED, order_no="x")
        box = OrderBox(
            order_id=order.id,
            seq=1,
            weight_g=1500,
            length_cm=30,
            width_cm=20,
            height_cm=10,
            photo_key="missing.jpg",
            thumb_key="missing.jpg",
        )
        db.session.add(box)
        transfer, _ = recharges.submit_for_review(
            user, "bank_transfer", 100, StoredImage("missing.jpg", "missing.jpg"), "own"
        )
        online = recharges.start_online(user, 100)
        db.session.commit()
        values = {
            "parcel_id": free_parcel,
            "photo_id": photo.id,
            "address_id": address_id,
            "template_id": template.id,
            "order_no": order.order_no,
            "message_id": message.id,
            "box_id": box.id,
            "recharge_id": transfer.id,
            "recharge_no": online.recharge_no,
        }
    return owner, values, parcel_id


def snapshot(app) -> dict:
    """Counts and states that a refused request must leave as they were."""
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        return {
            "parcels": sorted(db.session.execute(select(Parcel.id, Parcel.status)).all()),
            "orders": sorted(db.session.execute(select(Order.id, Order.status)).all()),
            "addresses": sorted(
                db.session.execute(select(Address.id, Address.is_default, Address.line1)).all()
            ),
            "templates": count(DeclarationTemplate),
            "unread": db.session.scalar(
                select(func.count()).select_from(Notification).where(Notification.read_at.is_(None))
            ),
        }


def concrete(rule, values: dict) -> str:
    def fill(match):
        name = match.group(1)
        if name == "size":
            return "thumb"
        if name == "fmt":
            return "csv"
        if name == "unclaimed_id":
            return "1"
        if name == "channel":
            return "wechat"
        return str(values[name])

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", fill, rule.rule)


@pytest.mark.parametrize("rule", OWNED_RULES, ids=lambda r: r.rule)
def test_another_customers_object_is_not_found(app, owned, make_customer, rule):
    _owner, values, _bound = owned
    stranger = make_customer()
    client = app.test_client()
    login(client, stranger)
    token = csrf_token(client)
    before = snapshot(app)
    url = concrete(rule, values)
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        response = client.open(url, method=method, data={"csrf_token": token, "confirm": "y"})
        assert response.status_code == 404, (method, url, response.status_code)
    assert snapshot(app) == before


# The photo files are missing on purpose here; tests/test_parcels.py and
# tests/test_recharge_pages.py serve real photos and receipts to their owners.
OWNER_PAGES = [
    r
    for r in OWNED_RULES
    if "GET" in r.methods
    and not r.arguments & {"photo_id", "box_id"}
    and r.endpoint != "recharge.receipt"
]


@pytest.mark.parametrize("rule", OWNER_PAGES, ids=lambda r: r.rule)
def test_the_owner_does_find_it(app, owned, rule):
    """The control: the same URLs are not simply 404 for everyone."""
    owner, values, _bound = owned
    client = app.test_client()
    login(client, owner)
    response = client.get(concrete(rule, values))
    assert response.status_code == 200, (rule.rule, response.status_code)
