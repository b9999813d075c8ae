"""Parcels (/parcels): registering one (normalised number, guessed courier, duplicates, numbers
other customers hold), the list (tabs, counts, search, pages, fragment, a fixed number of SQL
queries), what a received parcel shows (photos, Shanghai time, the free-storage countdown),
editing and deleting (bound parcels refused, compare-and-set), other customers' ids, mass
assignment and the photo storage."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Order,
    OrderParcel,
    Parcel,
    ParcelEvent,
    ParcelPhoto,
    RateCard,
    User,
    utcnow,
)
from portal.models import base as model_base
from portal.services import couriers, parcels, storage
from portal.services.parcel_fields import InvalidFields, parse_parcel
from portal.services.parcel_list import storage_clock
from portal.services.parcels import ParcelLocked
from tests.conftest import run_together
from tests.helpers import HTMX, field_error, login, post, soup, sql_statements

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
VALID = {
    "tracking_no": "SF1234567890123",
    "courier": "",
    "contents": "T恤",
    "category": "general",
    "declared_value": "199.90",
    "quantity": "2",
    "weight": "1.25",
    "note": "",
}


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def upload_dir(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


@pytest.fixture
def customer(app, client, make_customer):
    account = make_customer()
    assert login(client, account).status_code == 303
    return account


def logged_in(app, account):
    client = app.test_client()
    assert login(client, account).status_code == 303
    return client


def rows(app, customer_id: int) -> list[dict]:
    """The customer's parcels as plain values, oldest first."""
    with app.app_context():
        found = db.session.scalars(
            select(Parcel).where(Parcel.customer_id == customer_id).order_by(Parcel.id)
        )
        return [{c.name: getattr(p, c.name) for c in Parcel.__table__.columns} for p in found]


def parcel_row(app, parcel_id: int) -> dict | None:
    with app.app_context():
        p = db.session.get(Parcel, parcel_id)
        return {c.name: getattr(p, c.name) for c in Parcel.__table__.columns} if p else None


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def bind(app, parcel_id: int, customer_id: int, order_no: str, released: bool = False) -> None:
    """Put a parcel in an order (or in a cancelled one that released it) directly."""
    with app.app_context():
        card = db.session.scalar(select(RateCard).limit(1))
        if card is None:
            card = RateCard(version="test", name="test", valid_from=date(2026, 1, 1))
            db.session.add(card)
            db.session.flush()
        order = Order(
            order_no=order_no,
            customer_id=customer_id,
            status="cancelled" if released else "pending_pack",
            submit_token=order_no,
            rate_card_id=card.id,
            channel_code="US-EXP",
            channel_name="US express",
            service_level="express",
            ship_name="Li Lei",
            ship_phone="+12025550123",
            ship_country="US",
            ship_line1="1 Main St",
            declared_total_fen=0,
            estimate_weight_g=1000,
            estimate_chargeable_g=1000,
            estimate_fen=10000,
        )
        db.session.add(order)
        db.session.flush()
        db.session.add(
            OrderParcel(
                order_id=order.id, parcel_id=parcel_id, released_at=utcnow() if released else None
            )
        )
        if not released:
            parcel = db.session.get(Parcel, parcel_id)
            parcel.status = "consolidated"
        db.session.commit()


def add_photo(app, parcel_id: int, data: bytes = PNG) -> int:
    with app.app_context():
        photo = ParcelPhoto(
            parcel_id=parcel_id,
            image_key=storage.save(data, ".png"),
            thumb_key=storage.save(data, ".png"),
        )
        db.session.add(photo)
        db.session.commit()
        return photo.id


def cards(response) -> list:
    return soup(response).select("#parcel-list [data-testid=parcel]")


def card_ids(response) -> list[int]:
    return [int(c["data-parcel-id"]) for c in cards(response)]


def tab_counts(response) -> dict[str, int]:
    page = soup(response)
    return {
        state: int(page.find(attrs={"data-testid": f"count-{state}"}).get_text())
        for state in ("expected", "received", "consolidated")
    }


# ---------------------------------------------------------------------------------------------
# Tracking numbers and couriers (no database)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("SF1234567890123", "SF1234567890123"),
        ("sf 1234 5678 90123", "SF1234567890123"),
        ("yt-1234-5678-90123", "YT1234567890123"),
        ("ＳＦ１２３４５６７８９０１２３", "SF1234567890123"),  # full width
        ("  jd0012345678901\u3000", "JD0012345678901"),
        ("75 1234 5678 90", "751234567890"),
    ],
)
def test_tracking_numbers_are_normalised(typed, stored):
    number = couriers.normalise_tracking_no(typed)
    assert number == stored
    assert couriers.is_valid_tracking_no(number)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "SF12",
        "A" * 41,
        "SF123456<script>",
        "SF1234567890\x00",
        "ß" * 8,
        "SF１２３４5/6789",
        "１２",
    ],
)
def test_bad_tracking_numbers_are_invalid(typed):
    assert not couriers.is_valid_tracking_no(couriers.normalise_tracking_no(typed))


@pytest.mark.parametrize(
    ("number", "courier"),
    [
        ("SF1234567890123", "SF"),
        ("SF123456789012", "SF"),
        ("JDVA12345678901", "JD"),
        ("JDX012345678901", "JD"),
        ("YT1234567890123", "YTO"),
        ("JT1234567890123", "JTEXPRESS"),
        ("DPK123456789012", "DEPPON"),
        ("EA123456789CN", "EMS"),
        ("1123456789012", "EMS"),
        ("7712345678901", "STO"),
        ("751234567890", "ZTO"),
        ("73123456789012", "ZTO"),
        ("4312345678901", "YUNDA"),
        ("312345678901234", "YUNDA"),
        ("ABC123456", None),
        ("9999999999999", None),
    ],
)
def test_the_courier_is_guessed_from_the_number(number, courier):
    assert couriers.guess_courier(number) == courier


# ---------------------------------------------------------------------------------------------
# Field rules (no database)
# ---------------------------------------------------------------------------------------------


def test_fields_are_converted_to_our_units():
    data = parse_parcel(VALID)
    assert data.tracking_no == "SF1234567890123"
    assert data.courier == "SF"  # guessed: the customer left it empty
    assert data.declared_value_fen == 19990
    assert data.quantity == 2
    assert data.declared_weight_g == 1250
    assert data.category == "general"


def test_optional_fields_have_defaults():
    data = parse_parcel({"tracking_no": "abc-123456"})
    assert (data.tracking_no, data.courier, data.contents) == ("ABC123456", "", "")
    assert (data.category, data.declared_value_fen, data.quantity) == ("general", 0, 1)
    assert data.declared_weight_g is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tracking_no", ""),
        ("tracking_no", "SF12"),
        ("tracking_no", "SF123456#7890"),
        ("courier", "UPS"),
        ("courier", "SF\x00"),
        ("contents", "x" * 101),
        ("contents", "line\nbreak"),
        ("contents", "nul\x00"),
        ("category", "plutonium"),
        ("declared_value", "-1"),
        ("declared_value", "1.234"),
        ("declared_value", "1e3"),
        ("declared_value", "NaN"),
        ("declared_value", "１０"),
        ("declared_value", "10,00"),
        ("declared_value", "1000000.01"),
        ("declared_value", "9" * 30),
        ("quantity", "0"),
        ("quantity", "1.5"),
        ("quantity", "10000"),
        ("quantity", "²"),
        ("weight", "0"),
        ("weight", "0.0004"),
        ("weight", "1000.001"),
        ("weight", "Infinity"),
        ("note", "x" * 201),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(field, value):
    with pytest.raises(InvalidFields) as refused:
        parse_parcel({**VALID, field: value})
    assert set(refused.value.errors) == {field}


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(InvalidFields) as refused:
        parse_parcel({"tracking_no": "x", "quantity": "0", "weight": "-1", "category": "?"})
    assert set(refused.value.errors) == {"tracking_no", "quantity", "weight", "category"}


def test_another_courier_needs_its_name():
    with pytest.raises(InvalidFields) as refused:
        parse_parcel({**VALID, "courier": "OTHER", "courier_other": ""})
    assert set(refused.value.errors) == {"courier_other"}
    data = parse_parcel({**VALID, "courier": "OTHER", "courier_other": " 百世快递 "})
    assert data.courier == "百世快递"
    assert parse_parcel({**VALID, "courier": "ZTO"}).courier == "ZTO"  # a choice beats the guess


@pytest.mark.parametrize(
    ("received_ago", "days_left", "expiring", "overdue"),
    [
        (timedelta(0), 30, False, False),
        (timedelta(days=24, hours=23), 6, False, False),
        (timedelta(days=25), 5, True, False),
        (timedelta(days=29, hours=12), 1, True, False),
        (timedelta(days=30), 0, False, True),
        (timedelta(days=40), -10, False, True),
        (-timedelta(hours=1), 30, False, False),  # a clock slightly ahead
    ],
)
def test_storage_clock(received_ago, days_left, expiring, overdue):
    clock = storage_clock(NOW - received_ago, NOW, 30, 5)
    assert (clock.days_left, clock.expiring, clock.overdue) == (days_left, expiring, overdue)
    if overdue:
        assert clock.overdue_days == 1 - days_left


# ---------------------------------------------------------------------------------------------
# Registering one parcel
# ---------------------------------------------------------------------------------------------


def test_pages_need_a_login(client, make_customer, make_parcel):
    pid = make_parcel(make_customer().id)
    for url in ("/parcels/", "/parcels/new", "/parcels/bulk", f"/parcels/{pid}/edit"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login")


def test_the_form_guesses_the_courier_while_typing(client, customer):
    page = soup(client.get("/parcels/new"))
    form = page.find("form", id="parcel-form")
    assert (form["method"], form["action"], form["hx-post"]) == (
        "post",
        "/parcels/new",
        "/parcels/new",
    )
    number = page.find("input", id="tracking_no")
    assert number["hx-get"] == "/parcels/new/courier"
    assert number["hx-target"] == "#courier-field"
    assert "input changed" in number["hx-trigger"]
    assert page.find(id="courier-field") is not None
    values = [o["value"] for o in page.find("select", id="courier").find_all("option")]
    assert values[0] == "" and "SF" in values and values[-1] == couriers.OTHER


def test_courier_fragment_selects_the_guess(client, customer):
    response = client.get(
        "/parcels/new/courier", query_string={"tracking_no": "yt 1234567890123"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    assert page.find("html") is None
    assert page.find(id="courier-field") is not None
    assert page.find("option", selected=True)["value"] == "YTO"
    assert page.find("input", attrs={"name": "courier_guess"})["value"] == "YTO"


def test_courier_fragment_keeps_a_courier_the_customer_chose(client, customer):
    query = {"tracking_no": "YT1234567890123", "courier": "ZTO", "courier_guess": "SF"}
    page = soup(client.get("/parcels/new/courier", query_string=query, headers=HTMX))
    assert page.find("option", selected=True)["value"] == "ZTO"
    # But a previous guess is replaced by the new one.
    query = {"tracking_no": "YT1234567890123", "courier": "SF", "courier_guess": "SF"}
    page = soup(client.get("/parcels/new/courier", query_string=query, headers=HTMX))
    assert page.find("option", selected=True)["value"] == "YTO"


def test_courier_url_without_htmx_is_the_prefilled_form(client, customer):
    response = client.get("/parcels/new/courier", query_string={"tracking_no": "SF1234567890123"})
    page = soup(response)
    assert page.find("html") is not None
    assert page.find("input", id="tracking_no")["value"] == "SF1234567890123"
    assert page.find("option", selected=True)["value"] == "SF"


def test_register_stores_the_normalised_parcel_and_its_event(app, client, customer):
    response = post(client, "/parcels/new", {**VALID, "tracking_no": "sf 1234-5678-90123"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/parcels/?status=expected"
    [parcel] = rows(app, customer.id)
    assert parcel["tracking_no"] == "SF1234567890123"
    assert parcel["courier"] == "SF"
    assert parcel["status"] == "expected"
    assert (parcel["declared_value_fen"], parcel["quantity"]) == (19990, 2)
    assert (parcel["declared_weight_g"], parcel["weight_g"]) == (1250, None)
    assert parcel["shared_tracking_no"] is False
    with app.app_context():
        [registered] = db.session.scalars(select(ParcelEvent)).all()
        assert registered.parcel_id == parcel["id"]
        assert (registered.from_status, registered.to_status) == (None, "expected")
        assert registered.actor_id == customer.id
    listed = client.get("/parcels/")
    assert card_ids(listed) == [parcel["id"]]


def test_register_with_htmx_answers_hx_redirect(app, client, customer):
    response = post(client, "/parcels/new", VALID, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/parcels/?status=expected"


def test_the_same_number_twice_is_refused_beside_the_field(app, client, customer):
    assert post(client, "/parcels/new", VALID).status_code == 303
    response = post(client, "/parcels/new", {**VALID, "tracking_no": "SF-1234567890123"}, htmx=True)
    assert response.status_code == 422
    assert field_error(response, "tracking_no")
    assert soup(response).find("html") is None
    assert soup(response).find("form", id="parcel-form") is not None
    assert len(rows(app, customer.id)) == 1


def test_a_number_another_customer_registered_is_accepted_and_flagged(
    app, client, customer, make_customer, make_parcel
):
    other = make_customer()
    theirs = make_parcel(other.id, tracking_no="SF1234567890123", contents="THEIR-SECRET")
    response = post(client, "/parcels/new", VALID)
    assert response.status_code == 303
    [mine] = rows(app, customer.id)
    assert mine["shared_tracking_no"] is True
    assert parcel_row(app, theirs)["shared_tracking_no"] is False
    page = client.get("/parcels/").get_data(as_text=True)
    assert "THEIR-SECRET" not in page and other.identifier not in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tracking_no", ""),
        ("tracking_no", "SF 12"),
        ("courier", "DHL"),
        ("category", "plutonium"),
        ("declared_value", "12.345"),
        ("quantity", "0"),
        ("weight", "-1"),
        ("contents", "<b>\x00</b>"),
    ],
)
def test_bad_fields_get_a_message_beside_them_and_nothing_is_saved(
    app, client, customer, field, value
):
    response = post(client, "/parcels/new", {**VALID, field: value})
    assert response.status_code == 422
    assert field_error(response, field)
    assert soup(response).find(id=field)["aria-invalid"] == "true"
    assert rows(app, customer.id) == []
    assert count(app, ParcelEvent) == 0


def test_another_courier_is_stored_by_name(app, client, customer):
    data = {**VALID, "courier": "OTHER", "courier_other": "百世快递"}
    assert post(client, "/parcels/new", data).status_code == 303
    [parcel] = rows(app, customer.id)
    assert parcel["courier"] == "百世快递"
    page = soup(client.get(f"/parcels/{parcel['id']}/edit"))
    assert page.find("select", id="courier").find("option", selected=True)["value"] == "OTHER"
    assert page.find("input", id="courier_other")["value"] == "百世快递"


def test_posted_status_owner_and_measurements_are_ignored(app, client, customer, make_customer):
    other = make_customer()
    extra = {
        "status": "received",
        "customer_id": str(other.id),
        "weight_g": "1",
        "received_at": "2020-01-01T00:00:00",
        "shared_tracking_no": "y",
        "length_cm": "999",
        "id": "12345",
    }
    assert post(client, "/parcels/new", {**VALID, **extra}).status_code == 303
    [parcel] = rows(app, customer.id)
    assert parcel["status"] == "expected"
    assert parcel["weight_g"] is None and parcel["length_cm"] is None
    assert parcel["received_at"] is None
    assert parcel["shared_tracking_no"] is False and parcel["id"] != 12345
    assert rows(app, other.id) == []


def test_stored_scripts_are_escaped(client, customer):
    xss = "<script>alert(1)</script>"
    data = {**VALID, "contents": xss, "note": xss, "courier": "OTHER", "courier_other": "<i>x"}
    assert post(client, "/parcels/new", data).status_code == 303
    for response in (client.get("/parcels/"), client.get("/parcels/", headers=HTMX)):
        body = response.get_data(as_text=True)
        assert xss not in body and "<i>x" not in body
        assert soup(response).find("script", string="alert(1)") is None


# ---------------------------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------------------------


def test_tabs_show_the_counts_and_the_chosen_state(app, client, customer, make_parcel):
    for _ in range(3):
        make_parcel(customer.id)
    received = [make_parcel(customer.id, received=True) for _ in range(2)]
    bound = make_parcel(customer.id, received=True)
    bind(app, bound, customer.id, "JY2026000001")
    response = client.get("/parcels/")
    assert tab_counts(response) == {"expected": 3, "received": 2, "consolidated": 1}
    page = soup(response)
    assert page.select_one(".parcel-tabs a[aria-current=page]")["data-status"] == "expected"
    assert len(cards(response)) == 3
    response = client.get("/parcels/?status=received")
    assert sorted(card_ids(response)) == received
    current = soup(response).select_one(".parcel-tabs a[aria-current=page]")
    assert current["data-status"] == "received"
    for tab in soup(response).select(".parcel-tabs a"):
        assert tab["hx-get"] == tab["href"]
        assert tab["hx-push-url"] == "true" and tab["hx-target"] == "#parcel-list"


def test_an_unknown_tab_shows_the_expected_parcels(client, customer, make_parcel):
    pid = make_parcel(customer.id)
    response = client.get("/parcels/?status=<x>")
    assert response.status_code == 200
    assert card_ids(response) == [pid]


def test_the_list_fragment_for_htmx(client, customer, make_parcel):
    make_parcel(customer.id)
    response = client.get("/parcels/?status=expected", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    assert page.find("html") is None
    assert page.find(id="parcel-list") is not None
    assert page.find("input", attrs={"name": "status", "form": "parcel-search"})["value"] == (
        "expected"
    )
    full = soup(client.get("/parcels/"))
    assert full.find("html") is not None and full.find(id="parcel-list") is not None


def test_search_form_works_without_javascript(client, customer):
    form = soup(client.get("/parcels/")).find("form", id="parcel-search")
    assert (form["method"], form["action"]) == ("get", "/parcels/")
    assert form["hx-get"] == "/parcels/" and form["hx-push-url"] == "true"
    assert "input changed delay" in form["hx-trigger"]
    assert form.find("input", attrs={"name": "q"}) is not None


def test_search_by_tracking_number_or_contents(app, client, customer, make_parcel):
    shoes = make_parcel(customer.id, tracking_no="YT9876543210123", contents="运动鞋 Shoes")
    shirt = make_parcel(customer.id, tracking_no="SF1111111111111", contents="衬衫 100%_cotton")
    stocked = make_parcel(customer.id, received=True, tracking_no="JT5555555555555")

    def found(q, status="expected"):
        return sorted(card_ids(client.get("/parcels/", query_string={"q": q, "status": status})))

    assert found("yt-98765") == [shoes]
    assert found("shoes") == [shoes]
    assert found("运动") == [shoes]
    assert found("100%") == [shirt]  # % and _ are matched literally
    assert found("%") == [shirt]
    assert found("_") == [shirt]
    assert found("") == sorted([shoes, shirt])
    assert found("5555", "received") == [stocked]
    counts = tab_counts(client.get("/parcels/", query_string={"q": "5555"}))
    assert counts == {"expected": 0, "received": 1, "consolidated": 0}


@pytest.mark.parametrize("q", ["x" * 101, "a\x00b", "tab\there"])
def test_a_bad_search_is_refused_beside_the_field(client, customer, make_parcel, q):
    make_parcel(customer.id)
    response = client.get("/parcels/", query_string={"q": q}, headers=HTMX)
    assert response.status_code == 422
    assert soup(response).find(id="q-error").get_text(strip=True)


def test_pages_of_twenty(app, client, customer, make_parcel):
    ids = [make_parcel(customer.id) for _ in range(45)]
    newest_first = ids[::-1]
    first = client.get("/parcels/")
    assert card_ids(first) == newest_first[:20]
    assert soup(first).find(attrs={"data-testid": "page-prev"}) is None
    following = soup(first).find(attrs={"data-testid": "page-next"})
    assert following["hx-push-url"] == "true" and following["hx-get"] == following["href"]
    second = client.get(following["href"])
    assert card_ids(second) == newest_first[20:40]
    third = client.get("/parcels/?status=expected&page=3", headers=HTMX)
    assert card_ids(third) == newest_first[40:]
    assert soup(third).find(attrs={"data-testid": "page-next"}) is None
    assert card_ids(client.get("/parcels/?page=99")) == newest_first[40:]  # the last page
    assert card_ids(client.get("/parcels/?page=abc")) == newest_first[:20]
    assert card_ids(client.get("/parcels/?page=" + "9" * 40)) == newest_first[:20]


def test_search_keeps_the_tab_and_pages_keep_the_search(client, customer, make_parcel):
    for i in range(25):
        make_parcel(customer.id, received=True, contents=f"box {i}")
    response = client.get("/parcels/", query_string={"status": "received", "q": "box"})
    page = soup(response)
    hidden = page.find("input", attrs={"name": "status", "form": "parcel-search"})
    assert hidden["value"] == "received"
    following = page.find(attrs={"data-testid": "page-next"})["href"]
    assert "q=box" in following and "status=received" in following


def test_bound_parcels_show_their_order_and_cannot_be_picked(app, client, customer, make_parcel):
    free = make_parcel(customer.id)
    bound = make_parcel(customer.id)
    bind(app, bound, customer.id, "JY2026000042")
    response = client.get("/parcels/?status=consolidated")
    [card] = cards(response)
    badge = card.find(attrs={"data-testid": "bound"})
    assert badge["href"] == "/orders/JY2026000042"
    assert "JY2026000042" in badge.get_text()
    assert card.find("input", type="checkbox") is None
    assert card.find(attrs={"data-testid": "edit"}) is None
    assert card.find(attrs={"data-testid": "delete"}) is None
    expected = soup(client.get("/parcels/"))
    form = expected.find("form", id="ship-form")
    assert (form["method"], form["action"]) == ("get", "/orders/new")
    [box] = form.find_all("input", type="checkbox")
    assert (box["name"], box["value"]) == ("parcel", str(free))
    [card] = cards(client.get("/parcels/"))
    assert card.find(attrs={"data-testid": "edit"})["href"] == f"/parcels/{free}/edit"
    assert card.find(attrs={"data-testid": "delete"})["href"] == f"/parcels/{free}/delete"
    assert form.find("button", type="submit") is not None


def test_a_received_parcel_shows_its_measurements_photos_and_time(
    app, client, customer, make_parcel, upload_dir
):
    received_at = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 March in Shanghai
    pid = make_parcel(
        customer.id, received=True, received_at=received_at, weight_g=2350, length_cm=40
    )
    photos = [add_photo(app, pid), add_photo(app, pid)]
    [card] = cards(client.get("/parcels/?status=received"))
    assert card.find(attrs={"data-testid": "weight"}).get_text(strip=True) == "2.35 kg"
    assert card.find(attrs={"data-testid": "dims"}).get_text(strip=True) == "40×20×10 cm"
    when = card.find(attrs={"data-testid": "received-at"})
    assert "00:30" in when.get_text() and "2026" in when.get_text()
    links = [a["href"] for a in card.select("[data-testid=photo]")]
    assert links == [f"/parcels/{pid}/photos/{photo}" for photo in photos]
    thumbs = [img["src"] for img in card.select(".parcel-thumbs img")]
    assert thumbs == [f"/parcels/{pid}/photos/{photo}/thumb" for photo in photos]


def test_free_storage_countdown_and_the_expiring_filter(
    app, client, customer, make_parcel, monkeypatch
):
    monkeypatch.setattr(model_base, "utcnow", lambda: NOW)
    ago = {
        "fresh": timedelta(days=1),
        "six_left": timedelta(days=24, hours=1),
        "five_left": timedelta(days=25, hours=1),
        "last_day": timedelta(days=29, hours=23),
        "overdue": timedelta(days=33),
    }
    ids = {
        name: make_parcel(customer.id, received=True, received_at=NOW - d)
        for name, d in ago.items()
    }
    response = client.get("/parcels/?status=received")
    by_id = {int(c["data-parcel-id"]): c for c in cards(response)}
    clocks = {name: by_id[pid].find(attrs={"data-testid": "storage"}) for name, pid in ids.items()}
    assert {n: int(c["data-days-left"]) for n, c in clocks.items()} == {
        "fresh": 29,
        "six_left": 6,
        "five_left": 5,
        "last_day": 1,
        "overdue": -3,
    }
    assert {n for n, c in clocks.items() if c.has_attr("data-expiring")} == {
        "five_left",
        "last_day",
    }
    assert {n for n, c in clocks.items() if c.has_attr("data-overdue")} == {"overdue"}
    assert "is-expiring" in by_id[ids["five_left"]]["class"]
    assert "is-overdue" in by_id[ids["overdue"]]["class"]

    page = soup(response)
    assert page.find(attrs={"data-testid": "count-expiring"}).get_text() == "3"
    link = page.find(attrs={"data-testid": "filter-expiring"})
    assert link["hx-push-url"] == "true"
    filtered = client.get(link["href"], headers=HTMX)
    # Most urgent first: the longest in stock.
    assert card_ids(filtered) == [ids["overdue"], ids["last_day"], ids["five_left"]]
    assert soup(filtered).find("input", attrs={"name": "expiring", "form": "parcel-search"})


def test_the_countdown_follows_the_configuration(app, client, customer, make_parcel, monkeypatch):
    monkeypatch.setattr(model_base, "utcnow", lambda: NOW)
    app.config.update(FREE_STORAGE_DAYS=10, STORAGE_WARNING_DAYS=2)
    make_parcel(customer.id, received=True, received_at=NOW - timedelta(days=8, hours=1))
    [card] = cards(client.get("/parcels/?status=received"))
    clock = card.find(attrs={"data-testid": "storage"})
    assert clock["data-days-left"] == "2" and clock.has_attr("data-expiring")


def test_the_list_sends_a_fixed_number_of_queries(app, client, customer, make_parcel, upload_dir):
    """No N+1: photos and order numbers of a whole page come with a fixed number of queries."""

    def make_some(n: int, offset: int) -> None:
        for i in range(n):
            pid = make_parcel(customer.id, received=True)
            add_photo(app, pid)
            stocked = make_parcel(customer.id, received=True)
            add_photo(app, stocked)
            make_parcel(customer.id)
            bind(app, pid, customer.id, f"JY{offset + i:010d}")

    def queries(url: str) -> int:
        with sql_statements(app) as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    make_some(2, 0)
    urls = ["/parcels/", "/parcels/?status=received", "/parcels/?status=consolidated"]
    client.get("/parcels/?status=expected")  # from here on the user comes from its copy
    few = {url: queries(url) for url in urls}
    make_some(18, 100)
    many = {url: queries(url) for url in urls}
    assert len(cards(client.get("/parcels/?status=consolidated"))) == 20
    assert many == few
    assert max(many.values()) <= 10, many


# ---------------------------------------------------------------------------------------------
# Editing
# ---------------------------------------------------------------------------------------------


def test_edit_form_is_filled_and_saves_changes(app, client, customer, make_parcel):
    pid = make_parcel(customer.id, declared_value_fen=12350, declared_weight_g=1500, note="n")
    page = soup(client.get(f"/parcels/{pid}/edit"))
    form = page.find("form", id="parcel-form")
    assert form["action"] == f"/parcels/{pid}/edit"
    assert page.find("input", id="declared_value")["value"] == "123.5"
    assert page.find("input", id="weight")["value"] == "1.5"
    assert page.find("input", id="note")["value"] == "n"
    data = {**VALID, "tracking_no": "JT1234567890123", "contents": "鞋", "category": "cosmetic"}
    response = post(client, f"/parcels/{pid}/edit", data, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/parcels/?status=expected"
    parcel = parcel_row(app, pid)
    assert (parcel["tracking_no"], parcel["courier"]) == ("JT1234567890123", "JTEXPRESS")
    assert (parcel["contents"], parcel["category"]) == ("鞋", "cosmetic")
    assert parcel["declared_weight_g"] == 1250 and parcel["status"] == "expected"


def test_edit_refuses_a_number_already_registered(app, client, customer, make_parcel):
    make_parcel(customer.id, tracking_no="SF1234567890123")
    pid = make_parcel(customer.id, tracking_no="YT1234567890123")
    before = parcel_row(app, pid)
    response = post(client, f"/parcels/{pid}/edit", VALID)
    assert response.status_code == 422
    assert field_error(response, "tracking_no")
    assert parcel_row(app, pid) == before


def test_invalid_edit_changes_nothing(app, client, customer, make_parcel):
    pid = make_parcel(customer.id)
    before = parcel_row(app, pid)
    response = post(client, f"/parcels/{pid}/edit", {**VALID, "quantity": "-3"}, htmx=True)
    assert response.status_code == 422
    assert soup(response).find("form", id="parcel-form") is not None
    assert field_error(response, "quantity")
    assert parcel_row(app, pid) == before


def test_a_received_parcel_keeps_its_number(app, client, customer, make_parcel):
    pid = make_parcel(customer.id, received=True, tracking_no="SF1234567890123")
    page = soup(client.get(f"/parcels/{pid}/edit"))
    assert page.find("input", id="tracking_no").has_attr("readonly")
    data = {**VALID, "tracking_no": "YT1234567890123", "contents": "new contents"}
    assert post(client, f"/parcels/{pid}/edit", data).status_code == 303
    parcel = parcel_row(app, pid)
    assert parcel["tracking_no"] == "SF1234567890123"
    assert parcel["contents"] == "new contents"
    assert parcel["status"] == "received" and parcel["weight_g"] == 1200


def test_the_service_refuses_a_new_number_for_a_received_parcel(app, customer, make_parcel):
    pid = make_parcel(customer.id, received=True)
    with app.app_context():
        user = db.session.get(User, customer.id)
        with pytest.raises(parcels.ValidationFailed):
            parcels.update_parcel(user, pid, parse_parcel(VALID))


def test_posted_status_and_measurements_are_ignored_on_edit(app, client, customer, make_parcel):
    pid = make_parcel(customer.id)
    extra = {"status": "received", "weight_g": "5", "customer_id": "999", "received_at": "x"}
    assert post(client, f"/parcels/{pid}/edit", {**VALID, **extra}).status_code == 303
    parcel = parcel_row(app, pid)
    assert parcel["status"] == "expected" and parcel["weight_g"] is None
    assert parcel["customer_id"] == customer.id and parcel["received_at"] is None


# ---------------------------------------------------------------------------------------------
# Bound parcels, deleting
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_bound_parcel_cannot_be_edited_or_deleted(app, client, customer, make_parcel, htmx):
    pid = make_parcel(customer.id, received=True)
    bind(app, pid, customer.id, "JY2026000007")
    before = parcel_row(app, pid)
    headers = HTMX if htmx else {}
    answers = [
        client.get(f"/parcels/{pid}/edit", headers=headers),
        post(client, f"/parcels/{pid}/edit", {**VALID, "contents": "changed"}, htmx=htmx),
        client.get(f"/parcels/{pid}/delete", headers=headers),
        post(client, f"/parcels/{pid}/delete", htmx=htmx),
    ]
    for response in answers:
        assert response.status_code == 409
        assert "HX-Redirect" not in response.headers
        if htmx:
            assert response.headers["HX-Retarget"] == "#flash"
    assert parcel_row(app, pid) == before


def test_delete_asks_first_then_deletes(app, client, customer, make_parcel, upload_dir):
    pid = make_parcel(customer.id, received=True)
    add_photo(app, pid)
    assert len(list(upload_dir.iterdir())) == 2
    page = soup(client.get(f"/parcels/{pid}/delete"))
    form = page.find("form", attrs={"method": "post"}, action=f"/parcels/{pid}/delete")
    assert form.find("input", attrs={"name": "csrf_token"}) is not None
    assert not page.select("[hx-confirm]")
    assert parcel_row(app, pid) is not None  # the GET changed nothing
    response = post(client, f"/parcels/{pid}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == "/parcels/?status=received"
    assert parcel_row(app, pid) is None
    assert count(app, ParcelPhoto) == 0 and count(app, ParcelEvent) == 0
    assert list(upload_dir.iterdir()) == []


def test_delete_with_htmx_answers_hx_redirect(app, client, customer, make_parcel):
    pid = make_parcel(customer.id)
    response = post(client, f"/parcels/{pid}/delete", htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/parcels/?status=expected"
    assert parcel_row(app, pid) is None


def test_delete_is_a_compare_and_set(app, client, customer, make_parcel, monkeypatch):
    """Bound between the check and the DELETE (as by a parallel order): never deleted."""
    pid = make_parcel(customer.id)
    bind(app, pid, customer.id, "JY2026000009")
    monkeypatch.setattr(parcels, "is_bound", lambda _parcel: False)
    response = post(client, f"/parcels/{pid}/delete")
    assert response.status_code == 409
    assert parcel_row(app, pid)["status"] == "consolidated"
    with app.app_context():
        user = db.session.get(User, customer.id)
        with pytest.raises(ParcelLocked) as refused:
            parcels.delete_parcel(user, pid)
        assert refused.value.message is parcels.LOCKED
        db.session.rollback()


def test_edit_is_a_compare_and_set(app, customer, make_parcel, monkeypatch):
    pid = make_parcel(customer.id, tracking_no=VALID["tracking_no"], contents="before")
    bind(app, pid, customer.id, "JY2026000010")
    monkeypatch.setattr(parcels, "is_bound", lambda _parcel: False)
    with app.app_context():
        user = db.session.get(User, customer.id)
        with pytest.raises(ParcelLocked):
            parcels.update_parcel(user, pid, parse_parcel({**VALID, "contents": "after"}))
        db.session.rollback()
    assert parcel_row(app, pid)["contents"] == "before"


def test_a_parcel_released_from_a_cancelled_order_is_kept(app, client, customer, make_parcel):
    pid = make_parcel(customer.id, received=True)
    bind(app, pid, customer.id, "JY2026000011", released=True)
    # Editable again, but the cancelled order's record keeps it from being deleted.
    assert client.get(f"/parcels/{pid}/edit").status_code == 200
    [card] = cards(client.get("/parcels/?status=received"))
    assert card.find(attrs={"data-testid": "edit"}) is not None
    assert card.find(attrs={"data-testid": "delete"}) is None
    assert card.find("input", attrs={"name": "parcel"}) is not None
    assert client.get(f"/parcels/{pid}/delete").status_code == 409
    response = post(client, f"/parcels/{pid}/delete")
    assert response.status_code == 409
    assert parcel_row(app, pid) is not None
    with app.app_context():
        user = db.session.get(User, customer.id)
        with pytest.raises(ParcelLocked) as refused:
            parcels.delete_parcel(user, pid)
        assert refused.value.message is parcels.HAS_HISTORY
        db.session.rollback()


# ---------------------------------------------------------------------------------------------
# Other customers' ids
# ---------------------------------------------------------------------------------------------


def test_every_route_with_a_parcel_id_refuses_another_customers_parcel(
    app, make_customer, make_parcel, upload_dir
):
    owner, stranger = make_customer(), make_customer()
    pid = make_parcel(owner.id, received=True, contents="OWNER-SECRET")
    photo_id = add_photo(app, pid)
    before = parcel_row(app, pid)
    client = logged_in(app, stranger)
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("parcels.") and "parcel_id" in r.arguments
    ]
    assert {r.endpoint for r in rules} == {"parcels.edit", "parcels.delete", "parcels.photo"}
    tried = 0
    for rule in rules:
        url = rule.rule.replace("<int:parcel_id>", str(pid))
        url = url.replace("<int:photo_id>", str(photo_id))
        for method in sorted(rule.methods & {"GET", "POST"}):
            for htmx in (False, True):
                if method == "POST":
                    response = post(client, url, {**VALID, "contents": "stolen"}, htmx=htmx)
                else:
                    response = client.get(url, headers=HTMX if htmx else {})
                assert response.status_code == 404, (method, url)
                assert "OWNER-SECRET" not in response.get_data(as_text=True)
                tried += 1
    assert tried == 12
    assert parcel_row(app, pid) == before


@pytest.mark.parametrize("parcel_id", ["0", "99999", str(2**31), "9" * 30])
def test_unknown_or_absurd_ids_are_404(client, customer, parcel_id):
    assert client.get(f"/parcels/{parcel_id}/edit").status_code == 404
    assert post(client, f"/parcels/{parcel_id}/delete").status_code == 404
    assert client.get(f"/parcels/{parcel_id}/photos/{parcel_id}").status_code == 404


# ---------------------------------------------------------------------------------------------
# Photos and their storage
# ---------------------------------------------------------------------------------------------


def test_photos_are_served_to_their_owner_only(
    app, client, customer, make_customer, make_parcel, upload_dir
):
    pid = make_parcel(customer.id, received=True)
    photo = add_photo(app, pid)
    for url in (f"/parcels/{pid}/photos/{photo}", f"/parcels/{pid}/photos/{photo}/thumb"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert response.get_data() == PNG
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "private" in response.headers["Cache-Control"]
        assert "public" not in response.headers["Cache-Control"]
        response.close()
    other_parcel = make_parcel(customer.id, received=True)
    assert client.get(f"/parcels/{other_parcel}/photos/{photo}").status_code == 404
    stranger = logged_in(app, make_customer())
    assert stranger.get(f"/parcels/{pid}/photos/{photo}").status_code == 404
    visitor = app.test_client().get(f"/parcels/{pid}/photos/{photo}")
    assert visitor.status_code == 302


def test_a_stored_file_that_is_not_an_image_is_only_downloaded(
    app, client, customer, make_parcel, upload_dir
):
    pid = make_parcel(customer.id, received=True)
    photo = add_photo(app, pid, data=b"<html><script>alert(1)</script>")
    response = client.get(f"/parcels/{pid}/photos/{photo}")
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")
    response.close()


def test_a_missing_photo_file_is_404(app, client, customer, make_parcel, upload_dir):
    pid = make_parcel(customer.id, received=True)
    with app.app_context():
        photo = ParcelPhoto(parcel_id=pid, image_key="A" * 32 + ".png", thumb_key="../../etc")
        db.session.add(photo)
        db.session.commit()
        photo_id = photo.id
    assert client.get(f"/parcels/{pid}/photos/{photo_id}").status_code == 404
    assert client.get(f"/parcels/{pid}/photos/{photo_id}/thumb").status_code == 404


@pytest.mark.parametrize(
    "key", ["../secret", "a/b" + "c" * 20, "..", "", "x" * 15, "C:\\" + "x" * 20, "/etc/passwd"]
)
def test_storage_refuses_keys_it_could_not_have_made(tmp_path, key):
    with pytest.raises(KeyError):
        storage.LocalStorage(tmp_path).open_path(key)


def test_storage_saves_under_random_names(tmp_path):
    store = storage.LocalStorage(tmp_path / "uploads")
    first, second = store.save(b"one", ".jpg"), store.save(b"two", ".jpg")
    assert first != second and first.endswith(".jpg") and "/" not in first
    assert store.open_path(first).read_bytes() == b"one"
    store.delete(first)
    store.delete(first)  # already gone: no error
    assert not store.open_path(first).exists()
    with pytest.raises(ValueError):
        store.save(b"x", "/../x")


def test_images_are_sniffed_by_content():
    assert storage.sniff_image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert storage.sniff_image_type(PNG) == "image/png"
    assert storage.sniff_image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert storage.sniff_image_type(b"<svg xmlns=") is None


# ---------------------------------------------------------------------------------------------
# Markup the CSP allows, on the pages and fragments test_http does not reach
# ---------------------------------------------------------------------------------------------


def test_pages_and_fragments_are_csp_safe(app, client, customer, make_parcel, upload_dir):
    from tests.test_http import assert_csp_safe_markup, assert_security_headers

    pid = make_parcel(customer.id, received=True)
    add_photo(app, pid)
    bound = make_parcel(customer.id)
    bind(app, bound, customer.id, "JY2026000099")
    responses = [
        client.get(f"/parcels/{pid}/edit"),
        client.get(f"/parcels/{pid}/delete"),
        client.get(f"/parcels/{bound}/edit"),
        client.get("/parcels/?status=received", headers=HTMX),
        client.get("/parcels/?status=consolidated&q=%00", headers=HTMX),
        client.get("/parcels/new/courier?tracking_no=SF1234567890123", headers=HTMX),
        post(client, "/parcels/new", {**VALID, "weight": "x"}, htmx=True),
        post(client, f"/parcels/{pid}/edit", {**VALID, "quantity": "0"}, htmx=True),
        post(client, "/parcels/bulk", {"rows": "bad!\nSF1234567890123,x,?"}, htmx=True),
    ]
    for response in responses:
        assert response.status_code in (200, 409, 422)
        assert_security_headers(response)
        assert_csp_safe_markup(response)


# ---------------------------------------------------------------------------------------------
# Races
# ---------------------------------------------------------------------------------------------


def test_the_same_number_registered_at_once_is_stored_once(app, customer):
    """A double click (or two tabs) registering one number: one parcel, clean refusals."""

    def register(_i: int):
        user = db.session.get(User, customer.id)
        parcel = parcels.register_parcel(user, parse_parcel(VALID))
        db.session.commit()
        return parcel.id

    results = run_together(app, 8, register)
    assert len([r for r in results if isinstance(r, int)]) == 1, results
    assert all(isinstance(r, int | parcels.ValidationFailed) for r in results), results
    assert len(rows(app, customer.id)) == 1
    assert count(app, ParcelEvent) == 1
