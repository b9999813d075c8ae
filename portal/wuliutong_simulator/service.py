"""The simulator's side of the 物流通 account check: it refuses requests that are not signed
with the shared secret, dated within five minutes or whose nonce was already used, checks the
demo accounts' passwords and signs its verdict (see portal/gateways/wuliutong.py).

Used nonces are kept in memory, per process: enough for a stand-in.
"""

import hmac
import json
import threading
import time
from collections.abc import Mapping

from flask import current_app

from portal.gateways import wuliutong
from portal.gateways.wuliutong import Answer
from portal.wuliutong_simulator.accounts import DEMO_ACCOUNTS, DemoAccount

SIMULATOR_CLIENT_ID = "jiyun-portal-dev"
SIMULATOR_SECRET = "wuliutong-simulator-shared-secret"  # noqa: S105 (a stand-in's known secret)
_nonce_lock = threading.Lock()


def is_down() -> bool:
    """The test switch: the simulator does not answer at all."""
    return bool(current_app.config.get("WULIUTONG_SIMULATOR_DOWN"))


def _refusal(status: int, error: str) -> Answer:
    body = json.dumps({"error": error}).encode()
    return Answer(status, {"Content-Type": "application/json"}, body)


def _claim_nonce(nonce: str, now: float) -> bool:
    """Record a nonce; False when it was seen within the last two skew windows."""
    with _nonce_lock:
        seen: dict[str, float] = current_app.extensions.setdefault("wuliutong_simulator_nonces", {})
        for old in [n for n, expires in seen.items() if expires < now]:
            del seen[old]
        if nonce in seen:
            return False
        seen[nonce] = now + 2 * wuliutong.MAX_CLOCK_SKEW_SECONDS
        return True


def _verdict(account: DemoAccount | None, password: str) -> dict:
    if account is None or not hmac.compare_digest(account.password.encode(), password.encode()):
        return {"result": wuliutong.WRONG_CREDENTIALS}
    if account.disabled:
        return {"result": wuliutong.DISABLED}
    return {
        "result": wuliutong.VERIFIED,
        "account": {
            "id": account.account_id,
            "display_name": account.display_name,
            "phone": account.phone,
            "phone_verified": account.phone_verified,
        },
    }


def signed_answer(document: dict, nonce: str, now: float) -> Answer:
    """A 200 answer carrying `document`, signed for the request with `nonce`."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(now))
    canonical = wuliutong.canonical_string(
        wuliutong.RESPONSE_METHOD,
        wuliutong.VERIFY_PATH,
        SIMULATOR_CLIENT_ID,
        timestamp,
        nonce,
        body,
    )
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        wuliutong.TIMESTAMP_HEADER: timestamp,
        wuliutong.NONCE_HEADER: nonce,
        wuliutong.SIGNATURE_HEADER: wuliutong.sign(SIMULATOR_SECRET, canonical),
    }
    return Answer(200, headers, body)


def answer_verify(body: bytes, headers: Mapping[str, str], now: float | None = None) -> Answer:
    """Answer a verify request: 401 for a bad client, signature, date or nonce, 400 for a
    malformed body, else a signed verdict."""
    now = time.time() if now is None else now

    def read(name: str) -> str:
        return wuliutong.header(headers, name) or ""

    timestamp, nonce = read(wuliutong.TIMESTAMP_HEADER), read(wuliutong.NONCE_HEADER)
    if read(wuliutong.CLIENT_ID_HEADER) != SIMULATOR_CLIENT_ID:
        return _refusal(401, "unknown_client")
    canonical = wuliutong.canonical_string(
        "POST", wuliutong.VERIFY_PATH, SIMULATOR_CLIENT_ID, timestamp, nonce, body
    )
    if not wuliutong.signature_holds(SIMULATOR_SECRET, canonical, read(wuliutong.SIGNATURE_HEADER)):
        return _refusal(401, "bad_signature")
    if not wuliutong.is_fresh(timestamp, now):
        return _refusal(401, "stale_timestamp")
    if not 16 <= len(nonce) <= 64 or not _claim_nonce(nonce, now):
        return _refusal(401, "reused_nonce")
    try:
        request = wuliutong.strict_json(body)
        name, password = request["account"], request["password"]
        if not isinstance(name, str) or not isinstance(password, str):
            raise TypeError("account and password must be strings")
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        return _refusal(400, "malformed_request")
    return signed_answer(_verdict(DEMO_ACCOUNTS.get(name.strip()), password), nonce, now)


def in_process_transport(
    _url: str, body: bytes, headers: Mapping[str, str], _timeout: float
) -> Answer:
    """Answer the portal's call without HTTP; a timeout while the test switch is on."""
    if is_down():
        raise TimeoutError("the 物流通 simulator is switched off (WULIUTONG_SIMULATOR_DOWN)")
    return answer_verify(body, headers)
