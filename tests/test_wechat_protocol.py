"""WeChat's web authorization: the client against forged answers (no app), the simulator's
checks, and the callback's refusals (forged, replayed or expired code, wrong or missing state,
state reused, error answers), each recorded as a security event."""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.gateways import wechat
from portal.gateways.wechat import WeChatApp, WeChatError, WeChatRefused, WeChatUnreachable
from portal.models import ExternalLogin, SecurityEvent
from portal.wechat_simulator import service as simulator
from tests.helpers import soup

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN"
)
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
TOKEN_ANSWER = {
    "access_token": "ACCESS_TOKEN",
    "expires_in": 7200,
    "refresh_token": "REFRESH_TOKEN",
    "openid": "oLVPpjqs9BhvzwPj5A-vTYAX3GLc",
    "scope": "snsapi_userinfo",
    "unionid": "o6_bmasdasdsad6_2sgVt7hMZOPfL",
}


# ---------------------------------------------------------------------------------------------
# Driving the flow through the simulator (shared with tests/test_wechat_login.py)
# ---------------------------------------------------------------------------------------------


def use_browser(client, in_wechat: bool) -> None:
    """Every later request of `client` comes from WeChat's browser or a desktop one (a
    session whose User-Agent changes is no longer fresh)."""
    client.environ_base["HTTP_USER_AGENT"] = WECHAT_UA if in_wechat else DESKTOP_UA


def start(client, in_wechat: bool = True, **args) -> str:
    """Press the WeChat button; returns the authorize page's URL."""
    use_browser(client, in_wechat)
    response = client.get("/auth/wechat/start", query_string=args)
    assert response.status_code == 303, response.status_code
    return response.headers["Location"]


def consent(client, authorize_url: str, action: str = "allow", **user) -> str:
    """On the simulator's page, fill the new test user (random unless told) and Allow/Deny;
    returns the callback URL WeChat sends the browser to."""
    page = soup(client.get(authorize_url))
    form = page.find(id="wechat-simulator-form")
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input")}
    fields.update(user, action=action)
    response = client.post(form["action"], data=fields)
    assert response.status_code == 303, response.status_code
    return response.headers["Location"]


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def log_in_with_wechat(client, in_wechat: bool = True, start_args=None, **user):
    """The whole round trip; returns the callback's response (not followed)."""
    url = consent(client, start(client, in_wechat, **(start_args or {})), **user)
    return client.get(callback_path(url))


def code_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["code"][0]


def events() -> list[str]:
    return list(db.session.scalars(select(SecurityEvent.kind).order_by(SecurityEvent.id)))


def is_logged_in(client) -> bool:
    return client.get("/account/").status_code == 200


# ---------------------------------------------------------------------------------------------
# The client alone, against recorded and forged answers
# ---------------------------------------------------------------------------------------------


def app_answering(*answers):
    """A client whose transport answers each call with the next text (or raises it)."""
    calls = []

    def transport(url, timeout):
        calls.append((url, timeout))
        answer = answers[len(calls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, str) else json.dumps(answer)

    return WeChatApp("wxAPPID", "SECRET", transport=transport, timeout=3), calls


def test_the_authorization_url_keeps_wechats_parameter_order_and_fragment():
    client = WeChatApp("wx520c15f417810387", "s")
    url = client.authorization_url(
        "https://a.example/auth/wechat/callback", "abc123", "snsapi_base"
    )
    assert url == (
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx520c15f417810387"
        "&redirect_uri=https%3A%2F%2Fa.example%2Fauth%2Fwechat%2Fcallback&response_type=code"
        "&scope=snsapi_base&state=abc123#wechat_redirect"
    )


def test_a_code_is_exchanged_then_the_profile_read():
    info = {"openid": TOKEN_ANSWER["openid"], "nickname": "小明\u0000", "unionid": "U1"}
    client, calls = app_answering(TOKEN_ANSWER, info)
    token = client.exchange_code("CODE")
    assert (token.openid, token.unionid, token.allows_userinfo) == (
        TOKEN_ANSWER["openid"],
        TOKEN_ANSWER["unionid"],
        True,
    )
    profile = client.user_info(token)
    assert (profile.nickname, profile.unionid) == ("小明", "U1")
    url, timeout = calls[0]
    assert timeout == 3
    assert url.startswith("https://api.weixin.qq.com/sns/oauth2/access_token?")
    assert parse_qs(urlsplit(url).query) == {
        "appid": ["wxAPPID"],
        "secret": ["SECRET"],
        "code": ["CODE"],
        "grant_type": ["authorization_code"],
    }
    assert parse_qs(urlsplit(calls[1][0]).query)["lang"] == ["zh_CN"]


def test_a_base_scope_token_without_unionid_is_read():
    answer = {**TOKEN_ANSWER, "scope": "snsapi_base"}
    del answer["unionid"]
    client, _calls = app_answering(answer)
    token = client.exchange_code("CODE")
    assert (token.unionid, token.allows_userinfo) == ("", False)


@pytest.mark.parametrize(
    ("answer", "error", "errcode"),
    [
        ({"errcode": 40029, "errmsg": "invalid code"}, WeChatRefused, 40029),
        ({"errcode": 40163, "errmsg": "code been used, rid: 1"}, WeChatRefused, 40163),
        ({"errcode": 42003, "errmsg": "code expired"}, WeChatRefused, 42003),
        ({"errcode": "40029"}, WeChatError, None),
        ("<html>502 Bad Gateway</html>", WeChatError, None),
        ("[1, 2]", WeChatError, None),
        ("", WeChatError, None),
        ({**TOKEN_ANSWER, "openid": ""}, WeChatError, None),
        ({**TOKEN_ANSWER, "openid": ["x"]}, WeChatError, None),
        ({**TOKEN_ANSWER, "openid": "x" * 200}, WeChatError, None),
        ({**TOKEN_ANSWER, "expires_in": "7200"}, WeChatError, None),
        ({k: v for k, v in TOKEN_ANSWER.items() if k != "access_token"}, WeChatError, None),
        ("x" * (wechat.MAX_ANSWER + 1), WeChatError, None),
        (TimeoutError("timed out"), WeChatUnreachable, None),
        (ConnectionRefusedError(111, "refused"), WeChatUnreachable, None),
    ],
)
def test_error_answers_bad_json_and_timeouts_are_refused(answer, error, errcode):
    client, _calls = app_answering(answer)
    with pytest.raises(error) as raised:
        client.exchange_code("CODE")
    assert type(raised.value) is error
    if errcode:
        assert raised.value.errcode == errcode


def test_a_profile_of_another_openid_is_refused():
    client, _calls = app_answering(TOKEN_ANSWER, {"openid": "oSOMEONE-ELSE", "nickname": "x"})
    token = client.exchange_code("CODE")
    with pytest.raises(WeChatError):
        client.user_info(token)


# ---------------------------------------------------------------------------------------------
# The simulator's checks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"appid": "wxSTRANGER"}, "10016"),
        ({"scope": "snsapi_login"}, "10005"),
        ({"redirect_uri": "https://evil.example/cb"}, "10003"),
        ({"state": "a-b"}, "10013"),
    ],
)
def test_the_simulator_refuses_a_bad_authorize_request(client, change, code):
    url = urlsplit(start(client))
    args = {k: v[0] for k, v in parse_qs(url.query).items()} | change
    page = soup(client.get(url.path, query_string=args))
    assert page.find(attrs={"data-testid": "wechat-simulator-error"})["data-code"] == code


def test_the_simulator_answers_like_wechats_api(app, client):
    url = consent(client, start(client))
    with app.app_context():
        app_id, secret = "wx5e1c0a00000000a1", "simulator-mp-secret"
        ask = "/wechat-simulator/sns/oauth2/access_token?grant_type=authorization_code"
        ask = f"{ask}&appid={app_id}"
        wrong = json.loads(simulator.answer_api(f"{ask}&secret=nope&code={code_of(url)}"))
        assert wrong["errcode"] == wechat.INVALID_SECRET
        token = json.loads(simulator.answer_api(f"{ask}&secret={secret}&code={code_of(url)}"))
        info = f"/wechat-simulator/sns/userinfo?access_token={token['access_token']}"
        assert json.loads(simulator.answer_api(f"{info}&openid=oX"))["errcode"] == 40003
        profile = json.loads(simulator.answer_api(f"{info}&openid={token['openid']}"))
        assert profile["unionid"] == token["unionid"]
        again = json.loads(simulator.answer_api(f"{ask}&secret={secret}&code={code_of(url)}"))
        assert again["errcode"] == wechat.CODE_USED


# ---------------------------------------------------------------------------------------------
# The callback's refusals
# ---------------------------------------------------------------------------------------------


def assert_refused(app, client, response, kinds: list[str]) -> None:
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    assert not is_logged_in(client)
    with app.app_context():
        assert events() == kinds
        assert db.session.scalar(select(ExternalLogin.id)) is None


def test_a_forged_code_is_refused(app, client):
    url = consent(client, start(client))
    forged = callback_path(url).replace(code_of(url), "forged-code")
    assert_refused(app, client, client.get(forged), ["wechat_code_refused"])


def test_an_expired_code_is_refused(app, client, monkeypatch):
    url = consent(client, start(client))
    later = time.time() + simulator.CODE_LIFETIME_SECONDS + 1
    monkeypatch.setattr(simulator, "_clock", lambda: later)
    assert_refused(app, client, client.get(callback_path(url)), ["wechat_code_refused"])
    with app.app_context():
        assert db.session.scalar(select(SecurityEvent.detail))["errcode"] == "42003"


def test_a_replayed_code_is_refused_even_with_a_fresh_state(app, client):
    url = consent(client, start(client))
    assert client.get(callback_path(url)).status_code == 303
    assert is_logged_in(client)
    attacker = app.test_client()
    fresh = parse_qs(urlsplit(start(attacker)).query)["state"][0]
    replay = f"/auth/wechat/callback?code={code_of(url)}&state={fresh}"
    response = attacker.get(replay)
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    assert not is_logged_in(attacker)
    with app.app_context():
        assert events() == ["wechat_code_refused"]
        assert db.session.scalar(select(SecurityEvent.detail))["errcode"] == "40163"


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (lambda path: path.replace("state=", "state=0"), "wechat_state_mismatch"),
        (lambda path: path.split("&state=")[0], "wechat_state_mismatch"),
        ("other-browser", "wechat_state_missing"),
        ("twice", "wechat_state_missing"),
    ],
)
def test_a_wrong_missing_or_reused_state_is_refused(app, client, tamper, kind):
    url = callback_path(consent(client, start(client)))
    if tamper == "other-browser":
        client = app.test_client()  # a login CSRF: this browser never started the login
    elif tamper == "twice":
        assert client.get(url).status_code == 303  # logged in; the state is used up
    else:
        url = tamper(url)
    response = client.get(url)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    with app.app_context():
        assert events() == [kind]


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ('{"errcode":40125,"errmsg":"invalid appsecret"}', "wechat_code_refused"),
        ("<html>bad gateway</html>", "wechat_bad_answer"),
        ('{"access_token":"T","expires_in":7200,"scope":"snsapi_base"}', "wechat_bad_answer"),
        (OSError("timed out"), None),
    ],
)
def test_an_error_answer_is_refused(app, client, monkeypatch, answer, kind):
    def forged(_url):
        if isinstance(answer, Exception):
            raise answer
        return answer

    url = consent(client, start(client))
    monkeypatch.setattr(simulator, "answer_api", forged)
    assert_refused(app, client, client.get(callback_path(url)), [kind] if kind else [])


def test_denying_goes_back_to_the_login_page_without_an_event(app, client):
    url = consent(client, start(client, invite="ABC123"), action="deny")
    assert "code" not in parse_qs(urlsplit(url).query)
    response = client.get(callback_path(url))
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)["invite"]) == ("/auth/login", ["ABC123"])
    assert_refused(app, client, response, [])


def test_wechat_login_off_hides_the_button_and_the_routes(app, client):
    app.config["WECHAT_LOGIN"] = "off"
    assert soup(client.get("/auth/login")).find(attrs={"data-testid": "wechat-login"}) is None
    assert client.get("/auth/wechat/start").status_code == 404
    assert client.get("/auth/wechat/callback?code=x&state=y").status_code == 404
