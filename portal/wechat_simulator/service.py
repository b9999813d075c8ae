"""The simulator's side of WeChat's web authorization: it checks the authorize request, lets a
test WeChat user allow or deny, issues one-time codes (valid 5 minutes), and answers the
access_token and userinfo calls like api.weixin.qq.com.

It stands in for an outside service, so its test users, codes and tokens live in its own SQLite
file (stdlib sqlite3, WECHAT_SIMULATOR_DB), shared by every process of the app.
"""

import json
import re
import secrets
import sqlite3
import string
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Flask, current_app

from portal.gateways import wechat
from portal.gateways.wechat_config import SCOPES, SIMULATOR_APPS, SIMULATOR_PREFIX

CODE_LIFETIME_SECONDS = 300
TOKEN_LIFETIME_SECONDS = 7200
KNOWN_USERS_SHOWN = 8
# openids, unionids: what WeChat's look like (letters, digits, - and _).
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{6,64}")
MP_SCOPES = ("snsapi_userinfo", "snsapi_base")
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    app_id TEXT NOT NULL,
    openid TEXT NOT NULL,
    unionid TEXT NOT NULL DEFAULT '',
    nickname TEXT NOT NULL,
    headimgurl TEXT NOT NULL DEFAULT '',
    seen_at REAL NOT NULL,
    PRIMARY KEY (app_id, openid)
);
CREATE TABLE IF NOT EXISTS codes (
    code TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    openid TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at REAL NOT NULL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS tokens (
    access_token TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    openid TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


def _clock() -> float:
    return time.time()


class RequestRefused(Exception):
    """The authorize request cannot be shown; `code` reads like WeChat's page error numbers."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class AuthorizeRequest:
    """A checked authorize (公众号) or qrconnect (website app) request."""

    flow: str
    app_id: str
    redirect_uri: str
    scope: str
    state: str

    @property
    def params(self) -> dict[str, str]:
        return {
            "appid": self.app_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": self.scope,
            "state": self.state,
        }


@dataclass(frozen=True)
class TestUser:
    app_id: str
    openid: str
    unionid: str
    nickname: str


def database_path(app: Flask | None = None) -> Path:
    return Path((app or current_app).config["WECHAT_SIMULATOR_DB"])


def _connect() -> sqlite3.Connection:
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(SCHEMA)
    return connection


def _random_id(prefix: str, length: int) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length - len(prefix)))


def new_test_user_defaults() -> dict[str, str]:
    """Random nickname, openid and unionid for the "new test user" form."""
    return {
        "nickname": f"微信用户{secrets.randbelow(10_000):04d}",
        "openid": _random_id("o", 28),
        "unionid": _random_id("o6_", 29),
    }


def check_authorize_request(flow: str, args: dict[str, str], host: str) -> AuthorizeRequest:
    """The request of the authorize or qrconnect page, if WeChat would accept it: our app id
    for this flow, a scope it may ask for, and a redirect_uri on this site."""
    app_id, _secret = SIMULATOR_APPS[flow]
    if args.get("appid") != app_id:
        raise RequestRefused("10016" if args.get("appid") else "10012")
    scope = args.get("scope", "")
    if flow == "mp" and scope not in MP_SCOPES or flow == "qr" and scope != SCOPES["qr"]:
        raise RequestRefused("10005")
    if args.get("response_type") != "code":
        raise RequestRefused("10004")
    redirect_uri = args.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    # Like WeChat's registered domain: only this site may receive the code.
    if parts.scheme not in ("http", "https") or parts.netloc != host:
        raise RequestRefused("10003")
    state = args.get("state", "")
    if len(state) > 128 or state and not (state.isascii() and state.isalnum()):
        raise RequestRefused("10013")
    return AuthorizeRequest(flow, app_id, redirect_uri, scope, state)


def known_users(request: AuthorizeRequest) -> list[TestUser]:
    """Test users to pick from: this app's, then people known only by the other app (picking
    one keeps their unionid, as WeChat does across apps, with an openid of this app)."""
    with closing(_connect()) as connection:
        rows = connection.execute(
            "SELECT * FROM users ORDER BY seen_at DESC LIMIT 50",
        ).fetchall()
    own = [r for r in rows if r["app_id"] == request.app_id]
    own_unionids = {r["unionid"] for r in own if r["unionid"]}
    users = [TestUser(r["app_id"], r["openid"], r["unionid"], r["nickname"]) for r in own]
    for row in rows:
        other = row["app_id"] != request.app_id and row["unionid"]
        if other and row["unionid"] not in own_unionids:
            own_unionids.add(row["unionid"])
            users.append(
                TestUser(request.app_id, _random_id("o", 28), row["unionid"], row["nickname"])
            )
    return users[:KNOWN_USERS_SHOWN]


def check_test_user(fields: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The test user's fields, cleaned, and the errors found in them (by field name)."""
    values = {name: (fields.get(name) or "").strip() for name in ("nickname", "openid", "unionid")}
    errors = {}
    if not values["nickname"] or len(values["nickname"]) > 64:
        errors["nickname"] = "1-64"
    elif not values["nickname"].isprintable():
        errors["nickname"] = "printable"
    if not ID_PATTERN.fullmatch(values["openid"]):
        errors["openid"] = "pattern"
    if values["unionid"] and not ID_PATTERN.fullmatch(values["unionid"]):
        errors["unionid"] = "pattern"
    return values, errors


def _with_query(url: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(params)}"


def allow(request: AuthorizeRequest, user: dict[str, str]) -> str:
    """The test user allowed: remember them, issue a one-time code; returns where WeChat sends
    the browser (redirect_uri with code and state)."""
    code = secrets.token_urlsafe(24)
    now = _clock()
    with closing(_connect()) as connection:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO users (app_id, openid, unionid, nickname, headimgurl, seen_at)"
            " VALUES (?, ?, ?, ?, '', ?) ON CONFLICT (app_id, openid) DO UPDATE SET"
            " unionid = excluded.unionid, nickname = excluded.nickname, seen_at = excluded.seen_at",
            (request.app_id, user["openid"], user["unionid"], user["nickname"], now),
        )
        connection.execute(
            "INSERT INTO codes (code, app_id, openid, scope, created_at) VALUES (?, ?, ?, ?, ?)",
            (code, request.app_id, user["openid"], request.scope, now),
        )
        connection.execute("COMMIT")
    return _with_query(request.redirect_uri, {"code": code, "state": request.state})


def deny(request: AuthorizeRequest) -> str:
    """The test user refused: WeChat sends the browser back with the state and no code."""
    return _with_query(request.redirect_uri, {"state": request.state})


def _error(errcode: int, errmsg: str) -> dict:
    return {"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(6)}"}


def _exchange(params: dict[str, str]) -> dict:
    secrets_by_app = dict(SIMULATOR_APPS.values())
    app_id = params.get("appid", "")
    if app_id not in secrets_by_app:
        return _error(wechat.INVALID_APP_ID, "invalid appid")
    if not secrets.compare_digest(params.get("secret", ""), secrets_by_app[app_id]):
        return _error(wechat.INVALID_SECRET, "invalid appsecret")
    if params.get("grant_type") != "authorization_code":
        return _error(40002, "invalid grant_type")
    now = _clock()
    with closing(_connect()) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            row = connection.execute(
                "SELECT * FROM codes WHERE code = ? AND app_id = ?",
                (params.get("code", ""), app_id),
            ).fetchone()
            if row is None:
                return _error(wechat.INVALID_CODE, "invalid code")
            if row["used_at"] is not None:
                return _error(wechat.CODE_USED, "code been used")
            if now - row["created_at"] > CODE_LIFETIME_SECONDS:
                return _error(wechat.CODE_EXPIRED, "code expired")
            connection.execute("UPDATE codes SET used_at = ? WHERE code = ?", (now, row["code"]))
            user = connection.execute(
                "SELECT * FROM users WHERE app_id = ? AND openid = ?", (app_id, row["openid"])
            ).fetchone()
            token = secrets.token_urlsafe(48)
            connection.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
                (token, app_id, row["openid"], row["scope"], now + TOKEN_LIFETIME_SECONDS),
            )
        finally:
            connection.execute("COMMIT")
    answer = {
        "access_token": token,
        "expires_in": TOKEN_LIFETIME_SECONDS,
        "refresh_token": secrets.token_urlsafe(48),
        "openid": row["openid"],
        "scope": row["scope"],
    }
    if user is not None and user["unionid"]:
        answer["unionid"] = user["unionid"]
    return answer


def _userinfo(params: dict[str, str]) -> dict:
    with closing(_connect()) as connection:
        token = connection.execute(
            "SELECT * FROM tokens WHERE access_token = ?", (params.get("access_token", ""),)
        ).fetchone()
        if token is None:
            return _error(wechat.INVALID_TOKEN, "invalid credential, access_token is invalid")
        if token["expires_at"] < _clock():
            return _error(wechat.TOKEN_EXPIRED, "access_token expired")
        if params.get("openid") != token["openid"]:
            return _error(wechat.INVALID_OPENID, "invalid openid")
        if token["scope"] == "snsapi_base":
            return _error(wechat.UNAUTHORIZED, "api unauthorized")
        user = connection.execute(
            "SELECT * FROM users WHERE app_id = ? AND openid = ?",
            (token["app_id"], token["openid"]),
        ).fetchone()
    answer = {
        "openid": user["openid"],
        "nickname": user["nickname"],
        "sex": 0,
        "province": "",
        "city": "",
        "country": "",
        "headimgurl": user["headimgurl"],
        "privilege": [],
    }
    if user["unionid"]:
        answer["unionid"] = user["unionid"]
    return answer


def answer_api(url: str) -> str:
    """The JSON text api.weixin.qq.com answers to a GET of `url` (access_token, userinfo)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    path = parts.path.removeprefix(SIMULATOR_PREFIX)
    if path == wechat.ACCESS_TOKEN_PATH:
        answer = _exchange(params)
    elif path == wechat.USERINFO_PATH:
        answer = _userinfo(params)
    else:
        answer = _error(40066, "invalid url")
    return json.dumps(answer, ensure_ascii=False)
