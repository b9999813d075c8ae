"""Register, log in, log out, change password: happy paths, refusals and htmx answers."""

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import User
from portal.services import accounts
from tests.conftest import DEFAULT_PASSWORD
from tests.helpers import HTMX, field_error, login, post, soup


def register(client, identifier, password=DEFAULT_PASSWORD, confirm=None, invite="", **kw):
    data = {
        "identifier": identifier,
        "password": password,
        "confirm": password if confirm is None else confirm,
        "invite_code": invite,
    }
    return post(client, "/auth/register", data, **kw)


def user_by(app, **where) -> User | None:
    with app.app_context():
        column, value = next(iter(where.items()))
        return db.session.scalar(select(User).where(getattr(User, column) == value))


@pytest.mark.parametrize(
    ("typed", "stored_phone", "stored_email"),
    [
        ("13800138001", "+8613800138001", None),
        ("+86 138 0013 8002", "+8613800138002", None),
        ("0086 13800138003", "+8613800138003", None),
        ("+1 415 555 2671", "+14155552671", None),
        ("+44 7911 123456", "+447911123456", None),
        ("Buyer@Example.COM", None, "buyer@example.com"),
    ],
)
def test_register_with_phone_or_email_logs_in_and_shows_code(
    app, client, make_warehouse, typed, stored_phone, stored_email
):
    make_warehouse()
    response = register(client, typed)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    user = user_by(app, phone=stored_phone) if stored_phone else user_by(app, email=stored_email)
    assert user is not None and user.email == stored_email
    assert len(user.customer_code) == 6
    home = soup(client.get("/"))
    assert home.find(attrs={"data-testid": "customer-code"}).get_text() == user.customer_code
    assert f"({user.customer_code})" in home.find(attrs={"data-testid": "recipient"}).get_text()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12345", "有效的手机号"),
        ("1380013800", "有效的手机号"),
        ("+1 202 555 01", "有效的手机号"),
        ("02087654321", "有效的手机号"),  # a Guangzhou landline, not a mobile
        ("someone@", "有效的邮箱"),
        ("a@b", "有效的邮箱"),
    ],
)
def test_register_refuses_bad_identifier_beside_the_field(app, client, typed, message):
    response = register(client, typed)
    assert response.status_code == 422
    assert message in field_error(response, "identifier")
    with app.app_context():
        assert db.session.scalar(select(User.id)) is None


def test_register_refuses_taken_phone_and_email(app, client, make_customer):
    make_customer("13800138011")
    make_customer("taken@example.com")
    response = register(client, "+8613800138011")
    assert response.status_code == 422
    assert "已被注册" in field_error(response, "identifier")
    response = register(client, "TAKEN@example.com")
    assert response.status_code == 422
    assert "已被注册" in field_error(response, "identifier")


def test_register_password_rules(client):
    assert "至少 8" in field_error(register(client, "13800138021", "short"), "password")
    assert "常见" in field_error(register(client, "13800138021", "password123"), "password")
    response = register(client, "13800138021", "a" * 9 + "x", confirm="different1")
    assert "不一致" in field_error(response, "confirm")


def test_invite_code_is_checked_and_stored(app, client, make_customer):
    referrer = make_customer()
    response = register(client, "13800138031", invite="NOPE1234")
    assert response.status_code == 422
    assert "邀请码不存在" in field_error(response, "invite_code")
    response = register(client, "13800138031", invite=referrer.invite_code.lower())
    assert response.status_code == 303
    assert user_by(app, phone="+8613800138031").referred_by_id == referrer.id


def test_invite_link_prefills_the_code(client):
    page = soup(client.get("/auth/register?invite=ABCD2345"))
    assert page.find(id="invite_code")["value"] == "ABCD2345"


def test_login_by_phone_and_by_email(client, make_customer):
    by_phone = make_customer("13800138041")
    by_email = make_customer("me@example.com")
    for account, typed in [(by_phone, "+86 138 0013 8041"), (by_email, "ME@example.com")]:
        response = post(client, "/auth/login", {"identifier": typed, "password": account.password})
        assert response.status_code == 303
        assert soup(client.get("/")).find(attrs={"data-testid": "customer-code"})
        post(client, "/auth/logout")


def test_login_does_not_reveal_whether_an_account_exists(client, make_customer):
    account = make_customer("13800138051")
    wrong = post(client, "/auth/login", {"identifier": account.identifier, "password": "x" * 12})
    unknown = post(client, "/auth/login", {"identifier": "13800138052", "password": "x" * 12})
    assert wrong.status_code == unknown.status_code == 422
    assert (
        field_error(wrong, "identifier") == field_error(unknown, "identifier") == "账号或密码错误。"
    )


def test_disabled_account_cannot_log_in(app, client, make_customer, make_staff):
    account = make_customer()
    admin = make_staff("admin")
    with app.app_context():
        accounts.set_disabled(
            db.session.get(User, admin.id), db.session.get(User, account.id), True
        )
        db.session.commit()
    response = login(client, account)
    assert response.status_code == 422
    assert "已被停用" in field_error(response, "identifier")


def test_login_clears_the_previous_session(client, make_customer):
    account = make_customer()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, account)
    with client.session_transaction() as session:
        assert "planted" not in session


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "http:/\\/evil.example",
        "javascript:alert(1)",
        "https://evil.example/",
        "/%0d%0aSet-Cookie:x",
    ],
)
def test_unsafe_next_goes_to_the_home_page(client, make_customer, target):
    account = make_customer()
    response = login(client, account, query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] in ("/", "/%0d%0aSet-Cookie:x")


def test_safe_next_is_followed(client, make_customer):
    account = make_customer()
    response = login(client, account, query_string={"next": "/account/?tab=1"})
    assert response.headers["Location"] == "/account/?tab=1"


def test_login_required_redirects_with_next(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/account/"


def test_expired_login_on_htmx_request_answers_hx_redirect(client):
    response = client.get(
        "/account/", headers={**HTMX, "HX-Current-URL": "http://localhost/account/?x=1"}
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/auth/login?next=/account/?x%3D1"
    assert response.get_data() == b""


def test_login_form_fragment_and_htmx_outcomes(client, make_customer):
    account = make_customer()
    page = client.get("/auth/login")
    assert soup(page).find("html") is not None
    bad = post(
        client, "/auth/login", {"identifier": account.identifier, "password": "nope" * 3}, htmx=True
    )
    assert bad.status_code == 422
    fragment = soup(bad)
    assert fragment.find("html") is None
    assert fragment.find("form")["id"] == "login-form"
    assert "HX-Request" in bad.headers["Vary"]
    good = login(client, account, htmx=True)
    assert good.status_code == 204
    assert good.headers["HX-Redirect"] == "/"


def test_post_without_csrf_token_is_refused(client, make_customer):
    account = make_customer()
    response = client.post(
        "/auth/login", data={"identifier": account.identifier, "password": account.password}
    )
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)


def test_htmx_post_with_stale_csrf_token_asks_for_refresh(client):
    response = client.post("/auth/login", data={"csrf_token": "stale"}, headers=HTMX)
    assert response.status_code == 400
    assert response.headers["HX-Refresh"] == "true"


def test_remember_me_cookie_is_short_lived_httponly_and_lax(client, make_customer):
    account = make_customer()
    response = login(client, account, remember=True)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "remember_token=" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    lifetime = expires - datetime.now(UTC)
    assert timedelta(days=29) < lifetime <= timedelta(days=30)


def copy_cookies(source, target, *names):
    for name in names:
        cookie = source.get_cookie(name)
        target.set_cookie(name, cookie.value)


def logged_in(client) -> bool:
    return soup(client.get("/")).find(attrs={"data-testid": "customer-code"}) is not None


def test_logout_kills_copied_session_and_remember_cookies(app, client, make_customer):
    account = make_customer()
    login(client, account, remember=True)
    thief_session, thief_remember = app.test_client(), app.test_client()
    copy_cookies(client, thief_session, "session")
    copy_cookies(client, thief_remember, "remember_token")
    assert logged_in(thief_session) and logged_in(thief_remember)
    post(client, "/auth/logout")
    assert not logged_in(client)
    assert not logged_in(thief_session)
    assert not logged_in(thief_remember)


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client, make_customer):
    account = make_customer()
    login(client, account, remember=True)
    other_device = app.test_client()
    login(other_device, account, remember=True)
    stolen = app.test_client()
    copy_cookies(client, stolen, "remember_token")
    response = post(
        client,
        "/account/password",
        {
            "current_password": account.password,
            "new_password": "a new long passphrase",
            "confirm": "a new long passphrase",
        },
    )
    assert response.status_code == 303
    assert logged_in(client)
    assert not logged_in(other_device)
    assert not logged_in(stolen)
    post(client, "/auth/logout")
    new = type(account)(
        account.id,
        account.identifier,
        "a new long passphrase",
        account.customer_code,
        account.invite_code,
    )
    assert login(client, new).status_code == 303
    assert login(app.test_client(), account).status_code == 422


def test_password_change_refuses_wrong_current_password(client, make_customer):
    account = make_customer()
    login(client, account)
    response = post(
        client,
        "/account/password",
        {
            "current_password": "not my password",
            "new_password": "another long phrase",
            "confirm": "another long phrase",
        },
        htmx=True,
    )
    assert response.status_code == 422
    assert soup(response).find("form")["id"] == "password-form"
    assert "当前密码不正确" in field_error(response, "current_password")


def test_password_change_needs_a_fresh_login(app, client, make_customer):
    account = make_customer()
    login(client, account, remember=True)
    remembered_only = app.test_client()
    copy_cookies(client, remembered_only, "remember_token")
    response = remembered_only.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_disabling_a_user_kills_their_cookies(app, client, make_customer, make_staff):
    account = make_customer()
    admin = make_staff("admin")
    login(client, account, remember=True)
    remembered = app.test_client()
    copy_cookies(client, remembered, "remember_token")
    with app.app_context():
        user = db.session.get(User, account.id)
        accounts.set_disabled(db.session.get(User, admin.id), user, True)
        db.session.commit()
    assert not logged_in(client)
    assert not logged_in(remembered)


def test_extra_fields_posted_on_register_are_ignored(app, client):
    response = post(
        client,
        "/auth/register",
        {
            "identifier": "13800138062",
            "password": DEFAULT_PASSWORD,
            "confirm": DEFAULT_PASSWORD,
            "customer_code": "HACKED",
            "session_version": "99",
            "referred_by_id": "1",
            "roles": "admin",
            "is_staff": "1",
        },
    )
    assert response.status_code == 303
    user = user_by(app, phone="+8613800138062")
    assert user.customer_code != "HACKED"
    assert user.session_version == 1
    assert user.referred_by_id is None
    assert user.roles == []
