"""The 物流通 sister system's account check, a signed server-to-server call (no Flask in here:
the base URL, client id, shared secret, timeout and transport are passed in).

- Request: `POST {base}/api/v1/accounts/verify` with the JSON body `{"account", "password"}`
  and the headers X-Wlt-Client-Id, X-Wlt-Timestamp (Unix seconds), X-Wlt-Nonce (random, never
  reused) and X-Wlt-Signature: the lower-case hex HMAC-SHA256, keyed with the shared secret, of

      POST\\n/api/v1/accounts/verify\\n<client id>\\n<timestamp>\\n<nonce>\\n<hex SHA-256 of body>

  (the path is the API path, without any prefix of the base URL).
- Answer: status 200 with a JSON body `{"result": "verified" | "wrong_credentials" | "disabled",
  "account": {"id", "display_name", "phone", "phone_verified"}}`, signed the same way with
  `RESPONSE` in place of the method, the answer's own X-Wlt-Timestamp and *our request's* nonce
  echoed in X-Wlt-Nonce, so an earlier answer cannot be replayed for this request.
Anything else (timeout, connection error, 5xx, a missing or bad signature, a stale timestamp,
malformed JSON) raises SisterUnavailable; ForgedAnswer is the subset that looks like an attack.
"""

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

VERIFY_PATH = "/api/v1/accounts/verify"
RESPONSE_METHOD = "RESPONSE"
CLIENT_ID_HEADER = "X-Wlt-Client-Id"
TIMESTAMP_HEADER = "X-Wlt-Timestamp"
NONCE_HEADER = "X-Wlt-Nonce"
SIGNATURE_HEADER = "X-Wlt-Signature"
# Either side refuses a message dated further than this from its own clock.
MAX_CLOCK_SKEW_SECONDS = 300
MAX_ANSWER_BYTES = 64 * 1024
MAX_FIELD = 128

VERIFIED = "verified"
WRONG_CREDENTIALS = "wrong_credentials"
DISABLED = "disabled"
OUTCOMES = (VERIFIED, WRONG_CREDENTIALS, DISABLED)


@dataclass(frozen=True)
class Answer:
    """What came back over the wire."""

    status: int
    headers: Mapping[str, str]
    body: bytes


# (url, body, headers, timeout seconds) -> Answer; raises OSError (TimeoutError included) when
# the sister system cannot be reached.
Transport = Callable[[str, bytes, Mapping[str, str], float], Answer]


class SisterUnavailable(Exception):
    """物流通 did not give an answer we can use; `reason` says why (for the log)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ForgedAnswer(SisterUnavailable):
    """An answer whose signature, timestamp or nonce does not hold: possibly an attack."""


@dataclass(frozen=True)
class SisterAccount:
    """A 物流通 account as the sister system describes it after checking its password."""

    account_id: str
    display_name: str
    phone: str | None
    phone_verified: bool


@dataclass(frozen=True)
class Verdict:
    """The sister system's answer: VERIFIED (with the account), WRONG_CREDENTIALS or DISABLED."""

    outcome: str
    account: SisterAccount | None = None


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_string(
    method: str, path: str, client_id: str, timestamp: str, nonce: str, body: bytes
) -> str:
    """The text either side signs: one item a line, the body as its SHA-256."""
    return "\n".join((method, path, client_id, timestamp, nonce, body_digest(body)))


def sign(secret: str, canonical: str) -> str:
    """Lower-case hex HMAC-SHA256 of the canonical string under the shared secret."""
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def signature_holds(secret: str, canonical: str, signature: str | None) -> bool:
    if not isinstance(signature, str) or not signature.isascii():
        return False
    return hmac.compare_digest(sign(secret, canonical), signature.lower())


def is_fresh(timestamp: str | None, now: float, skew: int = MAX_CLOCK_SKEW_SECONDS) -> bool:
    """Whether a Unix-seconds timestamp (digits only) lies within `skew` of `now`."""
    if not isinstance(timestamp, str) or not timestamp.isascii() or not timestamp.isdigit():
        return False
    return len(timestamp) <= 12 and abs(int(timestamp) - now) <= skew


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def strict_json(body: bytes) -> object:
    """Parse UTF-8 JSON, refusing duplicate members (a second copy could hide the first)."""

    def unique(pairs: list[tuple[str, object]]) -> dict:
        members = dict(pairs)
        if len(members) != len(pairs):
            raise ValueError("duplicate member in a JSON object")
        return members

    return json.loads(body.decode("utf-8"), object_pairs_hook=unique)


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """The default transport: an HTTPS POST; error statuses are answers, not exceptions."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            return Answer(reply.status, dict(reply.headers), reply.read(MAX_ANSWER_BYTES + 1))
    except urllib.error.HTTPError as err:
        return Answer(err.code, dict(err.headers or {}), err.read(MAX_ANSWER_BYTES + 1))


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError("not a short string")
    return value


def _account(document: dict) -> SisterAccount:
    data = document.get("account")
    if not isinstance(data, dict):
        raise ValueError("no account in a verified answer")
    account_id = _text(data.get("id"), MAX_FIELD)
    if not account_id.strip():
        raise ValueError("empty account id")
    phone = data.get("phone")
    phone_verified = data.get("phone_verified", False)
    if phone is not None:
        phone = _text(phone, 32) or None
    if not isinstance(phone_verified, bool):
        raise ValueError("phone_verified is not a boolean")
    return SisterAccount(
        account_id=account_id,
        display_name=_text(data.get("display_name", ""), 256)[:64],
        phone=phone,
        phone_verified=phone_verified and phone is not None,
    )


@dataclass
class WuliutongClient:
    """Our side of the 物流通 account check for one client id."""

    base_url: str
    client_id: str
    secret: str
    timeout_seconds: float = 5
    transport: Transport = field(default=post_json)
    clock: Callable[[], float] = field(default=time.time)

    def signed_request(self, account: str, password: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a verify request, dated now with a fresh nonce."""
        body = json.dumps(
            {"account": account, "password": password}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(16)
        canonical = canonical_string("POST", VERIFY_PATH, self.client_id, timestamp, nonce, body)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            CLIENT_ID_HEADER: self.client_id,
            TIMESTAMP_HEADER: timestamp,
            NONCE_HEADER: nonce,
            SIGNATURE_HEADER: sign(self.secret, canonical),
        }
        return body, headers

    def verify(self, account: str, password: str) -> Verdict:
        """Ask 物流通 whether the account and password are right; SisterUnavailable otherwise."""
        body, headers = self.signed_request(account, password)
        url = self.base_url.rstrip("/") + VERIFY_PATH
        try:
            answer = self.transport(url, body, headers, self.timeout_seconds)
        except OSError as err:
            raise SisterUnavailable(f"no answer: {err.__class__.__name__}: {err}") from err
        return self.read_answer(answer, headers[NONCE_HEADER])

    def read_answer(self, answer: Answer, nonce: str) -> Verdict:
        """Check an answer's status, signature, date and nonce, then read its verdict."""
        if answer.status != 200:
            raise SisterUnavailable(f"status {answer.status}")
        if len(answer.body) > MAX_ANSWER_BYTES:
            raise SisterUnavailable("answer too long")
        timestamp = header(answer.headers, TIMESTAMP_HEADER)
        canonical = canonical_string(
            RESPONSE_METHOD, VERIFY_PATH, self.client_id, timestamp or "", nonce, answer.body
        )
        if not signature_holds(self.secret, canonical, header(answer.headers, SIGNATURE_HEADER)):
            raise ForgedAnswer("bad or missing answer signature")
        if header(answer.headers, NONCE_HEADER) != nonce:
            raise ForgedAnswer("answer for another request")
        if not is_fresh(timestamp, self.clock()):
            raise ForgedAnswer("stale answer timestamp")
        try:
            document = strict_json(answer.body)
            if not isinstance(document, dict) or document.get("result") not in OUTCOMES:
                raise ValueError("unknown result")
            if document["result"] != VERIFIED:
                return Verdict(document["result"])
            return Verdict(VERIFIED, _account(document))
        except (ValueError, UnicodeDecodeError) as err:
            raise SisterUnavailable(f"malformed answer: {err}") from None
