"""Logging in with WeChat through the simulator: the first login makes the account (the mobile
number is asked afterwards), later logins find it, by unionid across the 公众号 and the QR
login; the invite code survives the round trip; binding and unbinding on the account page."""

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import ExternalLogin, User
from tests.conftest import run_together
from tests.helpers import field_error, login, post, soup
from tests.test_wechat_protocol import (
    callback_path,
    consent,
    events,
    is_logged_in,
    log_in_with_wechat,
    start,
    use_browser,
)


def link_of(user_id: int) -> ExternalLogin | None:
    return db.session.scalar(select(ExternalLogin).where(ExternalLogin.user_id == user_id))


def users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def logout(client) -> None:
    post(client, "/auth/logout")


def test_the_first_login_makes_the_account_and_asks_for_the_phone_afterwards(app, client):
    response = log_in_with_wechat(client, openid="oFIRST-openid", unionid="uFIRST-union")
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/phone"
    assert parse_qs(location.query)["next"] == ["/parcels/"]
    with app.app_context():
        user = db.session.scalar(select(User))
        link = link_of(user.id)
        assert (user.phone, user.email, user.password_hash) == (None, None, None)
        assert (link.subject, link.openid, link.provider) == (
            "uFIRST-union",
            "oFIRST-openid",
            "wechat",
        )
        assert user.last_login_at is not None
    prompt = soup(client.get(f"{location.path}?{location.query}"))
    assert prompt.find(attrs={"data-testid": "phone-skip"})["href"] == "/parcels/"
    assert client.get("/parcels/").status_code == 200

    logout(client)
    again = log_in_with_wechat(client, in_wechat=False, openid="oQR-openid", unionid="uFIRST-union")
    assert again.headers["Location"] == "/parcels/"
    with app.app_context():
        assert users() == 1
        assert link_of(user.id).openid == "oQR-openid"  # the latest app's openid


def test_an_openid_account_takes_its_unionid_when_wechat_first_gives_one(app, client):
    log_in_with_wechat(client, openid="oMP-only-openid", unionid="")
    logout(client)
    log_in_with_wechat(client, openid="oMP-only-openid", unionid="uLATER-union")
    logout(client)
    log_in_with_wechat(client, in_wechat=False, openid="oQR-other-openid", unionid="uLATER-union")
    with app.app_context():
        assert users() == 1
        assert db.session.scalar(select(ExternalLogin.subject)) == "uLATER-union"
    assert is_logged_in(client)


def test_the_invite_code_and_the_next_page_survive_the_round_trip(app, client, make_customer):
    referrer = make_customer()
    response = log_in_with_wechat(
        client, start_args={"invite": referrer.invite_code, "next": "/orders/"}
    )
    assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == ["/orders/"]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.id != referrer.id))
        assert user.referred_by_id == referrer.id


def test_a_disabled_account_is_refused(app, client):
    log_in_with_wechat(client, openid="oDISABLED-openid", unionid="")
    logout(client)
    with app.app_context():
        db.session.scalar(select(User)).is_disabled = True
        db.session.commit()
    response = log_in_with_wechat(client, openid="oDISABLED-openid", unionid="")
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    assert not is_logged_in(client)


def test_the_phone_is_added_afterwards_unique_and_valid(app, client, make_customer):
    taken = make_customer("13912340001")
    log_in_with_wechat(client)
    for typed, status in (("12345", 422), ("a@b.cn", 422), (taken.identifier, 422)):
        response = post(client, "/account/phone", {"phone": typed})
        assert response.status_code == status
        assert field_error(response, "phone")
    response = post(client, "/account/phone?next=/orders/", {"phone": "139 1234 0002"})
    assert (response.status_code, response.headers["Location"]) == (303, "/orders/")
    with app.app_context():
        assert db.session.scalar(select(User.phone).where(User.id != taken.id)) == "+8613912340002"
    assert client.get("/account/phone?next=/orders/").headers["Location"] == "/orders/"


def test_bind_then_log_in_with_wechat_then_unbind(app, client, make_customer):
    customer = make_customer()
    use_browser(client, in_wechat=False)
    login(client, customer)
    page = soup(client.get("/account/"))
    assert page.find(attrs={"data-testid": "login-method-wechat"})["data-present"] == "no"
    response = client.get("/account/wechat/bind")
    assert urlsplit(response.headers["Location"]).path == "/wechat-simulator/connect/qrconnect"
    url = consent(
        client, response.headers["Location"], openid="oBIND-openid", unionid="uBIND-union"
    )
    assert client.get(callback_path(url)).headers["Location"] == "/account/"
    with app.app_context():
        assert link_of(customer.id).subject == "uBIND-union"

    logout(client)
    log_in_with_wechat(client, openid="oBIND-mp-openid", unionid="uBIND-union")
    assert soup(client.get("/")).find(attrs={"data-testid": "customer-code"}).get_text(
        strip=True
    ) == (customer.customer_code)
    page = soup(client.get("/account/"))
    assert page.find(attrs={"data-testid": "wechat-unbind"}) is not None
    assert post(client, "/account/wechat/unbind").status_code == 303
    with app.app_context():
        assert link_of(customer.id) is None
        assert users() == 1


def test_binding_a_wechat_of_another_account_is_refused(app, client, make_customer):
    log_in_with_wechat(client, openid="oTAKEN-openid", unionid="uTAKEN")
    logout(client)
    customer = make_customer()
    use_browser(client, in_wechat=False)
    login(client, customer)
    response = client.get("/account/wechat/bind")
    url = consent(client, response.headers["Location"], openid="oTAKEN-2", unionid="uTAKEN")
    assert client.get(callback_path(url)).headers["Location"] == "/account/"
    with app.app_context():
        assert link_of(customer.id) is None
        assert events() == []


def test_the_only_way_to_log_in_cannot_be_unbound_until_a_password_is_set(app, client):
    log_in_with_wechat(client)
    page = soup(client.get("/account/"))
    assert page.find(attrs={"data-testid": "wechat-unbind"}) is None
    assert post(client, "/account/wechat/unbind").status_code == 422
    post(client, "/account/phone", {"phone": "13912340003"})
    short = post(client, "/account/set-password", {"new_password": "short", "confirm": "short"})
    assert short.status_code == 422
    assert field_error(short, "new_password")
    password = {"new_password": "a long new secret", "confirm": "a long new secret"}
    assert post(client, "/account/set-password", password).status_code == 303
    assert client.get("/account/set-password").headers["Location"] == "/account/password"
    assert post(client, "/account/wechat/unbind").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(ExternalLogin.id)) is None
    logout(client)
    account = SimpleNamespace(identifier="13912340003", password="a long new secret")
    assert login(client, account).status_code == 303


@pytest.mark.parametrize("path", ["/account/phone", "/account/set-password"])
def test_the_new_pages_need_a_login(client, path):
    assert urlsplit(client.get(path).headers["Location"]).path == "/auth/login"


def test_two_first_logins_of_one_wechat_at_once_make_one_account(app):
    """Both callbacks write on a GET: on SQLite they queue (BEGIN IMMEDIATE), on PostgreSQL the
    second meets the first's link; both end logged in to the one account."""
    clients = [app.test_client() for _ in range(2)]
    callbacks = [
        callback_path(consent(c, start(c), openid="oTWIN-openid", unionid="uTWIN-union"))
        for c in clients
    ]
    answers = run_together(app, 2, lambda i: clients[i].get(callbacks[i]).status_code)
    assert answers == [303, 303]
    with app.app_context():
        assert users() == 1
        assert db.session.scalar(select(func.count()).select_from(ExternalLogin)) == 1
    assert all(is_logged_in(c) for c in clients)
