"""Logging in with a 物流通 account through the stand-in: first login creates and links, later
logins find the link, an existing customer links and unlinks it on the account page, refusals,
the sister system not answering, throttling, and no 物流通 password anywhere in the database."""

import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.gateways import wuliutong
from portal.models import Base, ExternalLogin, SecurityEvent, User
from portal.services import accounts, login_methods, wechat_login, wuliutong_login
from portal.services.errors import ValidationFailed
from portal.wuliutong_simulator import service
from portal.wuliutong_simulator.accounts import DEMO_ACCOUNTS
from tests.conftest import run_together
from tests.helpers import HTMX, field_error, login, post, soup

URL = "/auth/login/wuliutong"
DEMO = DEMO_ACCOUNTS["wlt-demo"]
SECOND = DEMO_ACCOUNTS["wlt-second"]


def log_in(client, name=DEMO.name, password=DEMO.password, next_page=None, **kw):
    url = f"{URL}?next={next_page}" if next_page else URL
    return post(client, url, {"account": name, "password": password, **kw.pop("data", {})}, **kw)


def links(app) -> list[tuple[int, str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(ExternalLogin.user_id, ExternalLogin.provider, ExternalLogin.subject)
        )
        return [tuple(row) for row in rows]


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def test_login_page_offers_the_wuliutong_tab_with_and_without_htmx(app, client):
    page = soup(client.get("/auth/login?next=/parcels/"))
    tab = page.find(attrs={"data-testid": "wuliutong-tab"})
    assert tab["href"] == f"{URL}?next=/parcels/" and tab["hx-target"] == "#login-form"
    full = client.get(tab["href"])
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    form = soup(full).find(attrs={"data-testid": "wuliutong-form"})
    assert form["action"] == f"{URL}?next=/parcels/"
    assert soup(full).find(attrs={"data-testid": "password-tab"})["href"] == (
        "/auth/login?next=/parcels/"
    )
    fragment = client.get(tab["href"], headers=HTMX)
    assert "<html" not in fragment.get_data(as_text=True)
    assert soup(fragment).find().get("id") == "wuliutong-form"
    assert "HX-Request" in fragment.headers["Vary"]


def test_first_login_creates_and_links_a_customer_later_logins_find_it(app, client):
    first = log_in(client, next_page="/parcels/")
    assert first.status_code == 303 and first.headers["Location"] == "/parcels/"
    assert client.get("/parcels/").status_code == 200
    [(user_id, provider, subject)] = links(app)
    assert (provider, subject) == ("wuliutong", DEMO.account_id)
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user.password_hash is None and user.phone == DEMO.phone
        assert user.last_login_at is not None and user.customer_code

    post(client, "/auth/logout")
    again = log_in(client, next_page="//evil.example", data={"remember": "y"}, htmx=True)
    assert again.status_code == 204 and again.headers["HX-Redirect"] == "/"
    assert any("remember_token=" in c for c in again.headers.getlist("Set-Cookie"))
    assert links(app) == [(user_id, provider, subject)] and user_count(app) == 1


def test_a_customer_with_the_same_mobile_number_is_not_joined(app, client, make_customer):
    """Our numbers are not verified: whoever registered the number must not get in."""
    squatter = make_customer(DEMO.phone.removeprefix("+86"))
    assert log_in(client).status_code == 303
    [(user_id, _, _)] = links(app)
    assert user_id != squatter.id and user_count(app) == 2
    with app.app_context():
        assert db.session.get(User, user_id).phone is None


def test_a_staff_account_with_that_number_is_not_linked(app, client, make_staff):
    staff = make_staff("admin", identifier=DEMO.phone)
    assert log_in(client).status_code == 303
    [(user_id, _, _)] = links(app)
    assert user_id != staff.id
    with app.app_context():
        assert db.session.get(User, user_id).phone is None


def test_a_logged_in_customer_links_their_wuliutong_account_on_the_account_page(
    app, client, make_customer
):
    customer = make_customer()
    login(client, customer)
    page = soup(client.get("/account/"))
    assert page.find(attrs={"data-testid": "login-method-wuliutong"})["data-present"] == "no"
    wrong = post(client, "/account/wuliutong", {"account": DEMO.name, "password": "nope"})
    assert wrong.status_code == 422 and field_error(wrong, "account")
    assert links(app) == []
    linked = post(client, "/account/wuliutong", {"account": DEMO.name, "password": DEMO.password})
    assert linked.status_code == 303
    assert links(app) == [(customer.id, "wuliutong", DEMO.account_id)]
    page = soup(client.get("/account/"))
    assert page.find(attrs={"data-testid": "login-method-wuliutong"})["data-present"] == "yes"
    # Now the 物流通 login opens this account; another customer cannot take the link.
    post(client, "/auth/logout")
    assert log_in(client).status_code == 303 and user_count(app) == 1
    post(client, "/auth/logout")
    other = make_customer()
    login(client, other)
    taken = post(client, "/account/wuliutong", {"account": DEMO.name, "password": DEMO.password})
    assert taken.status_code == 422 and field_error(taken, "account")
    assert links(app) == [(customer.id, "wuliutong", DEMO.account_id)]


def unlink_button(client):
    return soup(client.get("/account/")).find(attrs={"data-testid": "wuliutong-unbind"})


def flash_text(response) -> str:
    return soup(response).find(id="flash").get_text(" ", strip=True)


def test_a_customer_unlinks_their_wuliutong_account(app, client, make_customer):
    customer = make_customer()
    login(client, customer)
    assert post(client, "/account/wuliutong/unbind").status_code == 422
    post(client, "/account/wuliutong", {"account": DEMO.name, "password": DEMO.password})
    assert unlink_button(client) is not None
    unlinked = post(client, "/account/wuliutong/unbind")
    assert unlinked.status_code == 303 and links(app) == []
    page = soup(client.get("/account/"))
    assert page.find(attrs={"data-testid": "login-method-wuliutong"})["data-present"] == "no"
    assert "物流通已与你的账户解除关联" in page.find(id="flash").get_text()
    # The 物流通 login no longer opens this account: it makes a new one, as a first login does.
    post(client, "/auth/logout")
    assert log_in(client).status_code == 303
    [(user_id, _, _)] = links(app)
    assert user_id != customer.id and user_count(app) == 2


def test_the_only_way_to_log_in_cannot_be_unlinked_until_a_password_is_set(app, client):
    log_in(client)
    assert unlink_button(client) is None
    refused = post(client, "/account/wuliutong/unbind")
    assert refused.status_code == 422
    assert "先添加手机号并设置密码" in flash_text(refused)
    assert len(links(app)) == 1
    password = {"new_password": "a long new secret", "confirm": "a long new secret"}
    assert post(client, "/account/set-password", password).status_code == 303
    assert unlink_button(client) is not None
    assert post(client, "/account/wuliutong/unbind").status_code == 303
    assert links(app) == []
    post(client, "/auth/logout")
    account = SimpleNamespace(identifier="13700137001", password="a long new secret")
    assert login(client, account).status_code == 303


def test_two_unlinks_at_once_leave_one_way_to_log_in(app, client, monkeypatch):
    """An account with only a 物流通 and a WeChat link: unlinking both at once removes one."""
    log_in(client)
    [(user_id, _, _)] = links(app)
    with app.app_context():
        accounts.link_external(db.session.get(User, user_id), "wechat", "uBOTH-union")
        db.session.commit()
    checked = login_methods.has_other_login

    def slow_check(user, provider):
        """Hold each unlink between its check and its delete, where the other could slip in."""
        answer = checked(user, provider)
        time.sleep(0.3)
        return answer

    monkeypatch.setattr(login_methods, "has_other_login", slow_check)
    unbind = (wuliutong_login.unbind_wuliutong, wechat_login.unbind_wechat)

    def work(i: int) -> str:
        unbind[i](db.session.get(User, user_id))
        db.session.commit()
        return "unlinked"

    results = run_together(app, 2, work)
    [refused] = [r for r in results if r != "unlinked"]
    assert isinstance(refused, ValidationFailed)
    assert len(links(app)) == 1


@pytest.mark.parametrize(
    ("name", "password"),
    [
        (DEMO.name, "wrong password"),
        ("nobody-at-wuliutong", DEMO.password),
        ("wlt-disabled", "wlt-disabled-2026"),
        ("", DEMO.password),
        (DEMO.name, ""),
        ("wlt\x00demo", DEMO.password),
        ("x" * 129, DEMO.password),
    ],
)
def test_refusals_are_shown_beside_the_field_and_create_nothing(app, client, name, password):
    response = log_in(client, name, password)
    assert response.status_code == 422
    assert field_error(response, "account") or field_error(response, "password")
    assert soup(response).find(attrs={"data-testid": "wuliutong-form"}) is not None
    assert user_count(app) == 0 and links(app) == []


def test_a_disabled_local_account_is_refused(app, client):
    assert log_in(client).status_code == 303
    post(client, "/auth/logout")
    with app.app_context():
        db.session.execute(update(User).values(is_disabled=True))
        db.session.commit()
    response = log_in(client)
    assert response.status_code == 422 and field_error(response, "account")
    assert client.get("/parcels/").status_code == 302


def test_when_wuliutong_does_not_answer_the_page_says_so_and_a_password_still_works(
    app, client, make_customer
):
    customer = make_customer()
    app.config["WULIUTONG_SIMULATOR_DOWN"] = True
    response = log_in(client)
    assert response.status_code == 503
    notice = soup(response).find(attrs={"data-testid": "wuliutong-unavailable"})
    assert notice.find("a")["href"] == "/auth/login"
    fragment = log_in(client, htmx=True)
    assert fragment.status_code == 503
    assert soup(fragment).find().get("id") == "wuliutong-form"
    assert soup(fragment).find(attrs={"data-testid": "wuliutong-unavailable"}) is not None
    assert user_count(app) == 1
    assert login(client, customer).status_code == 303


def test_a_forged_answer_is_refused_and_recorded(app, client, monkeypatch):
    original = service.in_process_transport

    def forging(url, body, headers, timeout):
        answer = original(url, body, headers, timeout)
        return replace(answer, body=answer.body.replace(b"WLT-100001", b"WLT-999999"))

    monkeypatch.setattr(service, "in_process_transport", forging)
    response = log_in(client)
    assert response.status_code == 503 and links(app) == []
    with app.app_context():
        event = db.session.scalar(select(SecurityEvent))
    assert event.kind == "wuliutong_forged_answer"
    assert event.detail["account"] == DEMO.name


def test_attempts_are_throttled_per_wuliutong_account(app, client, monkeypatch):
    app.config.update(LOGIN_FREE_FAILURES=10, LOGIN_MAX_FAILURES_PER_HOUR=2)
    asked = []
    original = service.in_process_transport

    def counting(url, body, headers, timeout):
        asked.append(body)
        return original(url, body, headers, timeout)

    monkeypatch.setattr(service, "in_process_transport", counting)
    assert log_in(client, password="guess 1").status_code == 422
    assert log_in(client, password="guess 2").status_code == 422
    # The right password is refused too now, without asking 物流通.
    throttled = log_in(client)
    assert throttled.status_code == 422 and field_error(throttled, "account")
    assert len(asked) == 2 and links(app) == []
    # Another 物流通 account is not affected, and its success clears only its own counter.
    assert log_in(client, SECOND.name, SECOND.password).status_code == 303


def test_attempts_while_wuliutong_does_not_answer_are_not_counted(app, client, monkeypatch):
    """Nobody checked those passwords, so they cannot lock the customer out once it is back;
    a forged answer still counts."""
    app.config.update(LOGIN_FREE_FAILURES=2, LOGIN_MAX_FAILURES_PER_HOUR=2)
    app.config["WULIUTONG_SIMULATOR_DOWN"] = True
    for _ in range(4):
        assert log_in(client).status_code == 503
    app.config["WULIUTONG_SIMULATOR_DOWN"] = False
    assert log_in(client, password="a typo").status_code == 422
    post(client, "/auth/logout")
    assert log_in(client).status_code == 303
    post(client, "/auth/logout")

    original = service.in_process_transport

    def forging(url, body, headers, timeout):
        answer = original(url, body, headers, timeout)
        return replace(answer, body=answer.body.replace(b"WLT-100002", b"WLT-999999"))

    monkeypatch.setattr(service, "in_process_transport", forging)
    for _ in range(2):
        assert log_in(client, SECOND.name, SECOND.password).status_code == 503
    monkeypatch.setattr(service, "in_process_transport", original)
    throttled = log_in(client, SECOND.name, SECOND.password)
    assert throttled.status_code == 422 and field_error(throttled, "account")


def test_no_wuliutong_password_is_stored(app, client):
    assert log_in(client, password="wrong password").status_code == 422
    assert log_in(client).status_code == 303
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                text = repr(tuple(row))
                assert DEMO.password not in text and "wrong password" not in text, table.name


def test_the_tab_and_the_route_are_gone_when_the_login_is_off(app, client):
    app.config["WULIUTONG_LOGIN"] = "off"
    assert soup(client.get("/auth/login")).find(attrs={"data-testid": "wuliutong-tab"}) is None
    assert client.get(URL).status_code == 404
    assert log_in(client).status_code == 404


def test_the_client_is_the_configured_remote_one(app):
    from portal.gateways.wuliutong_config import is_enabled, wuliutong_client

    app.config.update(WULIUTONG_LOGIN="remote", WULIUTONG_API_URL="https://wlt.example.com")
    assert not is_enabled(app)
    app.config.update(WULIUTONG_CLIENT_ID="jiyun", WULIUTONG_SECRET="s3cret")
    remote = wuliutong_client(app)
    assert (remote.base_url, remote.client_id, remote.secret) == (
        "https://wlt.example.com",
        "jiyun",
        "s3cret",
    )
    assert remote.transport is wuliutong.post_json and remote.timeout_seconds == 5
