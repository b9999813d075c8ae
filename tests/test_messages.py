"""The message centre and the bell: texts per kind, unread marks, opening a message (local links
only), marking all read, fragments, other users' messages, and a Hypothesis fuzz."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.extensions import db
from portal.models import Notification
from portal.services import notifications
from tests.helpers import HTMX, csrf_token, login, post, soup, sql_statements
from tests.test_fuzz import CHARS, FUZZ, HUGE, TRICKY


@pytest.fixture
def write(app):
    """Leave messages for a user directly: write(user_id, count, kind=..., link=..., **params)."""
    clock = iter(range(1, 100_000))

    def make(user_id, count=1, kind=notifications.ORDER_PLACED, link="", read=False, **params):
        params = params or {"order_no": "JY261122ABCDEF"}
        ids = []
        with app.app_context():
            for _ in range(count):
                message = Notification(
                    user_id=user_id,
                    kind=kind,
                    params=params,
                    link=link,
                    read_at=datetime(2026, 11, 23, tzinfo=UTC) if read else None,
                    created_at=datetime(2026, 11, 22, tzinfo=UTC) + timedelta(minutes=next(clock)),
                )
                db.session.add(message)
                db.session.flush()
                ids.append(message.id)
            db.session.commit()
        return ids

    return make


@pytest.fixture
def reader(app, make_customer):
    account = make_customer()
    client = app.test_client()
    login(client, account)
    return {"account": account, "client": client}


def unread_of(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )


def bell(response):
    return soup(response).find(id="bell")


def badge(response):
    return soup(response).find(id="unread-count")


def listed(response) -> list:
    return soup(response).find_all(attrs={"data-testid": "message"})


# ---------------------------------------------------------------------------------------------
# The bell
# ---------------------------------------------------------------------------------------------


def test_visitors_have_no_bell_and_no_query_for_it(app, client):
    with sql_statements(app) as seen:
        response = client.get("/auth/login")
        client.get("/static/css/app.css").close()
    assert bell(response) is None
    assert not [s for s in seen if "notifications" in s]


def test_the_bell_counts_unread_messages_on_every_page(app, reader, write):
    client, user_id = reader["client"], reader["account"].id
    response = client.get("/")
    assert badge(response).has_attr("hidden")
    assert badge(response)["data-count"] == "0"
    write(user_id, 3)
    write(user_id, 2, read=True)
    for path in ("/", "/account/", "/orders/", "/messages/", "/quote"):
        response = client.get(path)
        assert badge(response)["data-count"] == "3", path
        assert not badge(response).has_attr("hidden")
        assert badge(response).get_text(" ", strip=True).startswith("3")
    link = bell(response)
    assert link["href"] == "/messages/"
    assert link["hx-get"] == "/messages/badge"
    assert link["hx-trigger"] == "messagesChanged from:body"
    assert link.find("svg") is not None


def test_the_bell_says_99_plus_and_queries_once(app, reader, write):
    write(reader["account"].id, 120)
    with sql_statements(app) as seen:
        response = reader["client"].get("/")
    assert badge(response).get_text(" ", strip=True).startswith("99+")
    assert len([s for s in seen if "notifications" in s]) == 1


def test_the_badge_fragment(reader, write):
    client = reader["client"]
    write(reader["account"].id, 2)
    response = client.get("/messages/badge", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in response.get_data(as_text=True)
    root = soup(response).find(True)
    assert root["id"] == "bell"
    assert badge(response)["data-count"] == "2"
    plain = client.get("/messages/badge")
    assert plain.status_code == 302 and plain.headers["Location"] == "/messages/"
    assert "HX-Request" in plain.headers["Vary"]


def test_the_badge_and_the_list_need_a_login(client):
    assert client.get("/messages/").status_code == 302
    response = client.get("/messages/badge", headers=HTMX)
    assert response.status_code == 401 and "HX-Redirect" in response.headers


# ---------------------------------------------------------------------------------------------
# The list
# ---------------------------------------------------------------------------------------------


def test_messages_newest_first_unread_marked_worded_per_kind(app, reader, write, make_customer):
    user_id = reader["account"].id
    placed = write(user_id, kind=notifications.ORDER_PLACED, order_no="JY1", link="/orders/JY1")
    cancelled = write(user_id, kind=notifications.ORDER_CANCELLED, order_no="JY1", read=True)
    write(make_customer().id, 2)  # someone else's
    response = reader["client"].get("/messages/")
    assert response.status_code == 200
    items = listed(response)
    assert [int(m["data-id"]) for m in items] == cancelled + placed
    assert [m["data-unread"] for m in items] == ["no", "yes"]
    assert "unread" in items[1]["class"] and items[1].find(class_="dot") is not None
    texts = [m.find(attrs={"data-testid": "text"}).get_text() for m in items]
    assert "JY1" in texts[0] and "JY1" in texts[1] and texts[0] != texts[1]


def test_english_texts(app, reader, write):
    from portal.models import User

    with app.app_context():
        db.session.get(User, reader["account"].id).locale = "en"
        db.session.commit()
    write(reader["account"].id, kind=notifications.ORDER_CANCELLED, order_no="JY9")
    write(reader["account"].id, kind=notifications.ORDER_PLACED, order_no="JY8")
    texts = [
        m.find(attrs={"data-testid": "text"}).get_text()
        for m in listed(reader["client"].get("/messages/"))
    ]
    assert texts == [
        "Order JY8 has been placed. We will pack it once all its parcels have arrived.",
        "Order JY9 has been cancelled; its parcels are back in your parcel list.",
    ]


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("something_new", {"order_no": "JY1"}),
        (notifications.ORDER_PLACED, {}),
        (notifications.ORDER_CANCELLED, {"other": 1}),
        ("", {}),
        ("x", None),
        ("y", ["JY1"]),
        (notifications.ORDER_PLACED, "JY1"),
    ],
)
def test_unknown_kinds_and_odd_params_get_a_generic_text(app, reader, kind, params):
    with app.app_context():
        db.session.add(Notification(user_id=reader["account"].id, kind=kind, params=params))
        db.session.commit()
    response = reader["client"].get("/messages/")
    assert response.status_code == 200
    [item] = listed(response)
    text = item.find(attrs={"data-testid": "text"}).get_text(strip=True)
    assert text and "%(" not in text


def test_pagination_and_fragment(reader, write):
    ids = write(reader["account"].id, 25)[::-1]
    client = reader["client"]
    first = client.get("/messages/")
    assert [int(m["data-id"]) for m in listed(first)] == ids[:20]
    next_link = soup(first).find("a", attrs={"data-testid": "next"})
    assert next_link["href"] == "/messages/?page=2" and next_link["hx-push-url"] == "true"
    second = client.get("/messages/?page=2", headers=HTMX)
    assert second.status_code == 200
    assert "HX-Request" in second.headers["Vary"]
    assert "<html" not in second.get_data(as_text=True)
    assert soup(second).find(True)["id"] == "message-list"
    assert [int(m["data-id"]) for m in listed(second)] == ids[20:]
    assert soup(second).find("a", attrs={"data-testid": "prev"})["href"] == "/messages/"
    for page in ("3", "0", "-2", "x", "9" * 50, "１"):
        assert client.get("/messages/", query_string={"page": page}).status_code == 404, page


def test_no_messages_yet(reader):
    response = reader["client"].get("/messages/")
    assert soup(response).find(attrs={"data-testid": "empty"}) is not None
    assert soup(response).find(attrs={"data-testid": "read-all"}) is None


# ---------------------------------------------------------------------------------------------
# Opening a message, marking all read
# ---------------------------------------------------------------------------------------------


def test_opening_a_message_marks_it_read_and_goes_to_its_link(app, reader, write):
    user_id = reader["account"].id
    [message_id] = write(user_id, link="/orders/JY1")
    write(user_id, 1)
    response = post(reader["client"], f"/messages/{message_id}/read")
    assert response.status_code == 303
    assert response.headers["Location"] == "/orders/JY1"
    assert response.headers["HX-Trigger"] == "messagesChanged"
    assert unread_of(app, user_id) == 1
    # opening it again is fine and changes nothing
    assert post(reader["client"], f"/messages/{message_id}/read").status_code == 303
    assert unread_of(app, user_id) == 1


def test_opening_a_message_with_htmx(app, reader, write):
    [message_id] = write(reader["account"].id, link="/orders/JY1")
    response = post(reader["client"], f"/messages/{message_id}/read", htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/orders/JY1"
    assert response.headers["HX-Trigger"] == "messagesChanged"


@pytest.mark.parametrize(
    "link",
    [
        "",
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "\\\\evil",
        "/ok\r\nSet-Cookie: x=1",
        "http:/\\/evil.example",
    ],
)
def test_only_local_links_are_followed(reader, write, link):
    [message_id] = write(reader["account"].id, link=link)
    response = post(reader["client"], f"/messages/{message_id}/read", {"next": "/messages/?page=2"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/messages/?page=2"


@pytest.mark.parametrize("back", ["//evil.example", "https://evil.example", "x" * 600, ""])
def test_the_way_back_must_be_local_too(reader, write, back):
    [message_id] = write(reader["account"].id)
    response = post(reader["client"], f"/messages/{message_id}/read", {"next": back})
    assert response.headers["Location"] == "/messages/"


def test_the_list_offers_each_message_as_a_post_form(reader, write):
    [message_id] = write(reader["account"].id, link="/orders/JY1")
    item = listed(reader["client"].get("/messages/?page=1"))[0]
    form = item.find("form")
    assert form["method"] == "post" and form["action"] == f"/messages/{message_id}/read"
    assert form.find("input", attrs={"name": "next"})["value"] == "/messages/"
    assert form.find("input", attrs={"name": "csrf_token"}) is not None


def test_mark_all_read(app, reader, write, make_customer):
    user_id = reader["account"].id
    other = make_customer().id
    write(user_id, 3)
    write(other, 2)
    response = post(reader["client"], "/messages/read-all", {"page": "1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/messages/"
    assert response.headers["HX-Trigger"] == "messagesChanged"
    assert unread_of(app, user_id) == 0
    assert unread_of(app, other) == 2
    page = reader["client"].get("/messages/")
    assert badge(page).has_attr("hidden")
    assert {m["data-unread"] for m in listed(page)} == {"no"}
    assert soup(page).find(attrs={"data-testid": "read-all"}) is None


def test_mark_all_read_with_htmx_answers_the_list(app, reader, write):
    write(reader["account"].id, 25)
    response = post(reader["client"], "/messages/read-all", {"page": "2"}, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "messagesChanged"
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in response.get_data(as_text=True)
    assert soup(response).find(True)["id"] == "message-list"
    assert len(listed(response)) == 5  # still page 2
    assert {m["data-unread"] for m in listed(response)} == {"no"}


def test_the_read_all_button_sits_on_a_real_form(reader, write):
    write(reader["account"].id, 1)
    button = soup(reader["client"].get("/messages/")).find(attrs={"data-testid": "read-all"})
    form = button.find_parent("form")
    assert form["method"] == "post" and form["action"] == "/messages/read-all"
    assert form["hx-post"] == "/messages/read-all" and form["hx-target"] == "#message-list"


# ---------------------------------------------------------------------------------------------
# Other users' messages, ids, CSRF, extra fields
# ---------------------------------------------------------------------------------------------


def test_another_users_message_is_404(app, reader, write, make_customer):
    other = make_customer().id
    [message_id] = write(other, link="/orders/JY1")
    response = post(reader["client"], f"/messages/{message_id}/read")
    assert response.status_code == 404
    assert unread_of(app, other) == 1


@pytest.mark.parametrize("message_id", ["0", "999999", str(2**31), str(2**63), "9" * 30])
def test_unknown_ids_are_404(reader, message_id):
    assert post(reader["client"], f"/messages/{message_id}/read").status_code == 404


@pytest.mark.parametrize("path", ["/messages/-1/read", "/messages/x/read", "/messages/1.0/read"])
def test_malformed_ids_are_404(reader, path):
    assert post(reader["client"], path).status_code == 404


def test_state_changes_need_post_and_a_token(reader, write):
    [message_id] = write(reader["account"].id)
    client = reader["client"]
    assert client.get(f"/messages/{message_id}/read").status_code == 405
    assert client.post(f"/messages/{message_id}/read").status_code == 400
    assert client.post("/messages/read-all").status_code == 400


def test_posted_user_and_dates_are_ignored(app, reader, write, make_customer):
    other = make_customer().id
    [mine] = write(reader["account"].id)
    write(other, 1)
    extra = {"user_id": str(other), "read_at": "", "kind": "x", "link": "//evil.example"}
    response = post(reader["client"], f"/messages/{mine}/read", extra)
    assert response.headers["Location"] == "/messages/"
    post(reader["client"], "/messages/read-all", extra)
    assert unread_of(app, other) == 1
    with app.app_context():
        message = db.session.get(Notification, mine)
        assert (message.kind, message.link) == (notifications.ORDER_PLACED, "")


# ---------------------------------------------------------------------------------------------
# Fuzz
# ---------------------------------------------------------------------------------------------

PARAM = st.one_of(st.just(""), st.text(CHARS, max_size=30), TRICKY, HUGE)
NEXTS = st.one_of(
    st.sampled_from(["/messages/", "/orders/", "//evil", "/\\evil", "javascript:x", "http://e"]),
    PARAM,
)
IDS = st.one_of(
    st.sampled_from(["MINE", "OTHER"]),
    st.integers(-(2**70), 2**70).map(str),
    st.text(CHARS.filter(lambda c: c not in "/?#"), min_size=1, max_size=12),
)


def test_fuzz_message_endpoints_never_5xx(app, reader, write, make_customer):
    client = reader["client"]
    mine = write(reader["account"].id, 3, link="/orders/JY1")
    other = write(make_customer().id, 1)[0]
    token = csrf_token(client)
    statuses = Counter()

    @settings(FUZZ, max_examples=250)
    @given(
        message_id=IDS,
        nexts=st.lists(NEXTS, max_size=2),
        page=st.one_of(st.integers(-3, 5).map(str), PARAM),
        extras=st.dictionaries(st.sampled_from(["user_id", "read_at", "link"]), PARAM),
        htmx=st.booleans(),
    )
    @example(message_id="MINE", nexts=["//evil"], page="1", extras={}, htmx=False)
    @example(message_id=str(2**63), nexts=[], page="x", extras={}, htmx=True)
    def run(message_id, nexts, page, extras, htmx):
        headers = HTMX if htmx else {}
        number = {"MINE": str(mine[0]), "OTHER": str(other)}.get(message_id, message_id)
        data = MultiDict([("csrf_token", token), *[("next", n) for n in nexts], *extras.items()])
        response = client.post(f"/messages/{number}/read", data=data, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.status_code
        if response.status_code in (204, 303):
            location = response.headers.get("Location") or response.headers["HX-Redirect"]
            assert location.startswith("/") and not location.startswith("//")
        data = MultiDict([("csrf_token", token), ("page", page), *extras.items()])
        response = client.post("/messages/read-all", data=data, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code in (200, 204, 303), response.status_code
        response = client.get("/messages/", query_string={"page": page}, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code in (200, 404), response.status_code

    run()
    assert statuses.total() >= 600, statuses
    assert statuses[404] and (statuses[303] or statuses[204]), statuses
    with app.app_context():
        assert db.session.get(Notification, other).read_at is None
