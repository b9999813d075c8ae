"""WeChat's web authorization (OAuth 2.0) for one app (no Flask in here: the app id, secret,
URLs and the transport are passed in).

- The browser is sent to the authorize page: `connect/oauth2/authorize` inside WeChat (公众号,
  scope snsapi_userinfo or snsapi_base) or `connect/qrconnect` on a desktop (open platform
  website app, scope snsapi_login). The parameters must come in WeChat's order and the URL must
  end with `#wechat_redirect`.
- WeChat sends the browser back to redirect_uri with `code` and our `state` (no code when the
  person refused). The code is single-use and valid 5 minutes.
- Our server exchanges the code at `sns/oauth2/access_token` and may then read
  `sns/userinfo`. Every answer is JSON; an error answer is `{"errcode": ..., "errmsg": ...}`.
"""

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
QRCONNECT_URL = "https://open.weixin.qq.com/connect/qrconnect"
API_BASE = "https://api.weixin.qq.com"
ACCESS_TOKEN_PATH = "/sns/oauth2/access_token"  # noqa: S105 (a URL path, not a secret)
USERINFO_PATH = "/sns/userinfo"
USERINFO_SCOPES = ("snsapi_userinfo", "snsapi_login")
DEFAULT_TIMEOUT_SECONDS = 5
MAX_ID = 128
MAX_ANSWER = 64 * 1024

# Error codes the login flow tells apart.
INVALID_CODE = 40029
CODE_USED = 40163
CODE_EXPIRED = 42003
INVALID_APP_ID = 40013
INVALID_SECRET = 40125
INVALID_TOKEN = 40001
INVALID_OPENID = 40003
TOKEN_EXPIRED = 42001
UNAUTHORIZED = 48001

# (url, timeout in seconds) -> the answer's body as text; raises OSError when WeChat cannot be
# reached (a timeout is an OSError too).
Transport = Callable[[str, float], str]


class WeChatError(Exception):
    """WeChat could not be asked, or answered something we cannot use."""


class WeChatUnreachable(WeChatError):
    """No answer: network error or timeout."""


class WeChatRefused(WeChatError):
    """An error answer; `errcode` is WeChat's number (40029 invalid code, 40163 used...)."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    expires_in: int
    refresh_token: str
    openid: str
    scope: str
    unionid: str = ""

    @property
    def allows_userinfo(self) -> bool:
        return any(scope in USERINFO_SCOPES for scope in self.scope.split(","))


@dataclass(frozen=True)
class UserInfo:
    openid: str
    nickname: str = ""
    headimgurl: str = ""
    unionid: str = ""


def http_get(url: str, timeout: float) -> str:
    """The default transport: a GET over HTTPS, the answer's body as UTF-8 text."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (WeChat's API URL)
        return answer.read(MAX_ANSWER + 1).decode("utf-8")


def _identifier(document: dict, name: str, required: bool = True) -> str:
    value = document.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > MAX_ID or not value.isprintable():
        raise WeChatError(f"bad {name} in the answer")
    if required and not value:
        raise WeChatError(f"no {name} in the answer")
    return value


def _text(document: dict, name: str, limit: int = 512) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable())[:limit]


@dataclass
class WeChatApp:
    """Our side of the web authorization for one WeChat app (公众号 or website app)."""

    app_id: str
    secret: str
    authorize_url: str = AUTHORIZE_URL
    api_base: str = API_BASE
    transport: Transport = field(default=http_get)
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def authorization_url(self, redirect_uri: str, state: str, scope: str) -> str:
        """Where to send the browser; WeChat wants exactly this parameter order."""
        params = [
            ("appid", self.app_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
        ]
        return f"{self.authorize_url}?{urlencode(params)}#wechat_redirect"

    def _get(self, path: str, params: list[tuple[str, str]]) -> dict:
        url = f"{self.api_base}{path}?{urlencode(params)}"
        try:
            text = self.transport(url, self.timeout)
        except OSError as err:
            raise WeChatUnreachable(f"{path}: {err}") from err
        except ValueError as err:  # not UTF-8
            raise WeChatError(f"{path}: unreadable answer") from err
        if not isinstance(text, str) or len(text) > MAX_ANSWER:
            raise WeChatError(f"{path}: answer too long")
        try:
            document = json.loads(text)
        except ValueError:
            raise WeChatError(f"{path}: the answer is not JSON") from None
        if not isinstance(document, dict):
            raise WeChatError(f"{path}: the answer is not a JSON object")
        errcode = document.get("errcode", 0)
        if errcode not in (0, None):
            if not isinstance(errcode, int) or isinstance(errcode, bool):
                raise WeChatError(f"{path}: bad errcode")
            raise WeChatRefused(errcode, _text(document, "errmsg", 200))
        return document

    def exchange_code(self, code: str) -> AccessToken:
        """Trade the code WeChat gave the browser for an access token and the person's openid.

        Raises WeChatRefused (invalid, used or expired code...), WeChatUnreachable or
        WeChatError (an answer we cannot read)."""
        document = self._get(
            ACCESS_TOKEN_PATH,
            [
                ("appid", self.app_id),
                ("secret", self.secret),
                ("code", code),
                ("grant_type", "authorization_code"),
            ],
        )
        expires_in = document.get("expires_in", 0)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 0:
            raise WeChatError("bad expires_in in the answer")
        scope = document.get("scope", "")
        if not isinstance(scope, str):
            raise WeChatError("bad scope in the answer")
        return AccessToken(
            access_token=_identifier(document, "access_token"),
            expires_in=expires_in,
            refresh_token=_identifier(document, "refresh_token", required=False),
            openid=_identifier(document, "openid"),
            scope=scope[:MAX_ID],
            unionid=_identifier(document, "unionid", required=False),
        )

    def user_info(self, token: AccessToken, lang: str = "zh_CN") -> UserInfo:
        """The person's nickname, avatar and unionid (scopes snsapi_userinfo and snsapi_login)."""
        document = self._get(
            USERINFO_PATH,
            [("access_token", token.access_token), ("openid", token.openid), ("lang", lang)],
        )
        info = UserInfo(
            openid=_identifier(document, "openid"),
            nickname=_text(document, "nickname", 64),
            headimgurl=_text(document, "headimgurl", 512),
            unionid=_identifier(document, "unionid", required=False),
        )
        if info.openid != token.openid:
            raise WeChatError("userinfo answered about another openid")
        return info
