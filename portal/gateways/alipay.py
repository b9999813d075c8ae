"""Alipay's open-platform protocol with RSA2 signatures (no Flask in here: keys, URLs and the
transport are passed in).

- Requests (`alipay.trade.page.pay`, `alipay.trade.wap.pay`, `alipay.trade.query`): every
  non-empty parameter except `sign`, sorted by name, joined as `k=v&k=v` with the raw values,
  signed with the merchant's private key (RSA, SHA-256, PKCS#1 v1.5) and sent base64-encoded.
- Asynchronous notifications: the same string without `sign` and `sign_type`, verified with the
  gateway's public key; then our app_id, a paid trade status, a strict amount and a fresh
  notify_time are required.
- Query responses: the signature covers the raw JSON text of `alipay_trade_query_response` as
  it appears in the body, so it is cut out of the text, never re-serialised.
"""

import base64
import binascii
import json
import re
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

BEIJING = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")
PAGE_PAY = ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY")
WAP_PAY = ("alipay.trade.wap.pay", "QUICK_WAP_WAY")
QUERY = "alipay.trade.query"
QUERY_RESPONSE = "alipay_trade_query_response"
# A notification older than this is refused (Alipay resends for about 25 hours), as is one
# dated further in the future than a clock can drift.
MAX_NOTIFICATION_AGE = timedelta(days=2)
MAX_CLOCK_SKEW = timedelta(minutes=10)
# Yuan with at most two decimals, no sign, exponent, grouping or leading zeros.
AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,2}))?")
MAX_FIELD = 1024
QUERY_TIMEOUT_SECONDS = 10

# (url, form fields) -> response body text; raises OSError when the gateway cannot be reached.
Transport = Callable[[str, Mapping[str, str]], str]


class ForgedNotification(Exception):
    """A notification that must not be believed; `reason` says why (for the security log)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class GatewayError(Exception):
    """The trade query failed: unreachable gateway, an error answer or a bad signature."""


@dataclass(frozen=True)
class Notification:
    """What a verified asynchronous notification says."""

    out_trade_no: str
    trade_no: str
    trade_status: str
    amount_fen: int
    notify_id: str
    notify_time: datetime

    @property
    def paid(self) -> bool:
        return self.trade_status in PAID_STATUSES


@dataclass(frozen=True)
class TradeStatus:
    """What a verified trade query answer says about one of our trades."""

    out_trade_no: str
    trade_no: str
    trade_status: str
    amount_fen: int

    @property
    def paid(self) -> bool:
        return self.trade_status in PAID_STATUSES


def load_private_key(data: bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#8 or PKCS#1) or the bare base64 Alipay's tool prints."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(text, password=None)
    else:
        key = serialization.load_der_private_key(_unarmoured(text), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(data: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or the bare base64 shown in Alipay's console."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
    else:
        key = serialization.load_der_public_key(_unarmoured(text))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def _unarmoured(text: bytes) -> bytes:
    return base64.b64decode(b"".join(text.split()), validate=True)


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign_content(params: Mapping[str, str], exclude: tuple[str, ...] = ("sign",)) -> str:
    """The string Alipay signs: non-empty parameters but `exclude`, sorted, `k=v` joined by &."""
    return "&".join(
        f"{name}={params[name]}" for name in sorted(params) if name not in exclude and params[name]
    )


def rsa2_sign(content: str, private_key: rsa.RSAPrivateKey) -> str:
    """Base64 of the RSA SHA-256 PKCS#1 v1.5 signature of the UTF-8 content."""
    signature = private_key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa2_verify(content: str, signature: str, public_key: rsa.RSAPublicKey) -> bool:
    """Whether `signature` (base64) is the RSA2 signature of `content` under `public_key`."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
        public_key.verify(raw, content.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, UnicodeEncodeError, binascii.Error, ValueError, UnsupportedAlgorithm):
        return False
    return True


def fen_to_amount(amount_fen: int) -> str:
    """Fen as Alipay writes an amount: yuan with two decimals, e.g. 1234 -> "12.34"."""
    if amount_fen < 0:
        raise ValueError("negative amount")
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"


def amount_to_fen(text: str) -> int:
    """An Alipay amount ("12.34", "12.3", "12") as fen; ValueError for anything else."""
    match = AMOUNT.fullmatch(text) if isinstance(text, str) and text.isascii() else None
    if match is None:
        raise ValueError(f"not an amount: {text!r}")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def beijing_time(moment: datetime) -> str:
    """A moment as Alipay writes it: Beijing wall-clock time, "YYYY-MM-DD HH:MM:SS"."""
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_beijing_time(text: str) -> datetime:
    """Alipay's "YYYY-MM-DD HH:MM:SS" (Beijing) as an aware UTC datetime; ValueError otherwise."""
    if not isinstance(text, str) or len(text) != 19 or not text.isascii():
        raise ValueError(f"not a time: {text!r}")
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=BEIJING).astimezone(UTC)


def post_form(url: str, form: Mapping[str, str]) -> str:
    """The default transport: a form POST over HTTPS, the answer's body as text."""
    body = urlencode(dict(form)).encode()
    request = urllib.request.Request(  # noqa: S310 (the configured gateway URL)
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
    )
    with urllib.request.urlopen(request, timeout=QUERY_TIMEOUT_SECONDS) as answer:  # noqa: S310
        return answer.read().decode("utf-8")


def raw_json_member(text: str, name: str) -> str | None:
    """The exact text of the JSON value of top-level member `name` in `text` (what Alipay
    signed), or None when it is missing. The document itself must be valid JSON."""
    document = json.loads(text, object_pairs_hook=_unique_members)
    if not isinstance(document, dict) or name not in document:
        return None
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0) + 1
    while True:
        index = _skip_space(text, index)
        key, index = decoder.raw_decode(text, index)
        index = _skip_space(text, index)
        if text[index] != ":":
            raise ValueError("malformed JSON object")
        start = _skip_space(text, index + 1)
        _value, end = decoder.raw_decode(text, start)
        if key == name:
            return text[start:end]
        index = _skip_space(text, end)
        if text[index] != ",":
            return None
        index += 1


def _unique_members(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys are all different: a second copy of a signed member could
    otherwise be read instead of the one whose signature was checked."""
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member in a JSON object")
    return members


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _field(form: Mapping[str, str], name: str) -> str:
    value = form.get(name) or ""
    if not isinstance(value, str) or len(value) > MAX_FIELD:
        raise ForgedNotification(f"bad {name}")
    return value


@dataclass
class AlipayClient:
    """Our side of the Alipay protocol for one merchant app."""

    app_id: str
    private_key: rsa.RSAPrivateKey
    gateway_public_key: rsa.RSAPublicKey
    gateway_url: str
    transport: Transport = field(default=post_form)
    # Our merchant's Alipay user id (2088…); when set, notifications must name it as seller_id.
    seller_id: str = ""

    def signed(self, method: str, biz: dict, now: datetime | None = None, **extra: str) -> dict:
        """The common parameters of a request to `method` with `biz` as its biz_content, signed."""
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": beijing_time(now or datetime.now(UTC)),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **{k: v for k, v in extra.items() if v},
        }
        params["sign"] = rsa2_sign(sign_content(params), self.private_key)
        return params

    def pay_url(
        self,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        return_url: str,
        mobile: bool = False,
        now: datetime | None = None,
    ) -> str:
        """The gateway URL that shows the customer the pay page (wap on phones) for our trade."""
        method, product_code = WAP_PAY if mobile else PAGE_PAY
        biz = {
            "out_trade_no": out_trade_no,
            "total_amount": fen_to_amount(amount_fen),
            "subject": subject,
            "product_code": product_code,
        }
        params = self.signed(method, biz, now, notify_url=notify_url, return_url=return_url)
        return f"{self.gateway_url}?{urlencode(params)}"

    def verify_notification(
        self, form: Mapping[str, str], now: datetime | None = None
    ) -> Notification:
        """Check an asynchronous notification; raise ForgedNotification unless it is genuine,
        ours, for a valid amount and recent."""
        params = {name: _field(form, name) for name in form}
        signature = params.get("sign", "")
        if not signature:
            raise ForgedNotification("missing signature")
        if params.get("sign_type", "RSA2") != "RSA2":
            raise ForgedNotification("unsupported sign_type")
        content = sign_content(params, exclude=("sign", "sign_type"))
        if not rsa2_verify(content, signature, self.gateway_public_key):
            raise ForgedNotification("bad signature")
        if params.get("app_id") != self.app_id:
            raise ForgedNotification("wrong app_id")
        if self.seller_id and params.get("seller_id") != self.seller_id:
            raise ForgedNotification("wrong seller_id")
        try:
            amount_fen = amount_to_fen(params.get("total_amount", ""))
            notify_time = parse_beijing_time(params.get("notify_time", ""))
        except ValueError as err:
            raise ForgedNotification(f"malformed: {err}") from None
        now = now or datetime.now(UTC)
        if notify_time < now - MAX_NOTIFICATION_AGE or notify_time > now + MAX_CLOCK_SKEW:
            raise ForgedNotification("stale notify_time")
        if not params.get("out_trade_no") or not params.get("trade_no"):
            raise ForgedNotification("missing trade numbers")
        return Notification(
            out_trade_no=params["out_trade_no"],
            trade_no=params["trade_no"],
            trade_status=params.get("trade_status", ""),
            amount_fen=amount_fen,
            notify_id=params.get("notify_id", ""),
            notify_time=notify_time,
        )

    def query(self, out_trade_no: str, now: datetime | None = None) -> TradeStatus | None:
        """Ask the gateway about our trade: its status, or None when it has no such trade.

        Raises GatewayError when the gateway cannot be reached, answers an error or its
        answer's signature does not verify."""
        params = self.signed(QUERY, {"out_trade_no": out_trade_no}, now)
        try:
            text = self.transport(f"{self.gateway_url}?charset=utf-8", params)
            document = json.loads(text, object_pairs_hook=_unique_members)
            raw = raw_json_member(text, QUERY_RESPONSE)
        except (OSError, ValueError, IndexError) as err:
            raise GatewayError(f"query failed: {err}") from err
        if raw is None or not isinstance(document, dict):
            raise GatewayError("no query response in the answer")
        signature = document.get("sign")
        if not isinstance(signature, str) or not rsa2_verify(
            raw, signature, self.gateway_public_key
        ):
            raise GatewayError("query response signature does not verify")
        answer = document[QUERY_RESPONSE]
        if not isinstance(answer, dict):
            raise GatewayError("malformed query response")
        if answer.get("code") != "10000":
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None
            raise GatewayError(f"query refused: {answer.get('code')} {answer.get('sub_code')}")
        if answer.get("out_trade_no") != out_trade_no:
            raise GatewayError("query answered about another trade")
        try:
            amount_fen = amount_to_fen(answer.get("total_amount", ""))
        except ValueError as err:
            raise GatewayError(str(err)) from None
        if not isinstance(answer.get("trade_no"), str) or not answer["trade_no"]:
            raise GatewayError("query answer without a trade number")
        return TradeStatus(
            out_trade_no=out_trade_no,
            trade_no=str(answer.get("trade_no") or ""),
            trade_status=str(answer.get("trade_status") or ""),
            amount_fen=amount_fen,
        )
