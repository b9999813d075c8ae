"""Customers in the staff console: search, a customer's page, disabling and enabling an account
(sessions end at once, audited), bad input refused with nothing written."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Parcel, User
from portal.services import customer_admin
from portal.services.customer_admin import AlreadyChanged
from tests.conftest import run_together
from tests.helpers import HTMX, field_error, login, post, soup
from tests.test_auth import copy_cookies, logged_in


@pytest.fixture
def service(app, make_staff):
    client = app.test_client()
    account = make_staff("service")
    login(client, account)
    client.account = account
    return client


def audit_rows(app) -> list[tuple]:
    with app.app_context():
        return [
            (e.actor_id, e.action, e.entity_type, e.entity_id, e.before, e.after, e.reason)
            for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def account_state(app, user_id: int) -> tuple:
    with app.app_context():
        user = db.session.get(User, user_id)
        return user.is_disabled, user.session_version


def found_codes(response) -> list[str]:
    return [
        row.find(attrs={"data-testid": "customer-link"}).get_text(strip=True)
        for row in soup(response).find_all(attrs={"data-testid": "customer-row"})
    ]


# ---- search -------------------------------------------------------------------------------------


@pytest.fixture
def people(make_customer, make_staff):
    return {
        "phone": make_customer("13712340001"),
        "phone2": make_customer("13712349999"),
        "email": make_customer("li.lei@example.com"),
        "other": make_customer("15800001111"),
        "staff": make_staff("warehouse", identifier="13712340002"),
    }


@pytest.mark.parametrize(
    ("q", "who"),
    [
        ("1371234", {"phone", "phone2"}),
        ("13712340001", {"phone"}),
        ("+86137123400", {"phone"}),
        ("137 1234 0001", {"phone"}),
        ("LI.LEI@", {"email"}),
        ("li", {"email"}),
        ("example.com", set()),  # a prefix, not a substring
        ("2340001", set()),
        ("", {"phone", "phone2", "email", "other"}),
    ],
)
def test_search_by_phone_or_email_prefix(service, people, q, who):
    response = service.get("/ops/customers", query_string={"q": q})
    assert response.status_code == 200
    assert set(found_codes(response)) == {people[name].customer_code for name in who}


def test_search_by_the_whole_customer_code_in_any_case(service, people):
    code = people["other"].customer_code
    for q in (code, code.lower(), f"  {code} "):
        assert found_codes(service.get("/ops/customers", query_string={"q": q})) == [code]
    assert found_codes(service.get("/ops/customers", query_string={"q": code[:4]})) == []


def test_staff_accounts_are_not_listed(service, people):
    codes = found_codes(service.get("/ops/customers", query_string={"q": "137123400"}))
    assert codes == [people["phone"].customer_code]


def test_search_answers_a_fragment_for_htmx(service, people):
    response = service.get("/ops/customers?q=137", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    assert soup(response).find(id="customer-list") is not None
    assert "HX-Request" in response.headers["Vary"]


def insert_customers(app, count: int) -> None:
    with app.app_context():
        for n in range(count):
            db.session.add(
                User(
                    phone=f"+861770000{n:04d}",
                    password_hash="x",
                    customer_code=f"P{n:05d}",
                    invite_code=f"I{n:05d}",
                )
            )
        db.session.commit()


def test_pages_of_fifty_with_a_disabled_badge(app, service):
    insert_customers(app, 51)
    with app.app_context():
        db.session.query(User).filter_by(customer_code="P00000").update({"is_disabled": True})
        db.session.commit()
    first = service.get("/ops/customers?q=177")
    assert len(found_codes(first)) == 50
    assert " 51 " in soup(first).find(attrs={"data-testid": "customer-total"}).get_text()
    assert soup(first).find("a", rel="next")["href"] == "/ops/customers?q=177&page=2"
    second = service.get("/ops/customers?q=177&page=2")
    assert len(found_codes(second)) == 1
    rows = soup(second).find_all(attrs={"data-testid": "customer-row"}) + soup(first).find_all(
        attrs={"data-testid": "customer-row"}
    )
    badged = [r for r in rows if r.find(attrs={"data-testid": "disabled-badge"})]
    assert [r.find("a").get_text(strip=True) for r in badged] == ["P00000"]


# ---- a customer's page -------------------------------------------------------------------------


def test_the_customer_page(app, service, make_customer, make_parcel, insert_orders):
    customer = make_customer("13712340005")
    for _ in range(21):
        make_parcel(customer.id)
    make_parcel(customer.id, received=True)
    insert_orders(customer.id, 2, "awaiting_payment")
    insert_orders(customer.id, 1, "cancelled")
    page = soup(service.get(f"/ops/customers/{customer.id}"))
    text = lambda testid: page.find(attrs={"data-testid": testid}).get_text(" ", strip=True)  # noqa: E731
    assert text("customer-code") == customer.customer_code
    assert text("customer-phone") == "+8613712340005"
    assert page.find(attrs={"data-testid": "customer-last-login"}).find("time") is None
    assert text("parcel-count-expected").endswith("21")
    assert text("parcel-count-received").endswith("1")
    # insert_orders binds one consolidated parcel to each order.
    assert text("parcel-count-consolidated").endswith("3")
    assert len(page.find_all(attrs={"data-testid": "customer-parcel"})) == 20
    assert text("order-count-awaiting_payment").endswith("2")
    assert text("order-count-cancelled").endswith("1")
    assert len(page.find_all(attrs={"data-testid": "customer-order"})) == 3
    assert page.find(attrs={"data-testid": "enabled-state"}) is not None
    assert page.find(attrs={"data-testid": "disable-customer"}) is not None


def test_order_links_follow_the_order_page_permission(app, service, make_customer, insert_orders):
    from portal.ops import permissions

    customer = make_customer()
    insert_orders(customer.id, 1, "paid")
    page = soup(service.get(f"/ops/customers/{customer.id}"))
    link = page.find(attrs={"data-testid": "order-link"})
    if permissions.may_use("ops.order", {"service"}):
        assert link["href"].startswith("/ops/orders/")
    else:
        assert link is None


def test_last_login_is_shown_once_known(app, service, make_customer):
    customer = make_customer()
    login(app.test_client(), customer)
    page = soup(service.get(f"/ops/customers/{customer.id}"))
    assert page.find(attrs={"data-testid": "customer-last-login"}).find("time") is not None


def test_readers_see_no_disable_button(app, make_staff, make_customer):
    client = app.test_client()
    login(client, make_staff("warehouse"))
    customer = make_customer()
    page = soup(client.get(f"/ops/customers/{customer.id}"))
    assert page.find(attrs={"data-testid": "customer-profile"}) is not None
    assert page.find(id="customer-status-form") is None
    response = post(client, f"/ops/customers/{customer.id}/disable", {"reason": "x"})
    assert response.status_code == 403
    assert account_state(app, customer.id) == (False, 1)


# ---- disabling and enabling -------------------------------------------------------------------


def test_disabling_ends_the_customers_sessions_and_refuses_login(app, service, make_customer):
    customer = make_customer()
    browser = app.test_client()
    login(browser, customer, remember=True)
    remembered = app.test_client()
    copy_cookies(browser, remembered, "remember_token")
    assert logged_in(browser) and logged_in(remembered)

    response = post(service, f"/ops/customers/{customer.id}/disable", {"reason": "欺诈风险"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ops/customers/{customer.id}"

    assert not logged_in(browser)
    assert not logged_in(remembered)
    assert browser.get("/parcels/").status_code == 302
    refused = login(app.test_client(), customer)
    assert refused.status_code == 422
    assert "已被停用" in field_error(refused, "identifier")
    assert account_state(app, customer.id) == (True, 2)
    assert audit_rows(app) == [
        (
            service.account.id,
            "customer.disable",
            "user",
            str(customer.id),
            {"is_disabled": False},
            {"is_disabled": True},
            "欺诈风险",
        )
    ]
    page = soup(service.get(f"/ops/customers/{customer.id}"))
    assert page.find(id="customer-status").find(attrs={"data-testid": "disabled-badge"})
    assert page.find(attrs={"data-testid": "enable-customer"}) is not None


def test_enabling_lets_the_customer_log_in_again(app, service, make_customer):
    customer = make_customer()
    post(service, f"/ops/customers/{customer.id}/disable", {"reason": "核实身份"})
    response = post(service, f"/ops/customers/{customer.id}/enable", {"reason": ""}, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/ops/customers/{customer.id}"
    assert account_state(app, customer.id) == (False, 2)
    browser = app.test_client()
    assert login(browser, customer).status_code == 303
    assert logged_in(browser)
    actions = [(row[1], row[4], row[5]) for row in audit_rows(app)]
    assert actions[1] == ("customer.enable", {"is_disabled": True}, {"is_disabled": False})


def test_disabling_twice_is_refused_the_second_time(app, service, make_customer):
    customer = make_customer()
    post(service, f"/ops/customers/{customer.id}/disable", {"reason": "一"})
    again = post(service, f"/ops/customers/{customer.id}/disable", {"reason": "二"})
    assert again.status_code == 409
    assert soup(again).find(attrs={"data-testid": "status-error"}).get_text(strip=True)
    enable_twice = post(service, f"/ops/customers/{customer.id}/enable", {})
    assert enable_twice.status_code == 303
    assert post(service, f"/ops/customers/{customer.id}/enable", {}).status_code == 409
    assert len(audit_rows(app)) == 2
    assert account_state(app, customer.id) == (False, 2)


def test_staff_accounts_cannot_be_disabled_here(app, service, make_staff):
    other = make_staff("finance")
    assert service.get(f"/ops/customers/{other.id}").status_code == 404
    response = post(service, f"/ops/customers/{other.id}/disable", {"reason": "离职"})
    assert response.status_code == 404
    own = post(service, f"/ops/customers/{service.account.id}/disable", {"reason": "x"})
    assert own.status_code == 404
    assert account_state(app, other.id) == (False, 1)
    assert audit_rows(app) == []


def test_two_staff_disabling_at_once_one_wins(app, make_staff, make_customer):
    customer = make_customer()
    staff = [make_staff("service"), make_staff("admin")]

    def work(i: int):
        actor = db.session.get(User, staff[i].id)
        customer_admin.disable_customer(actor, customer.id, f"by {i}")
        db.session.commit()
        return "ok"

    results = run_together(app, 2, work)
    outcomes = sorted("ok" if r == "ok" else type(r).__name__ for r in results)
    assert outcomes == [AlreadyChanged.__name__, "ok"]
    assert len(audit_rows(app)) == 1
    assert account_state(app, customer.id) == (True, 2)


# ---- bad input ----------------------------------------------------------------------------------

BAD_REASONS = [
    "",
    "   ",
    "\t",
    "x" * 201,
    "理" * 201,
    "a\x00b",
    "line\nbreak",
    "cr\rhere",
    "bell\x07",
    "esc\x1b[31m",
    "del\x7f",
    "sep\u2028arator",
    "para\u2029graph",
    "next\x85line",
    "zero\x0bwidth",
]


@pytest.mark.parametrize("reason", BAD_REASONS)
def test_a_bad_reason_is_refused_beside_the_field(app, service, make_customer, reason):
    customer = make_customer()
    response = post(service, f"/ops/customers/{customer.id}/disable", {"reason": reason})
    assert response.status_code == 422
    assert field_error(response, "reason")
    assert soup(response).find(id="reason")["aria-invalid"] == "true"
    assert account_state(app, customer.id) == (False, 1)
    assert audit_rows(app) == []


def test_a_bad_reason_over_htmx_answers_the_status_fragment(app, service, make_customer):
    customer = make_customer()
    response = post(service, f"/ops/customers/{customer.id}/disable", {"reason": ""}, htmx=True)
    assert response.status_code == 422
    assert "<html" not in response.get_data(as_text=True)
    assert soup(response).find(id="customer-status") is not None
    assert field_error(response, "reason")


def test_a_reason_of_200_characters_is_accepted(app, service, make_customer):
    customer = make_customer()
    response = post(service, f"/ops/customers/{customer.id}/disable", {"reason": "理" * 200})
    assert response.status_code == 303
    assert audit_rows(app)[0][6] == "理" * 200


BAD_IDS = ["0", "-1", "999999", str(2**31), str(2**63), "abc", "1.5", "%00", "1e3", "٣"]


@pytest.mark.parametrize("customer_id", BAD_IDS)
@pytest.mark.parametrize("action", ["", "/disable", "/enable"])
def test_unknown_customer_ids_are_not_found(app, service, make_customer, customer_id, action):
    make_customer()
    url = f"/ops/customers/{customer_id}{action}"
    response = post(service, url, {"reason": "x"}) if action else service.get(url)
    assert response.status_code == 404
    assert audit_rows(app) == []


BAD_QUERIES = ["x" * 61, "a\x00", "a\nb", "\x1b", "q\u2028q", "y" * 1000]
BAD_PAGES = ["0", "-1", "abc", "99999999", "1.0", ""]


@pytest.mark.parametrize("q", BAD_QUERIES)
def test_a_bad_search_is_refused_with_a_message(service, people, q):
    response = service.get("/ops/customers", query_string={"q": q})
    assert response.status_code == 422
    assert field_error(response, "q")
    assert found_codes(response) == []


@pytest.mark.parametrize("page", BAD_PAGES)
def test_a_bad_page_number_is_not_found(service, page):
    assert service.get("/ops/customers", query_string={"page": page}).status_code == 404


def test_nothing_written_by_any_bad_input(app, service, make_customer, make_parcel):
    """All the bad inputs above, in one session: every answer 4xx, the database unchanged."""
    customer = make_customer()
    make_parcel(customer.id)
    before = account_state(app, customer.id)
    statuses = []
    for reason in BAD_REASONS:
        statuses.append(
            post(service, f"/ops/customers/{customer.id}/disable", {"reason": reason}).status_code
        )
    for customer_id in BAD_IDS:
        statuses.append(
            post(service, f"/ops/customers/{customer_id}/disable", {"reason": "x"}).status_code
        )
    for q in BAD_QUERIES:
        statuses.append(service.get("/ops/customers", query_string={"q": q}).status_code)
    statuses.append(post(service, f"/ops/customers/{customer.id}/disable", {}).status_code)
    assert len(statuses) >= 30
    assert all(400 <= s < 500 for s in statuses), statuses
    assert account_state(app, customer.id) == before
    assert audit_rows(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Parcel)) == 1
