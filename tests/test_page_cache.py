"""Whole-page cache (portal/page_cache.py) and the table write counters it relies on."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from portal import page_cache
from portal.extensions import db
from portal.models import Parcel, User, UserRole
from portal.models import base as model_base
from portal.services import notifications, parcels, table_versions
from portal.services.errors import DomainError, ValidationFailed
from portal.services.parcel_fields import parse_parcel
from tests.conftest import run_together
from tests.helpers import HTMX, login, post, soup, sql_statements
from tests.test_parcels import VALID

PARCEL = VALID
LIST = "/parcels/?status=expected"
KIND = notifications.PARCEL_RECEIVED


def versions(app) -> dict[str, int]:
    with app.app_context():
        return table_versions.read(db.session)


def logged_in(app, account):
    client = app.test_client()
    assert login(client, account).status_code == 303
    return client


def register(app, customer_id: int, tracking_no: str) -> int:
    """Register a parcel for the customer outside any request (as another worker would)."""
    with app.app_context():
        customer = db.session.get(User, customer_id)
        parcel = parcels.register_parcel(
            customer, parse_parcel({**PARCEL, "tracking_no": tracking_no})
        )
        db.session.commit()
        return parcel.id


def shown(response) -> list[str]:
    return [li["data-parcel-id"] for li in soup(response).select('[data-testid="parcel"]')]


def without_token(response) -> str:
    page = soup(response)
    for meta in page.select('meta[name="csrf-token"]'):
        meta["content"] = ""
    for field in page.select('input[name="csrf_token"]'):
        field["value"] = ""
    page.body["hx-headers:inherited"] = ""
    return str(page)


# ---- the counters --------------------------------------------------------------------------


def test_a_commit_counts_each_table_it_wrote_once(app, make_customer):
    account = make_customer()
    before = versions(app)
    with app.app_context():
        customer = db.session.get(User, account.id)
        for n in range(3):
            parcels.register_parcel(
                customer, parse_parcel({**PARCEL, "tracking_no": f"SF99{n:011d}"})
            )
        db.session.commit()
    after = versions(app)
    assert after["parcels"] == before.get("parcels", 0) + 1
    assert after.get("users", 0) == before.get("users", 0)


def test_a_rolled_back_or_read_only_transaction_counts_nothing(app, make_customer):
    account = make_customer()
    before = versions(app)
    with app.app_context():
        customer = db.session.get(User, account.id)
        parcels.register_parcel(customer, parse_parcel(PARCEL))
        db.session.rollback()
        db.session.get(User, account.id)
        db.session.commit()
    assert versions(app) == before


def test_bulk_and_text_statements_are_counted(app, make_customer):
    account = make_customer()
    register(app, account.id, "SF1000000000001")
    before = versions(app)
    with app.app_context():
        db.session.execute(update(Parcel).values(note="bulk"))
        db.session.execute(text("UPDATE notifications SET read_at = NULL WHERE 1 = 0"))
        db.session.commit()
    after = versions(app)
    assert after["parcels"] == before["parcels"] + 1
    assert after["notifications"] == before.get("notifications", 0) + 1


def test_two_writers_at_once_both_count(app, make_customer):
    account = make_customer()
    before = versions(app).get("parcels", 0)

    def work(i: int) -> int:
        customer = db.session.get(User, account.id)
        tracking = f"SF20000000000{i:02d}"
        parcel = parcels.register_parcel(
            customer, parse_parcel({**PARCEL, "tracking_no": tracking})
        )
        db.session.commit()
        return parcel.id

    results = run_together(app, 2, work)
    assert all(isinstance(r, int) for r in results), results
    assert versions(app)["parcels"] == before + 2


# ---- the cache -----------------------------------------------------------------------------


def test_a_repeated_page_is_answered_without_running_the_view(app, make_customer):
    account = make_customer()
    register(app, account.id, "SF1000000000001")
    client = logged_in(app, account)
    first = client.get(LIST)
    with sql_statements(app) as statements:
        again = client.get(LIST)
    assert again.status_code == 200
    assert shown(again) == shown(first)
    # The counters only: the user is rebuilt from its copy, and nothing of the page's queries.
    queries = [s for s in statements if s != "BEGIN"]  # SQLite's own BEGIN
    assert len(queries) == 1 and "FROM table_versions" in queries[0]


# ---- the signed-in user's copy (services/session_users) ------------------------------------


def test_a_change_to_the_user_or_their_roles_is_seen_at_once(app, make_customer):
    account = make_customer()
    client = logged_in(app, account)
    assert client.get(LIST).status_code == 200
    assert client.get(LIST).status_code == 200  # served with the user's copy
    with app.app_context():
        db.session.execute(update(User).where(User.id == account.id).values(locale="en"))
        db.session.commit()
    assert soup(client.get(LIST)).html["lang"] == "en"
    with app.app_context():
        user = db.session.get(User, account.id)
        user.roles.append(UserRole(role="warehouse"))
        db.session.commit()
    assert client.get("/ops/").status_code == 200  # the gate reads the role just added
    with app.app_context():
        db.session.execute(update(User).where(User.id == account.id).values(is_disabled=True))
        db.session.commit()
    assert client.get(LIST).status_code in (302, 303)  # disabled: signed out


def test_a_view_run_with_the_users_copy_reads_and_writes_as_usual(app, make_customer):
    account = make_customer()
    client = logged_in(app, account)
    assert client.get(LIST).status_code == 200
    first = register(app, account.id, "SF1000000000001")  # the page's tables changed: a miss
    with sql_statements(app) as statements:
        page = client.get(LIST)
    assert shown(page) == [str(first)]
    assert not any(s.lstrip().upper().startswith(("UPDATE", "INSERT")) for s in statements)
    assert not any("FROM users" in s for s in statements)  # the view ran with the copy
    response = post(client, "/parcels/new", {**PARCEL, "tracking_no": "SF1000000000002"})
    assert response.status_code in (303, 204)
    assert len(shown(client.get(LIST))) == 2


def test_a_write_anywhere_shows_on_the_next_request(app, make_customer):
    account = make_customer()
    client = logged_in(app, account)
    assert shown(client.get(LIST)) == []
    first = register(app, account.id, "SF1000000000001")
    assert shown(client.get(LIST)) == [str(first)]
    with app.app_context():
        db.session.execute(update(Parcel).where(Parcel.id == first).values(contents="新的内容"))
        db.session.commit()
    assert "新的内容" in client.get(LIST).get_data(as_text=True)


def test_the_bell_follows_new_messages(app, make_customer):
    account = make_customer()
    client = logged_in(app, account)
    count = soup(client.get(LIST)).select_one('[data-testid="bell"] [data-count]')["data-count"]
    with app.app_context():
        notifications.notify(account.id, KIND, tracking_no="SF1")
        db.session.commit()
    bell = soup(client.get(LIST)).select_one('[data-testid="bell"] [data-count]')
    assert int(bell["data-count"]) == int(count) + 1


def test_customers_languages_and_fragments_have_their_own_pages(app, make_customer):
    alice, bob = make_customer(), make_customer()
    register(app, alice.id, "SF1000000000001")
    a, b = logged_in(app, alice), logged_in(app, bob)
    assert len(shown(a.get(LIST))) == 1
    assert shown(b.get(LIST)) == []
    assert len(shown(a.get(LIST, headers=HTMX))) == 1
    assert "<html" not in a.get(LIST, headers=HTMX).get_data(as_text=True)
    assert "<html" in a.get(LIST).get_data(as_text=True)
    assert post(a, "/language", {"lang": "en"}).status_code in (302, 303)
    assert soup(a.get(LIST)).html["lang"] == "en"


def test_each_session_gets_its_own_working_csrf_token(app, make_customer):
    account = make_customer()
    one, two = logged_in(app, account), logged_in(app, account)
    one.get(LIST)
    token_of = {}
    for name, client in (("one", one), ("two", two)):
        page = soup(client.get(LIST))
        token_of[name] = page.find("meta", attrs={"name": "csrf-token"})["content"]
        assert page.find("input", attrs={"name": "csrf_token"})["value"] == token_of[name]
    assert token_of["one"] != token_of["two"]
    answer = two.post("/parcels/new", data={**PARCEL, "csrf_token": token_of["two"]}, headers=HTMX)
    assert answer.status_code == 204


def test_a_flashed_message_is_shown_once_and_never_cached(app, make_customer):
    account = make_customer()
    client = logged_in(app, account)
    client.get(LIST)
    assert post(client, "/parcels/new", PARCEL).status_code == 303
    flashed = soup(client.get(LIST)).select_one("#flash")
    assert PARCEL["tracking_no"] in flashed.get_text()
    assert soup(client.get(LIST)).select_one("#flash").get_text(strip=True) == ""


def test_entries_expire(app, make_customer):
    account = make_customer()
    client = logged_in(app, account)
    client.get(LIST)
    cache = page_cache.cache_of(app)
    assert len(cache) == 1
    cache.max_age = 0
    try:
        with sql_statements(app) as statements:
            client.get(LIST)
        assert any("FROM parcels" in s for s in statements)
    finally:
        cache.max_age = app.config["PAGE_CACHE_SECONDS"]


def test_cached_pages_match_fresh_ones_through_a_run_of_changes(app, make_customer, monkeypatch):
    """Random writes and clock moves between requests: every answer from the caches (pages and
    parcel cards) equals the page rendered afresh with nothing cached."""
    account = make_customer()
    client = logged_in(app, account)
    rng = random.Random(15)
    clock = [datetime(2026, 12, 1, 3, 0, tzinfo=UTC)]
    monkeypatch.setattr(model_base, "utcnow", lambda: clock[0])
    ids = [register(app, account.id, f"SF4{n:012d}") for n in range(4)]
    pages = [LIST, "/parcels/?status=received", "/parcels/?status=received&expiring=1", "/orders/"]
    actions = {"register": 3, "receive": 4, "note": 2, "later": 4, "delete": 1, "message": 1}
    for step in range(80):
        action = rng.choices(list(actions), weights=list(actions.values()))[0]
        with app.app_context():
            if action == "register":
                ids.append(register(app, account.id, f"SF3{step:012d}"))
            elif action in ("note", "receive") and ids:
                values = {"note": f"n{step}"}
                if action == "receive":
                    days = rng.randint(0, 40)
                    values = {
                        "status": "received",
                        "weight_g": rng.randint(100, 9000),
                        "received_at": clock[0] - timedelta(days=days, hours=rng.randint(0, 23)),
                    }
                db.session.execute(
                    update(Parcel).where(Parcel.id == rng.choice(ids)).values(values)
                )
                db.session.commit()
            elif action == "delete" and ids:
                customer = db.session.get(User, account.id)
                try:
                    parcels.delete_parcel(customer, ids.pop(rng.randrange(len(ids))))
                except DomainError:
                    db.session.rollback()
                else:
                    db.session.commit()
            elif action == "message":
                notifications.notify(account.id, KIND, tracking_no="SF1")
                db.session.commit()
            elif action == "later":
                clock[0] += timedelta(hours=rng.choice((1, 7, 23, 24, 49)))
        path = rng.choices(pages, weights=(2, 4, 2, 1))[0]
        cached = client.get(path)
        app.config["PAGE_CACHE_ENTRIES"] = 0
        app.jinja_env.cached_blocks.clear()
        try:
            fresh = client.get(path)
        finally:
            app.config["PAGE_CACHE_ENTRIES"] = 512
        assert cached.status_code == fresh.status_code == 200
        assert without_token(cached) == without_token(fresh), (step, action, path)


@pytest.mark.parametrize("path", ["/orders/", "/ops/orders"])
def test_orders_and_ops_lists_are_cached_too(app, make_staff, path):
    staff = make_staff("admin")
    client = logged_in(app, staff)
    assert client.get(path).status_code == 200
    with sql_statements(app) as statements:
        assert client.get(path).status_code == 200
    assert len(statements) <= 3, statements


def test_a_fragment_without_a_token_is_revalidated_with_its_etag(app, make_customer):
    account = make_customer()
    client = logged_in(app, account)
    first = client.get(LIST, headers=HTMX)
    etag = first.headers["ETag"]
    assert "no-cache" in first.headers["Cache-Control"]
    assert "private" in first.headers["Cache-Control"]
    again = client.get(LIST, headers={**HTMX, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    register(app, account.id, "SF1000000000001")
    changed = client.get(LIST, headers={**HTMX, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert len(shown(changed)) == 1


def test_a_page_with_a_token_has_no_etag(app, make_customer):
    client = logged_in(app, make_customer())
    client.get(LIST)
    page = client.get(LIST)
    assert "ETag" not in page.headers
    assert 'name="csrf-token"' in page.get_data(as_text=True)


def test_a_savepoint_rolled_back_before_the_commit_still_counts_the_rest(app, make_customer):
    account = make_customer()
    register(app, account.id, "SF1000000000001")
    before = versions(app)
    with app.app_context():
        customer = db.session.get(User, account.id)
        with pytest.raises(ValidationFailed):
            parcels.register_parcel(
                customer, parse_parcel(PARCEL | {"tracking_no": "SF1000000000001"})
            )
        savepoint = db.session.begin_nested()
        db.session.execute(update(Parcel).values(note="rolled back"))
        savepoint.rollback()
        db.session.execute(update(Parcel).values(note="kept"))
        db.session.commit()
    assert versions(app)["parcels"] == before["parcels"] + 1


def test_a_commit_with_nothing_written_opens_no_transaction(app):
    with app.app_context(), sql_statements(app) as statements:
        db.session.commit()
    assert statements == []
