"""The 物流通 account check on its own: HMAC signing both ways, the stand-in's refusals and the
client's refusal of answers it cannot trust (an app without a database, for current_app)."""

import hashlib
import hmac
import json
import socket
import time
from dataclasses import replace

import pytest

from portal import create_app
from portal.gateways import wuliutong
from portal.gateways.wuliutong import (
    Answer,
    ForgedAnswer,
    SisterUnavailable,
    Verdict,
    WuliutongClient,
)
from portal.gateways.wuliutong_config import wuliutong_client
from portal.wuliutong_simulator import service
from portal.wuliutong_simulator.accounts import DEMO_ACCOUNTS

NOW = 1_796_000_000.0


@pytest.fixture(scope="module")
def sim_app():
    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, testing=True)


@pytest.fixture
def ctx(sim_app):
    with sim_app.test_request_context():
        yield sim_app
    sim_app.config["WULIUTONG_SIMULATOR_DOWN"] = False


def client(transport, clock=lambda: NOW) -> WuliutongClient:
    return WuliutongClient(
        base_url="https://wlt.example.com/sso/",
        client_id=service.SIMULATOR_CLIENT_ID,
        secret=service.SIMULATOR_SECRET,
        transport=transport,
        clock=clock,
    )


def stand_in(url, body, headers, timeout):
    """The simulator answering at NOW (so the answers are as fresh as the requests)."""
    return service.answer_verify(body, headers, now=NOW)


def test_signing_is_deterministic_and_covers_every_part():
    parts = ("POST", "/api/v1/accounts/verify", "client", "1796000000", "nonce-1", b'{"a":1}')
    canonical = wuliutong.canonical_string(*parts)
    digest = hashlib.sha256(b'{"a":1}').hexdigest()
    assert canonical == "POST\n/api/v1/accounts/verify\nclient\n1796000000\nnonce-1\n" + digest
    expected = hmac.new(b"secret", canonical.encode(), hashlib.sha256).hexdigest()
    assert wuliutong.sign("secret", canonical) == expected == wuliutong.sign("secret", canonical)
    assert wuliutong.signature_holds("secret", canonical, expected.upper())
    assert not wuliutong.signature_holds("other secret", canonical, expected)
    for index in range(len(parts)):
        changed = list(parts)
        changed[index] = changed[index] + (b" " if index == 5 else " ")
        assert wuliutong.sign("secret", wuliutong.canonical_string(*changed)) != expected


def test_the_stand_in_accepts_our_requests_and_the_client_its_answers(ctx):
    sent = []

    def recording(url, body, headers, timeout):
        sent.append((url, body, headers, timeout))
        return stand_in(url, body, headers, timeout)

    verdict = client(recording).verify("wlt-demo", "wlt-demo-2026")
    demo = DEMO_ACCOUNTS["wlt-demo"]
    assert verdict.outcome == wuliutong.VERIFIED
    assert verdict.account == wuliutong.SisterAccount(
        demo.account_id, demo.display_name, demo.phone, True
    )
    url, body, headers, timeout = sent[0]
    assert url == "https://wlt.example.com/sso/api/v1/accounts/verify"
    assert json.loads(body) == {"account": "wlt-demo", "password": "wlt-demo-2026"}
    assert headers[wuliutong.TIMESTAMP_HEADER] == str(int(NOW)) and timeout == 5
    assert client(stand_in).verify("wlt-demo", "wrong") == Verdict(wuliutong.WRONG_CREDENTIALS)
    assert client(stand_in).verify("nobody", "x") == Verdict(wuliutong.WRONG_CREDENTIALS)
    assert client(stand_in).verify("wlt-disabled", "wlt-disabled-2026") == Verdict(
        wuliutong.DISABLED
    )
    # Two requests never share a nonce.
    assert (
        client(stand_in).signed_request("a", "b")[1][wuliutong.NONCE_HEADER]
        != (client(stand_in).signed_request("a", "b")[1][wuliutong.NONCE_HEADER])
    )


def _tamper(body: bytes, headers: dict, change: str) -> tuple[bytes, dict]:
    headers = dict(headers)
    if change == "body":
        body = body.replace(b"wrong", b"wlt-demo-2026")
    elif change == "signature":
        headers[wuliutong.SIGNATURE_HEADER] = "0" * 64
    elif change == "no signature":
        del headers[wuliutong.SIGNATURE_HEADER]
    elif change == "client id":
        headers[wuliutong.CLIENT_ID_HEADER] = "someone-else"
    return body, headers


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("body", "bad_signature"),
        ("signature", "bad_signature"),
        ("no signature", "bad_signature"),
        ("client id", "unknown_client"),
        ("stale", "stale_timestamp"),
        ("future", "stale_timestamp"),
        ("reused nonce", "reused_nonce"),
    ],
)
def test_the_stand_in_refuses_tampered_stale_or_replayed_requests(ctx, change, error):
    clock = {"stale": NOW - 301, "future": NOW + 301}.get(change, NOW)
    body, headers = client(stand_in, clock=lambda: clock).signed_request("wlt-demo", "wrong")
    if change == "reused nonce":
        assert service.answer_verify(body, headers, now=NOW).status == 200
    body, headers = _tamper(body, headers, change)
    answer = service.answer_verify(body, headers, now=NOW)
    assert answer.status == 401
    assert json.loads(answer.body) == {"error": error}


def _forged(change: str):
    """A transport answering like the stand-in, then altering the answer as `change` says."""

    def transport(url, body, headers, timeout):
        answer = stand_in(url, body, headers, timeout)
        new_headers = dict(answer.headers)
        if change == "body":
            return replace(answer, body=answer.body.replace(b"wrong_credentials", b"verified"))
        if change == "no signature":
            del new_headers[wuliutong.SIGNATURE_HEADER]
        elif change in ("stale", "other secret", "replayed"):
            # Properly shaped, but dated long ago, signed with a guessed secret, or the answer
            # to another request (its nonce).
            nonce = "f" * 32 if change == "replayed" else headers[wuliutong.NONCE_HEADER]
            document = {"result": "verified", "account": {"id": "WLT-1", "display_name": "x"}}
            signed = service.signed_answer(document, nonce, NOW - 301 if change == "stale" else NOW)
            if change == "other secret":
                signed.headers[wuliutong.SIGNATURE_HEADER] = wuliutong.sign("guess", "anything")
            return signed
        return replace(answer, headers=new_headers)

    return transport


@pytest.mark.parametrize("change", ["body", "no signature", "stale", "other secret", "replayed"])
def test_the_client_refuses_forged_answers(ctx, change):
    with pytest.raises(ForgedAnswer):
        client(_forged(change)).verify("wlt-demo", "wrong")


@pytest.mark.parametrize(
    "answer",
    [
        Answer(500, {}, b"oops"),
        Answer(503, {}, b""),
        Answer(401, {}, b'{"error": "bad_signature"}'),
        "malformed json",
        "unknown result",
        "duplicate member",
    ],
)
def test_errors_and_malformed_signed_answers_are_unavailable_not_forged(ctx, answer):
    def transport(url, body, headers, timeout):
        if isinstance(answer, Answer):
            return answer
        text = {
            "malformed json": b'{"result": ',
            "unknown result": b'{"result": "maybe"}',
            "duplicate member": b'{"result": "disabled", "result": "verified"}',
        }[answer]
        signed = service.signed_answer({}, headers[wuliutong.NONCE_HEADER], NOW)
        canonical = wuliutong.canonical_string(
            wuliutong.RESPONSE_METHOD,
            wuliutong.VERIFY_PATH,
            service.SIMULATOR_CLIENT_ID,
            str(int(NOW)),
            headers[wuliutong.NONCE_HEADER],
            text,
        )
        signed.headers[wuliutong.SIGNATURE_HEADER] = wuliutong.sign(
            service.SIMULATOR_SECRET, canonical
        )
        return replace(signed, body=text)

    with pytest.raises(SisterUnavailable) as raised:
        client(transport).verify("wlt-demo", "wlt-demo-2026")
    assert not isinstance(raised.value, ForgedAnswer)


def test_timeouts_and_connection_errors_are_unavailable(ctx):
    # A server that accepts the connection but never answers: the real transport times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        slow = WuliutongClient(f"http://127.0.0.1:{port}", "c", "s", timeout_seconds=0.2)
        with pytest.raises(SisterUnavailable, match="no answer"):
            slow.verify("wlt-demo", "wlt-demo-2026")
    refused = WuliutongClient(f"http://127.0.0.1:{port}", "c", "s", timeout_seconds=1)
    with pytest.raises(SisterUnavailable, match="no answer"):
        refused.verify("wlt-demo", "wlt-demo-2026")
    # The simulator's test switch.
    ctx.config["WULIUTONG_SIMULATOR_DOWN"] = True
    with pytest.raises(SisterUnavailable, match="TimeoutError"):
        wuliutong_client().verify("wlt-demo", "wlt-demo-2026")


def test_the_stand_ins_http_api_answers_a_signed_call(sim_app):
    http = sim_app.test_client()
    verifier = client(stand_in, clock=time.time)
    body, headers = verifier.signed_request("wlt-second", "wlt-second-2026")
    response = http.post("/wuliutong-simulator" + wuliutong.VERIFY_PATH, data=body, headers=headers)
    assert response.status_code == 200
    answer = Answer(response.status_code, dict(response.headers), response.get_data())
    verdict = verifier.read_answer(answer, headers[wuliutong.NONCE_HEADER])
    assert verdict.account.account_id == DEMO_ACCOUNTS["wlt-second"].account_id
    assert not verdict.account.phone_verified
    again = http.post("/wuliutong-simulator" + wuliutong.VERIFY_PATH, data=body, headers=headers)
    assert again.status_code == 401
