"""The quick-order wizard: its steps as URLs, its three entry points, placing the order."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import DeclarationTemplate, Order, OrderParcel, PackingService, Parcel, User
from portal.services import orders, rate_cards
from portal.services.order_estimate import Shipment, channel_quote
from portal.services.pricing_types import Destination
from tests.helpers import HTMX, csrf_token, login, soup

CHANNEL = "US-EXP-DHL"


@pytest.fixture
def shop(app, demo_card, make_customer, make_parcel, make_address):
    """A customer with two parcels (one received), an address and a packing service; logged in."""
    account = make_customer()
    parcels = [
        make_parcel(account.id, contents="毛衣", declared_value_fen=12000, declared_weight_g=800),
        make_parcel(account.id, received=True, contents="鞋子", declared_value_fen=30000),
    ]
    address = make_address(account.id, is_default=True)
    with app.app_context():
        db.session.add(
            PackingService(code="reinforce", name_zh="加固", name_en="Reinforce", price_fen=800)
        )
        db.session.commit()
    client = app.test_client()
    login(client, account)
    return {"account": account, "parcels": parcels, "address": address, "client": client}


def step(response) -> str:
    return soup(response).find(id="wizard")["data-step"]


def form_state(response, form_id: str = "wizard-form") -> list[tuple[str, str]]:
    """The values a browser would submit from the wizard form (checked boxes and radios only)."""
    form = (
        soup(response).find(id=form_id) if form_id else soup(response).find("form", method="post")
    )
    values = []
    for node in form.find_all(["input", "select"]):
        name = node.get("name")
        if not name or node.get("type") == "submit":
            continue
        if node.name == "select":
            chosen = node.find("option", selected=True) or node.find("option")
            values.append((name, chosen["value"]))
        elif node.get("type") in ("checkbox", "radio"):
            if node.has_attr("checked"):
                values.append((name, node["value"]))
        else:
            values.append((name, node.get("value", "")))
    return values


def go(client, state, action="next", **changes):
    """Submit the wizard form with some values changed (lists replace every value of a name)."""
    params = [(k, v) for k, v in state if k not in changes]
    for name, value in changes.items():
        for item in value if isinstance(value, list) else [value]:
            params.append((name, str(item)))
    params.append(("action", action))
    return client.get("/orders/new", query_string=params)


def fill_lines(state):
    return [(k, "Sweater" if k.endswith("name_en") else v) for k, v in state]


def walk_to_review(shop, channel=CHANNEL):
    client = shop["client"]
    page = client.get("/orders/new")
    assert step(page) == "parcels"
    page = go(client, form_state(page), parcel=shop["parcels"])
    assert step(page) == "address"
    page = go(client, form_state(page))
    assert step(page) == "channel"
    page = go(client, form_state(page), channel=channel)
    assert step(page) == "declaration"
    page = go(client, fill_lines(form_state(page)))
    assert step(page) == "options", soup(page).find(id="wizard")
    page = go(client, form_state(page), service="reinforce")
    assert step(page) == "review"
    return page


def place(client, review_page, **extra):
    data = dict_list(form_state(review_page, "place-form"))
    data.update(extra)
    return client.post("/orders/new", data=data)


def dict_list(pairs):
    merged: dict[str, list[str]] = {}
    for k, v in pairs:
        merged.setdefault(k, []).append(v)
    return merged


def test_visitors_are_sent_to_log_in_and_back(client, demo_card):
    response = client.get("/orders/new?channel=US-EXP-DHL")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    assert "next=" in response.headers["Location"]


def test_the_whole_walk_places_one_order_at_the_reviewed_price(app, shop):
    review = walk_to_review(shop)
    total = int(soup(review).find(attrs={"data-testid": "estimate-total"})["data-total"])
    response = place(shop["client"], review)
    assert response.status_code == 303
    order_no = response.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.order_no == order_no))
        assert order.status == "pending_pack"
        assert order.estimate_fen == total
        assert order.channel_code == CHANNEL
        assert [s.code for s in order.services] == ["reinforce"]
        assert [line.name_en for line in order.declaration_lines] == ["Sweater", "Sweater"]
        bound = db.session.scalars(
            select(OrderParcel.parcel_id).where(OrderParcel.order_id == order.id)
        )
        assert sorted(bound) == sorted(shop["parcels"])
        # The estimate equals the pricing service's quote for the same shipment, plus services.
        user = db.session.get(User, shop["account"].id)
        channel = next(
            c
            for c in rate_cards.channels_in_force(rate_cards.business_today())
            if c.code == CHANNEL
        )
        quoted = channel_quote(
            channel,
            Shipment(
                Destination("US", "Los Angeles", "90001"),
                order.estimate_weight_g,
                frozenset({"general"}),
                order.declared_total_fen,
            ),
            rate_cards.business_today(),
        )
        assert order.estimate_fen == quoted.total_fen + 800
        assert orders.order_counts(user) == {"pending_pack": 1}


def test_the_channel_step_prices_the_known_weights_and_lists_unavailable_reasons(app, shop):
    client = shop["client"]
    page = go(client, form_state(client.get("/orders/new")), parcel=shop["parcels"])
    page = go(client, form_state(page))
    # 800 g estimated + 1200 g measured.
    assert soup(page).find("input", attrs={"name": "weight"})["value"] == "2"
    offered = {
        n["data-channel"]: int(n["data-total"])
        for n in soup(page).select("[data-testid=channel-choice]")
    }
    assert CHANNEL in offered
    unavailable = {n["data-channel"] for n in soup(page).select("[data-testid=unavailable]")}
    assert not unavailable & set(offered)
    # Below the measured 1.2 kg is refused beside the weight field.
    refused = go(client, form_state(page), weight="1", channel=CHANNEL)
    assert refused.status_code == 422
    assert step(refused) == "channel"
    assert soup(refused).find(id="weight-error") is not None


def test_back_keeps_every_choice(shop):
    review = walk_to_review(shop)
    back = go(shop["client"], form_state(review, "place-form"), action="back")
    assert step(back) == "options"
    checked = soup(back).find("input", attrs={"name": "service", "value": "reinforce"})
    assert checked.has_attr("checked")
    again = go(shop["client"], form_state(back), action="back")
    assert step(again) == "declaration"
    names = [
        i["value"] for i in soup(again).find_all("input") if i.get("name", "").endswith("name_en")
    ]
    assert names == ["Sweater", "Sweater"]


def test_next_without_a_parcel_is_refused_with_a_message(shop):
    page = go(shop["client"], form_state(shop["client"].get("/orders/new")))
    assert page.status_code == 422
    assert step(page) == "parcels"
    assert soup(page).find(attrs={"data-testid": "step-error"}) is not None


def test_a_later_step_opened_directly_shows_the_first_step_to_do(shop):
    page = shop["client"].get("/orders/new?step=review")
    assert page.status_code == 200
    assert step(page) == "parcels"


def test_from_the_quote_the_channel_and_weight_are_preset(shop):
    client = shop["client"]
    page = client.get(
        "/orders/new", query_string={"channel": CHANNEL, "country": "US", "weight": "3"}
    )
    assert step(page) == "parcels"
    preset = soup(page).find(attrs={"data-testid": "preset"}).get_text()
    assert "美国DHL特快" in preset and CHANNEL not in preset
    page = go(client, form_state(page), parcel=shop["parcels"][0])
    page = go(client, form_state(page))
    assert step(page) == "channel"
    assert soup(page).find("input", attrs={"name": "weight"})["value"] == "3"
    chosen = soup(page).find("input", attrs={"name": "channel", "value": CHANNEL})
    assert chosen.has_attr("checked")


def test_from_the_parcel_list_the_selection_is_kept(shop, make_parcel):
    page = shop["client"].get(f"/orders/new?parcel={shop['parcels'][1]}")
    boxes = {
        int(i["value"]): i.has_attr("checked")
        for i in soup(page).find_all("input", attrs={"name": "parcel"})
    }
    assert boxes == {shop["parcels"][0]: False, shop["parcels"][1]: True}


def test_other_customers_parcels_and_bound_parcels_are_not_offered(
    app, shop, make_customer, make_parcel
):
    stranger = make_customer()
    theirs = make_parcel(stranger.id)
    bound = make_parcel(shop["account"].id, status="consolidated")
    page = shop["client"].get(f"/orders/new?parcel={theirs}&parcel={bound}")
    offered = {int(i["value"]) for i in soup(page).find_all("input", attrs={"name": "parcel"})}
    assert offered == set(shop["parcels"])
    refused = go(shop["client"], [("token", "t")], parcel=[theirs])
    assert refused.status_code == 422 and step(refused) == "parcels"


def test_a_template_adds_a_line_and_lines_can_be_added_and_removed(app, shop):
    with app.app_context():
        template = DeclarationTemplate(
            customer_id=shop["account"].id,
            name_zh="手机壳",
            name_en="Phone case",
            category="general",
            quantity=2,
            unit_value_fen=2550,
        )
        db.session.add(template)
        db.session.commit()
        template_id = template.id
    client = shop["client"]
    page = go(client, form_state(client.get("/orders/new")), parcel=shop["parcels"][0])
    page = go(client, form_state(page))
    page = go(client, form_state(page), channel=CHANNEL)
    assert len(soup(page).select("[data-testid=declaration-line]")) == 1
    page = go(client, form_state(page), action=f"template:{template_id}")
    lines = soup(page).select("[data-testid=declaration-line]")
    assert len(lines) == 2
    assert lines[1].find("input", attrs={"name": "lines-1-unit_value"})["value"] == "25.50"
    page = go(client, form_state(page), action="add_line")
    assert len(soup(page).select("[data-testid=declaration-line]")) == 3
    page = go(client, form_state(page), action="remove_line:0")
    names = [
        i["value"] for i in soup(page).find_all("input") if i.get("name", "").endswith("name_zh")
    ]
    assert names == ["手机壳", ""]


def test_declaration_errors_are_shown_beside_the_line_fields(shop):
    client = shop["client"]
    page = go(client, form_state(client.get("/orders/new")), parcel=shop["parcels"][0])
    page = go(client, form_state(page))
    page = go(client, form_state(page), channel=CHANNEL)
    refused = go(
        client, form_state(page), **{"lines-0-unit_value": "-1", "lines-0-name_en": "毛衣"}
    )
    assert refused.status_code == 422
    assert step(refused) == "declaration"
    assert soup(refused).find(id="lines-0-unit_value-error") is not None
    assert soup(refused).find(id="lines-0-name_en-error") is not None


def test_a_double_submit_makes_one_order(app, shop):
    review = walk_to_review(shop)
    first = place(shop["client"], review)
    second = place(shop["client"], review)
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_parcels_taken_meanwhile_send_the_customer_back_to_choose(app, shop):
    review = walk_to_review(shop)
    with app.app_context():
        db.session.get(Parcel, shop["parcels"][0]).status = "consolidated"
        db.session.commit()
    response = place(shop["client"], review)
    assert response.status_code in (409, 422)
    assert step(response) == "parcels"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_posted_status_owner_and_price_are_ignored(app, shop, make_customer):
    other = make_customer()
    review = walk_to_review(shop)
    response = place(
        shop["client"],
        review,
        status="paid",
        customer_id=str(other.id),
        estimate_fen="1",
        bill_fen="1",
    )
    assert response.status_code == 303
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert (order.status, order.customer_id) == ("pending_pack", shop["account"].id)
        assert order.estimate_fen > 1 and order.bill_fen is None


def test_htmx_gets_the_wizard_fragment_and_an_htmx_redirect(shop):
    client = shop["client"]
    page = client.get("/orders/new", headers=HTMX)
    assert page.status_code == 200
    assert "<html" not in page.get_data(as_text=True)
    assert soup(page).find(id="wizard") is not None
    assert "HX-Request" in page.headers["Vary"]
    review = walk_to_review(shop)
    data = dict_list(form_state(review, "place-form"))
    response = client.post(
        "/orders/new", data=data, headers={**HTMX, "X-CSRFToken": csrf_token(client)}
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/orders/JY")


def test_a_post_without_a_csrf_token_is_refused(shop):
    review = walk_to_review(shop)
    data = dict_list(form_state(review, "place-form"))
    data.pop("csrf_token")
    assert shop["client"].post("/orders/new", data=data).status_code == 400
