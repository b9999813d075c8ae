"""My orders: the list (tabs, counts, search, pagination, fragments, no N+1), one order's page
(estimate, bill beside it, history, tracking) and cancelling (allowed states, refusals, races,
other customers' orders, extra fields), with a Hypothesis fuzz of the inputs."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from werkzeug.datastructures import MultiDict

from portal.extensions import db
from portal.models import (
    Notification,
    Order,
    OrderChargeLine,
    OrderEvent,
    OrderParcel,
    PackingService,
    Parcel,
    TrackingEvent,
    User,
)
from portal.services import notifications
from portal.services.orders import DeclarationInput, OrderRequest, place_order
from tests.conftest import run_together
from tests.helpers import HTMX, csrf_token, login, post, soup, sql_statements
from tests.test_fuzz import CHARS, FUZZ, HUGE, TRICKY

CHANNEL = "US-EXP-DHL"
TAX_ID = "123456789012"


# ---------------------------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def shop(app, demo_card, make_customer, make_parcel, make_address):
    """A logged-in customer with two parcels (one received), an address and a packing service."""
    account = make_customer()
    parcels = [
        make_parcel(account.id, contents="毛衣", declared_weight_g=800),
        make_parcel(account.id, received=True, contents="鞋子"),
    ]
    address = make_address(account.id, tax_id=TAX_ID)
    with app.app_context():
        db.session.add(
            PackingService(code="reinforce", name_zh="加固", name_en="Reinforce", price_fen=800)
        )
        db.session.commit()
    client = app.test_client()
    login(client, account)
    return {"account": account, "parcels": parcels, "address": address, "client": client}


def place(app, account, parcel_ids, address_id, services=("reinforce",), draft="t1") -> str:
    """Place an order through the service (as the wizard does); returns its number."""
    with app.app_context():
        user = db.session.get(User, account.id)
        order = place_order(
            user,
            OrderRequest(
                submit_token=draft,
                parcel_ids=tuple(parcel_ids),
                address_id=address_id,
                channel_code=CHANNEL,
                weight_g=2000,
                declarations=(DeclarationInput("毛衣", "Sweater", "general", 2, 5000),),
                service_codes=services,
            ),
        )
        db.session.commit()
        return order.order_no


@pytest.fixture
def placed(app, shop):
    """The shop's two parcels in one order, with the packing service."""
    order_no = place(app, shop["account"], shop["parcels"], shop["address"])
    return {**shop, "order_no": order_no}


def set_status(app, order_no: str, status: str) -> None:
    with app.app_context():
        db.session.execute(update(Order).where(Order.order_no == order_no).values(status=status))
        db.session.commit()


def order_row(app, order_no: str) -> dict:
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.order_no == order_no))
        links = db.session.scalars(select(OrderParcel).where(OrderParcel.order_id == order.id))
        parcel_ids = [link.parcel_id for link in links]
        return {
            "status": order.status,
            "customer_id": order.customer_id,
            "bill_fen": order.bill_fen,
            "estimate_fen": order.estimate_fen,
            "events": db.session.scalar(
                select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == order.id)
            ),
            "released": sorted(
                link.released_at is not None
                for link in db.session.scalars(
                    select(OrderParcel).where(OrderParcel.order_id == order.id)
                )
            ),
            "parcels": {
                p.id: p.status
                for p in db.session.scalars(select(Parcel).where(Parcel.id.in_(parcel_ids)))
            },
            "messages": db.session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == order.customer_id)
            ),
        }


def cards(response) -> list:
    return soup(response).find_all(attrs={"data-testid": "order"})


def order_numbers(response) -> list[str]:
    return [card["data-order-no"] for card in cards(response)]


def tab_counts(response) -> dict[str, int]:
    tabs = soup(response).find_all(attrs={"data-testid": "tab"})
    return {t["data-status"]: int(t.find(attrs={"data-testid": "count"}).get_text()) for t in tabs}


# ---------------------------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------------------------


def test_visitors_are_sent_to_log_in(client):
    response = client.get("/orders/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=/orders/")


def test_no_orders_yet(client, make_customer):
    login(client, make_customer())
    response = client.get("/orders/")
    assert response.status_code == 200
    assert soup(response).find(attrs={"data-testid": "empty"}) is not None
    assert tab_counts(response) == dict.fromkeys(
        ["all", "pending_pack", "awaiting_payment", "paid", "shipped", "delivered", "cancelled"], 0
    )


def test_the_list_shows_each_orders_facts_newest_first(app, placed, insert_orders):
    older = insert_orders(placed["account"].id, parcels=3)[0]
    response = placed["client"].get("/orders/")
    assert response.status_code == 200
    assert order_numbers(response) == [placed["order_no"], older]
    newest = cards(response)[0]
    field = {node["data-testid"]: node for node in newest.find_all(attrs={"data-testid": True})}
    assert field["status"].get_text(strip=True) == "代打包"
    assert field["channel"].get_text(strip=True) == "美国DHL特快"
    assert field["country"].get_text(strip=True) == "美国"
    assert field["parcel-count"].get_text(strip=True) == "2"
    assert field["amount"]["data-kind"] == "estimate"
    assert newest.find("a", href=f"/orders/{placed['order_no']}") is not None
    assert cards(response)[1].find(attrs={"data-testid": "parcel-count"}).get_text() == "3"


def test_the_list_shows_the_bill_once_set_and_english_names(app, placed):
    with app.app_context():
        db.session.execute(
            update(Order).where(Order.order_no == placed["order_no"]).values(bill_fen=12345)
        )
        db.session.execute(update(User).values(locale="en"))
        db.session.commit()
    card = cards(placed["client"].get("/orders/"))[0]
    amount = card.find(attrs={"data-testid": "amount"})
    assert (amount["data-kind"], amount.get_text(strip=True)) == ("bill", "¥123.45")
    assert card.find(attrs={"data-testid": "channel"}).get_text(strip=True) == "US DHL Express"
    assert card.find(attrs={"data-testid": "country"}).get_text(strip=True) == "United States"
    assert card.find(attrs={"data-testid": "status"}).get_text(strip=True) == "Awaiting packing"


def test_tabs_count_each_state_and_filter(client, make_customer, insert_orders):
    account = make_customer()
    insert_orders(account.id, 2, "pending_pack")
    paid = insert_orders(account.id, 3, "paid")
    insert_orders(account.id, 1, "cancelled")
    insert_orders(make_customer().id, 4, "paid")  # someone else's
    login(client, account)
    response = client.get("/orders/")
    assert tab_counts(response) == {
        "all": 6,
        "pending_pack": 2,
        "awaiting_payment": 0,
        "paid": 3,
        "shipped": 0,
        "delivered": 0,
        "cancelled": 1,
    }
    assert len(cards(response)) == 6
    response = client.get("/orders/?status=paid")
    assert order_numbers(response) == paid[::-1]
    current = soup(response).find("a", attrs={"data-testid": "tab", "aria-current": "page"})
    assert current["data-status"] == "paid"
    assert current["hx-push-url"] == "true" and current["hx-target"] == "#order-list"
    response = client.get("/orders/?status=shipped")
    assert cards(response) == [] and soup(response).find(attrs={"data-testid": "empty"})
    assert client.get("/orders/?status=lost").status_code == 404


def test_pagination_20_per_page(client, make_customer, insert_orders):
    account = make_customer()
    numbers = insert_orders(account.id, 25, "paid")[::-1]
    login(client, account)
    first = client.get("/orders/?status=paid")
    assert order_numbers(first) == numbers[:20]
    next_link = soup(first).find("a", attrs={"data-testid": "next"})
    assert next_link["href"] == "/orders/?status=paid&page=2"
    assert next_link["hx-push-url"] == "true"
    second = client.get(next_link["href"])
    assert order_numbers(second) == numbers[20:]
    assert soup(second).find("a", attrs={"data-testid": "next"}) is None
    assert soup(second).find("a", attrs={"data-testid": "prev"})["href"] == "/orders/?status=paid"
    for page in ("3", "0", "-1", "abc", "1.5", "２", "9" * 40, ""):
        assert client.get("/orders/", query_string={"page": page}).status_code == 404, page


def test_the_fragment_is_the_list_alone(client, make_customer, insert_orders):
    account = make_customer()
    insert_orders(account.id, 2)
    login(client, account)
    response = client.get("/orders/?status=pending_pack", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in response.get_data(as_text=True)
    root = soup(response).find(True)
    assert root["id"] == "order-list"
    assert len(cards(response)) == 2
    page = client.get("/orders/?status=pending_pack")
    assert "HX-Request" in page.headers["Vary"]
    assert soup(page).find("html") is not None and soup(page).find(id="order-list")


def test_search_by_order_number(client, make_customer, insert_orders):
    account = make_customer()
    numbers = insert_orders(account.id, 3)
    other = insert_orders(make_customer().id, 1)[0]
    login(client, account)
    response = client.get("/orders/", query_string={"q": f" {numbers[1].lower()} "})
    assert order_numbers(response) == [numbers[1]]
    response = client.get("/orders/", query_string={"q": "JY261101T"})
    assert order_numbers(response) == numbers[::-1]
    assert client.get("/orders/", query_string={"q": other}).status_code == 200
    assert order_numbers(client.get("/orders/", query_string={"q": other})) == []
    for bad in ("JY%", "JY_1", "x" * 21, "<script>"):
        response = client.get("/orders/", query_string={"q": bad})
        assert response.status_code == 422, bad
        assert soup(response).find(id="q-error").get_text(strip=True)
        assert cards(response) == []


def test_a_page_of_20_orders_costs_no_more_queries_than_5(
    app, client, make_customer, insert_orders
):
    small, large = make_customer(), make_customer()
    insert_orders(small.id, 5, parcels=2)
    insert_orders(large.id, 20, parcels=3)
    costs = []
    for account in (small, large):
        login(client, account)
        client.get("/orders/")  # warm up (rate card caches)
        with sql_statements(app) as statements:
            response = client.get("/orders/")
        assert response.status_code == 200
        costs.append(len(statements))
        post(client, "/auth/logout")
    assert len(cards(response)) == 20
    assert costs[0] == costs[1], costs


# ---------------------------------------------------------------------------------------------
# One order's page
# ---------------------------------------------------------------------------------------------


def by_testid(node, testid: str) -> list:
    return node.find_all(attrs={"data-testid": testid})


def test_the_order_page_shows_everything(app, placed):
    response = placed["client"].get(f"/orders/{placed['order_no']}")
    assert response.status_code == 200
    page = soup(response)
    assert page.find(attrs={"data-testid": "order-no"}).get_text() == placed["order_no"]
    assert page.find(attrs={"data-testid": "status"}).get_text(strip=True) == "代打包"
    progress = page.find(attrs={"data-testid": "progress"})
    assert progress.find(attrs={"aria-current": "step"})["data-state"] == "pending_pack"
    parcels = by_testid(page, "parcel")
    assert [p.find(attrs={"data-testid": True})["data-testid"] for p in parcels] == [
        "not-received",
        "received",
    ]
    assert "1.2" in parcels[1].get_text()  # weighed on arrival
    assert page.find(attrs={"data-testid": "tax-id"}).get_text() == "12********12"
    assert TAX_ID not in response.get_data(as_text=True)
    lines = by_testid(page, "declaration-line")
    assert len(lines) == 1 and "Sweater" in lines[0].get_text()
    assert page.find(attrs={"data-testid": "declared-total"}).get_text() == "¥100.00"
    assert [s.get_text(strip=True) for s in by_testid(page, "service")] == ["加固¥8.00"]
    estimate = {
        line["data-code"]: line.find("th").get_text(strip=True)
        for line in by_testid(page, "estimate-line")
    }
    assert estimate["BASE"] == "基本运费"
    assert estimate["SERVICE"] == "加固"
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.order_no == placed["order_no"]))
        total = f"¥{order.estimate_fen / 100:,.2f}"
    assert page.find(attrs={"data-testid": "estimate-total"}).get_text() == total
    events = by_testid(page, "event")
    assert len(events) == 1
    assert page.find(attrs={"data-testid": "no-tracking"}) is not None
    assert page.find(id="cancel-form") is not None


def test_english_names_the_service_and_channel_in_english(app, placed):
    with app.app_context():
        db.session.execute(update(User).values(locale="en"))
        db.session.commit()
    page = soup(placed["client"].get(f"/orders/{placed['order_no']}"))
    service_line = page.find(attrs={"data-testid": "estimate-line", "data-code": "SERVICE"})
    assert service_line.find("th").get_text(strip=True) == "Reinforce"
    assert page.find(attrs={"data-testid": "estimate-line", "data-code": "BASE"}).find(
        "th"
    ).get_text(strip=True) == ("Freight")
    assert page.find(attrs={"data-testid": "channel"}).get_text().startswith("US DHL Express")


def add_bill(app, order_no: str) -> dict[str, int]:
    """What the warehouse will do on packing: bill lines and bill_fen, status awaiting payment.

    The freight goes up by ¥12.30, the service stays, a remote surcharge is added and the
    fuel surcharge (if estimated) is dropped.
    """
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.order_no == order_no))
        lines = []
        for line in order.charges("estimate"):
            if line.code == "FUEL":
                continue
            amount = line.amount_fen + 1230 if line.code == "BASE" else line.amount_fen
            lines.append((line.code, amount, line.detail))
        lines.append(("REMOTE", 2500, ""))
        for seq, (code, amount, detail) in enumerate(lines, 1):
            db.session.add(
                OrderChargeLine(
                    order_id=order.id,
                    stage="bill",
                    seq=seq,
                    code=code,
                    amount_fen=amount,
                    detail=detail,
                )
            )
        order.bill_fen = sum(amount for _code, amount, _detail in lines)
        order.status = "awaiting_payment"
        db.session.commit()
        return {"estimate": order.estimate_fen, "bill": order.bill_fen}


def test_the_bill_is_shown_beside_the_estimate_line_by_line(app, placed):
    totals = add_bill(app, placed["order_no"])
    page = soup(placed["client"].get(f"/orders/{placed['order_no']}"))
    rows = {row["data-code"]: row for row in by_testid(page, "compare-line")}
    assert int(rows["BASE"]["data-difference"]) == 1230
    assert "+¥12.30" in rows["BASE"].get_text()
    assert "2.0 kg" in rows["BASE"].find(attrs={"data-testid": "note"}).get_text()
    assert int(rows["SERVICE"]["data-difference"]) == 0
    assert int(rows["REMOTE"]["data-difference"]) == 2500
    assert "—" in rows["REMOTE"].get_text()  # no estimate line
    total = page.find(attrs={"data-testid": "compare-total"})
    assert int(total["data-difference"]) == totals["bill"] - totals["estimate"]
    assert (
        sum(int(r["data-difference"]) for r in rows.values()) == totals["bill"] - totals["estimate"]
    )
    assert page.find(attrs={"data-testid": "bill-total"}).get_text() == (
        f"¥{totals['bill'] / 100:,.2f}"
    )
    progress = page.find(attrs={"data-testid": "progress"})
    assert progress.find(attrs={"aria-current": "step"})["data-state"] == "awaiting_payment"
    assert len(progress.find_all(class_="done")) == 1


def test_history_and_tracking_newest_first(app, placed):
    set_status(app, placed["order_no"], "shipped")
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.order_no == placed["order_no"]))
        base = datetime(2026, 11, 23, tzinfo=UTC)
        for hours, text in [(1, "Picked up"), (30, "Arrived in Los Angeles"), (5, "Departed")]:
            db.session.add(
                TrackingEvent(
                    order_id=order.id, occurred_at=base + timedelta(hours=hours), description=text
                )
            )
        db.session.add(
            OrderEvent(order_id=order.id, from_status="paid", to_status="shipped", reason="DHL 123")
        )
        db.session.commit()
    page = soup(placed["client"].get(f"/orders/{placed['order_no']}"))
    steps = [e.find("span").get_text() for e in by_testid(page, "tracking-event")]
    assert steps == ["Arrived in Los Angeles", "Departed", "Picked up"]
    events = [e.get_text(" ", strip=True) for e in by_testid(page, "event")]
    assert "已支付 → 已出库" in events[1] and "DHL 123" in events[1]
    assert page.find(id="cancel-form") is None
    assert page.find(attrs={"data-testid": "no-tracking"}) is None


def test_the_order_fragment(placed):
    response = placed["client"].get(f"/orders/{placed['order_no']}", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in response.get_data(as_text=True)
    assert soup(response).find(True)["id"] == "order"


# ---------------------------------------------------------------------------------------------
# Cancelling
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending_pack", "awaiting_payment"])
def test_cancel_releases_the_parcels_and_leaves_a_message(app, placed, status):
    set_status(app, placed["order_no"], status)
    before = order_row(app, placed["order_no"])
    assert set(before["parcels"].values()) == {"consolidated"}
    client = placed["client"]
    response = post(client, f"/orders/{placed['order_no']}/cancel", {"reason": "买错了"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/orders/{placed['order_no']}"
    after = order_row(app, placed["order_no"])
    assert after["status"] == "cancelled"
    expected, received = placed["parcels"]
    assert after["parcels"] == {expected: "expected", received: "received"}
    assert after["released"] == [True, True]
    assert after["events"] == before["events"] + 1
    assert after["messages"] == before["messages"] + 1
    with app.app_context():
        message = db.session.scalars(select(Notification).order_by(Notification.id.desc())).first()
        assert message.kind == notifications.ORDER_CANCELLED
        assert message.params == {"order_no": placed["order_no"]}
        last = db.session.scalars(select(OrderEvent).order_by(OrderEvent.id.desc())).first()
        assert (last.from_status, last.to_status, last.reason) == (status, "cancelled", "买错了")
    page = soup(client.get(response.headers["Location"]))
    assert placed["order_no"] in page.find(id="flash").get_text()
    assert page.find(id="order")["data-status"] == "cancelled"
    assert page.find(id="cancel-form") is None
    assert page.find(attrs={"data-testid": "progress"}) is None


def test_cancel_with_htmx_redirects(placed):
    response = post(placed["client"], f"/orders/{placed['order_no']}/cancel", htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/orders/{placed['order_no']}"


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_cancel_is_refused_in_other_states_and_nothing_changes(app, placed, htmx):
    for status in ("paid", "shipped", "delivered", "cancelled"):
        set_status(app, placed["order_no"], status)
        before = order_row(app, placed["order_no"])
        response = post(placed["client"], f"/orders/{placed['order_no']}/cancel", htmx=htmx)
        assert response.status_code == 409, status
        assert order_row(app, placed["order_no"]) == before
        page = soup(response)
        message = page.find(attrs={"data-testid": "cancel-error"}).get_text(strip=True)
        assert message
        if status == "paid":
            assert "refund" in message or "退款" in message
        assert (page.find("html") is None) == htmx
        assert page.find(id="order")["data-status"] == status
        assert page.find(id="cancel-form") is None


def test_a_too_long_or_odd_reason_is_refused(app, placed):
    before = order_row(app, placed["order_no"])
    for reason in ("x" * 201, "a\x00b"):
        url = f"/orders/{placed['order_no']}/cancel"
        response = post(placed["client"], url, {"reason": reason})
        assert response.status_code == 422
        assert soup(response).find(id="reason-error").get_text(strip=True)
        assert soup(response).find("details", open=True) is not None
    assert order_row(app, placed["order_no"]) == before


def test_posted_status_owner_and_amounts_are_ignored(app, placed, make_customer):
    other = make_customer()
    before = order_row(app, placed["order_no"])
    extra = {
        "status": "delivered",
        "customer_id": str(other.id),
        "bill_fen": "1",
        "estimate_fen": "0",
        "order_no": "JY000000000000",
    }
    response = post(placed["client"], f"/orders/{placed['order_no']}/cancel", extra)
    assert response.status_code == 303
    after = order_row(app, placed["order_no"])
    assert after["status"] == "cancelled"
    assert (after["customer_id"], after["bill_fen"], after["estimate_fen"]) == (
        before["customer_id"],
        None,
        before["estimate_fen"],
    )


def test_two_cancels_at_once_make_one_change(app, placed):
    clients = [placed["client"], app.test_client()]
    login(clients[1], placed["account"])
    tokens = [csrf_token(c) for c in clients]
    url = f"/orders/{placed['order_no']}/cancel"

    def cancel(i: int):
        return clients[i].post(url, data={"csrf_token": tokens[i]}).status_code

    assert sorted(run_together(app, 2, cancel)) == [303, 409]
    after = order_row(app, placed["order_no"])
    assert after["status"] == "cancelled"
    assert after["events"] == 2  # placed, cancelled
    assert after["messages"] == 2  # placed, cancelled


def test_another_customers_order_is_404_everywhere(app, placed, make_customer):
    stranger = app.test_client()
    login(stranger, make_customer())
    before = order_row(app, placed["order_no"])
    assert stranger.get(f"/orders/{placed['order_no']}").status_code == 404
    assert stranger.get(f"/orders/{placed['order_no']}", headers=HTMX).status_code == 404
    assert post(stranger, f"/orders/{placed['order_no']}/cancel").status_code == 404
    assert order_numbers(stranger.get("/orders/")) == []
    assert order_row(app, placed["order_no"]) == before
    body = stranger.get(f"/orders/{placed['order_no']}").get_data(as_text=True)
    assert "毛衣" not in body and "Li Lei" not in body


def test_unknown_or_malformed_order_numbers_are_404(placed):
    for order_no in ("JY000000000000", "jy261122abcdef", "X" * 21, "JY%25", "JY%00", "%E2%80%8B"):
        assert placed["client"].get(f"/orders/{order_no}").status_code == 404, order_no
        assert post(placed["client"], f"/orders/{order_no}/cancel").status_code == 404, order_no


def test_cancel_needs_a_csrf_token_and_post(placed):
    url = f"/orders/{placed['order_no']}/cancel"
    assert placed["client"].post(url).status_code == 400
    assert placed["client"].get(url).status_code == 405


# ---------------------------------------------------------------------------------------------
# Fuzz
# ---------------------------------------------------------------------------------------------

ORDER_NOS = st.one_of(
    st.just("OWN"),
    st.just("OTHER"),
    st.text(st.sampled_from("JY0123456789ABCXYZjy"), min_size=1, max_size=25),
    st.text(CHARS.filter(lambda c: c not in "/?#"), min_size=1, max_size=30),
    TRICKY.filter(lambda s: "/" not in s and "?" not in s and "#" not in s),
)
PARAM = st.one_of(st.just(""), st.text(CHARS, max_size=30), TRICKY, HUGE)
PAGES = st.one_of(st.integers(-5, 30).map(str), st.sampled_from(["9" * 30, "1e3", "２"]), PARAM)
STATUSES = st.one_of(st.sampled_from(["", "paid", "pending_pack", "cancelled", "PAID"]), PARAM)


FUZZ_250 = settings(FUZZ, max_examples=250)


def reopen(app, order_no: str) -> None:
    """Undo a cancel: the order back in 代打包 with its parcels bound again."""
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.order_no == order_no))
        order.status = "pending_pack"
        ids = [link.parcel_id for link in order.parcel_links]
        for link in order.parcel_links:
            link.released_at = None
        db.session.execute(update(Parcel).where(Parcel.id.in_(ids)).values(status="consolidated"))
        db.session.commit()


@pytest.fixture
def fuzz_shop(app, placed, make_customer, insert_orders):
    other = make_customer()
    insert_orders(placed["account"].id, 3)
    foreign = insert_orders(other.id, 1)[0]
    token = csrf_token(placed["client"])
    return {**placed, "foreign": foreign, "token": token}


def number_for(shop, choice: str) -> str:
    return {"OWN": shop["order_no"], "OTHER": shop["foreign"]}.get(choice, choice)


def test_fuzz_cancel_never_5xx(app, fuzz_shop):
    client = fuzz_shop["client"]
    before = order_row(app, fuzz_shop["foreign"])
    statuses = Counter()

    @FUZZ_250
    @given(
        order_no=ORDER_NOS,
        reason=st.lists(PARAM, max_size=2),
        extras=st.dictionaries(
            st.sampled_from(["status", "customer_id", "bill_fen", "next"]), PARAM
        ),
        htmx=st.booleans(),
    )
    @example(order_no="OWN", reason=["x" * 300], extras={}, htmx=False)
    @example(order_no="OWN", reason=["ok"], extras={"status": "delivered"}, htmx=True)
    @example(order_no="OWN", reason=[], extras={}, htmx=False)
    def run(order_no, reason, extras, htmx):
        data = MultiDict([("csrf_token", fuzz_shop["token"])])
        for value in reason:
            data.add("reason", value)
        for name, value in extras.items():
            data.add(name, value)
        url = f"/orders/{number_for(fuzz_shop, order_no)}/cancel"
        response = client.post(url, data=data, headers=HTMX if htmx else {})
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.status_code
        if response.status_code == 422:
            assert soup(response).find(id="cancel-form") is not None
        if response.status_code in (204, 303):
            reopen(app, fuzz_shop["order_no"])

    run()
    assert statuses.total() >= 200, statuses
    assert statuses[404] and statuses[422] and (statuses[303] or statuses[204]), statuses
    assert order_row(app, fuzz_shop["foreign"]) == before


def test_fuzz_the_list_and_the_order_page_never_5xx(fuzz_shop):
    client = fuzz_shop["client"]
    statuses = Counter()

    @FUZZ_250
    @given(status=STATUSES, page=PAGES, q=PARAM, order_no=ORDER_NOS, htmx=st.booleans())
    @example(status="paid", page="1", q="JY", order_no="OWN", htmx=True)
    @example(status="", page="1", q="x" * 500, order_no="OWN", htmx=False)
    def run(status, page, q, order_no, htmx):
        headers = HTMX if htmx else {}
        params = {"status": status, "page": page, "q": q}
        response = client.get("/orders/", query_string=params, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code in (200, 404, 422), response.status_code
        response = client.get(f"/orders/{number_for(fuzz_shop, order_no)}", headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.status_code

    run()
    assert statuses.total() >= 400, statuses
    assert statuses[200] and statuses[404] and statuses[422], statuses
