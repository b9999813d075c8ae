"""The Alipay protocol client on its own (no app, no database): signing, verifying, amounts."""

import base64
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from portal.gateways import alipay
from portal.gateways.alipay import AlipayClient, ForgedNotification, GatewayError

APP_ID = "2021000000000042"
NOW = datetime(2026, 11, 30, 4, 5, 6, tzinfo=UTC)  # 12:05:06 in Beijing


@cache
def key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per name for this process: ours, the gateway's, a stranger's."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def client(transport=None) -> AlipayClient:
    return AlipayClient(
        app_id=APP_ID,
        private_key=key("merchant"),
        gateway_public_key=key("gateway").public_key(),
        gateway_url="https://openapi.example.com/gateway.do",
        transport=transport or alipay.post_form,
    )


def notification(signer: str = "gateway", **changes) -> dict[str, str]:
    """A notification as Alipay posts it, signed (without sign and sign_type) by `signer`."""
    params = {
        "notify_time": alipay.beijing_time(NOW),
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026113022001400001234567890",
        "out_trade_no": "CZ261130ABCDEFGH",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.00",
        "subject": "钱包充值",
        "buyer_id": "2088102122524333",
        **changes,
    }
    content = alipay.sign_content(params, exclude=("sign", "sign_type"))
    params["sign"] = alipay.rsa2_sign(content, key(signer))
    return params


def test_the_string_to_sign_is_sorted_without_empty_values_or_the_signature():
    params = {"b": "2", "a": "1", "sign": "x", "c": "", "sign_type": "RSA2", "biz_content": "{}"}
    assert alipay.sign_content(params) == "a=1&b=2&biz_content={}&sign_type=RSA2"
    assert alipay.sign_content(params, exclude=("sign", "sign_type")) == "a=1&b=2&biz_content={}"


def test_a_signature_verifies_with_the_right_key_only():
    signature = alipay.rsa2_sign("a=1&b=中文", key("merchant"))
    assert len(base64.b64decode(signature)) == 256  # RSA-2048
    assert alipay.rsa2_verify("a=1&b=中文", signature, key("merchant").public_key())
    assert not alipay.rsa2_verify("a=1&b=中文 ", signature, key("merchant").public_key())
    assert not alipay.rsa2_verify("a=1&b=中文", signature, key("stranger").public_key())
    for garbage in ("", "not base64!", "AAAA", "\x00", "签名"):
        assert not alipay.rsa2_verify("a=1", garbage, key("merchant").public_key())


@pytest.mark.parametrize(
    ("mobile", "method", "product_code"),
    [
        (False, "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
        (True, "alipay.trade.wap.pay", "QUICK_WAP_WAY"),
    ],
)
def test_the_pay_request_is_signed_with_every_common_parameter(mobile, method, product_code):
    url = client().pay_url(
        "CZ261130ABCDEFGH",
        1234,
        "钱包充值",
        "https://p.example/notify",
        "https://p.example/r",
        mobile=mobile,
        now=NOW,
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://openapi.example.com/gateway.do"
    )
    params = dict(parse_qsl(parts.query))
    assert params["app_id"] == APP_ID
    assert params["method"] == method
    assert (params["format"], params["charset"], params["sign_type"]) == ("JSON", "utf-8", "RSA2")
    assert params["timestamp"] == "2026-11-30 12:05:06"
    assert params["version"] == "1.0"
    assert params["notify_url"] == "https://p.example/notify"
    assert params["return_url"] == "https://p.example/r"
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": "CZ261130ABCDEFGH",
        "total_amount": "12.34",
        "subject": "钱包充值",
        "product_code": product_code,
    }
    # The request's signature covers sign_type (only a notification's leaves it out).
    content = alipay.sign_content(params)
    assert "sign_type=RSA2" in content
    assert alipay.rsa2_verify(content, params["sign"], key("merchant").public_key())


def test_a_genuine_notification_is_read():
    read = client().verify_notification(notification(), now=NOW + timedelta(minutes=1))
    assert read.paid
    assert (read.out_trade_no, read.trade_no) == ("CZ261130ABCDEFGH", notification()["trade_no"])
    assert read.amount_fen == 8800
    assert read.notify_time == NOW


def test_the_sign_type_is_not_part_of_a_notifications_signature():
    params = notification()
    params.pop("sign_type")
    assert client().verify_notification(params, now=NOW).amount_fen == 8800


def test_an_unpaid_status_is_genuine_but_not_paid():
    read = client().verify_notification(notification(trade_status="WAIT_BUYER_PAY"), now=NOW)
    assert not read.paid


@pytest.mark.parametrize(
    "field", ["total_amount", "out_trade_no", "trade_no", "app_id", "trade_status", "notify_time"]
)
def test_a_notification_changed_after_signing_is_forged(field):
    params = notification()
    params[field] = params[field][:-1] + ("1" if params[field][-1] != "1" else "2")
    with pytest.raises(ForgedNotification, match="bad signature"):
        client().verify_notification(params, now=NOW)


def test_an_added_field_breaks_the_signature():
    params = {**notification(), "refund_fee": "88.00"}
    with pytest.raises(ForgedNotification, match="bad signature"):
        client().verify_notification(params, now=NOW)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({k: v for k, v in notification().items() if k != "sign"}, "missing signature"),
        ({**notification(), "sign": ""}, "missing signature"),
        ({**notification(), "sign": "Zm9yZ2Vk"}, "bad signature"),
        ({**notification(), "sign_type": "RSA"}, "unsupported sign_type"),
        (notification(signer="stranger"), "bad signature"),
        (notification(signer="merchant"), "bad signature"),
        (notification(app_id="2021000000000043"), "wrong app_id"),
        (notification(total_amount="88.001"), "malformed"),
        (notification(total_amount="1e3"), "malformed"),
        (notification(total_amount="-1.00"), "malformed"),
        (notification(total_amount="８８"), "malformed"),
        (notification(notify_time="2026-11-30T12:05:06"), "malformed"),
        (notification(notify_time=alipay.beijing_time(NOW - timedelta(days=3))), "stale"),
        (notification(notify_time=alipay.beijing_time(NOW + timedelta(minutes=11))), "stale"),
        (notification(trade_no=""), "missing trade numbers"),
        ({**notification(), "subject": "x" * 5000}, "bad subject"),
    ],
    ids=[
        "no-sign",
        "empty-sign",
        "bad-sign",
        "rsa1",
        "stranger-key",
        "merchant-key",
        "wrong-app",
        "three-decimals",
        "exponent",
        "negative",
        "full-width",
        "iso-time",
        "stale",
        "future",
        "no-trade-no",
        "huge-field",
    ],
)
def test_forged_notifications_are_refused_with_a_reason(params, reason):
    with pytest.raises(ForgedNotification) as refused:
        client().verify_notification(params, now=NOW)
    assert refused.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("0.01", 1), ("12.34", 1234), ("12.3", 1230), ("12", 1200), ("100000.00", 10_000_000)],
)
def test_gateway_amounts_are_read_exactly(text, fen):
    assert alipay.amount_to_fen(text) == fen
    assert alipay.amount_to_fen(alipay.fen_to_amount(fen)) == fen


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 1.00",
        "1.00 ",
        "01.00",
        "1.001",
        "1,00",
        "1e2",
        "NaN",
        "Infinity",
        "-1",
        "+1",
        ".5",
        "1.",
        "１",
        "1" * 13,
        None,
        12,
    ],
)
def test_anything_else_is_not_an_amount(text):
    with pytest.raises(ValueError):
        alipay.amount_to_fen(text)


def test_fen_are_written_with_two_decimals():
    assert [alipay.fen_to_amount(f) for f in (0, 1, 10, 1234, 500_000_000)] == [
        "0.00",
        "0.01",
        "0.10",
        "12.34",
        "5000000.00",
    ]


def query_answer(
    inner: str, signer: str = "gateway", layout: str = '{{"{name}":{inner},"sign":"{sign}"}}'
):
    signature = alipay.rsa2_sign(inner, key(signer))
    return layout.format(name=alipay.QUERY_RESPONSE, inner=inner, sign=signature)


PAID = (
    '{"code":"10000","msg":"Success","trade_no":"2026113022001","out_trade_no":"CZ1",'
    '"trade_status":"TRADE_SUCCESS","total_amount":"88.00"}'
)


def test_the_query_is_a_signed_server_to_server_post():
    sent = []

    def transport(url, form):
        sent.append((url, form))
        return query_answer(PAID)

    trade = client(transport).query("CZ1", now=NOW)
    assert (trade.trade_no, trade.trade_status, trade.amount_fen) == (
        "2026113022001",
        "TRADE_SUCCESS",
        8800,
    )
    assert trade.paid
    ((url, form),) = sent
    assert url.startswith("https://openapi.example.com/gateway.do")
    assert form["method"] == "alipay.trade.query"
    assert json.loads(form["biz_content"]) == {"out_trade_no": "CZ1"}
    assert alipay.rsa2_verify(alipay.sign_content(form), form["sign"], key("merchant").public_key())


def test_the_query_signature_covers_the_raw_response_text():
    """Alipay signs the text as sent: spacing and key order matter, re-serialising would not do."""
    spaced = PAID.replace(",", ", ").replace(":", ": ")
    answer = query_answer(spaced, layout='{{ "{name}" : {inner} ,\n "sign": "{sign}" }}')
    assert alipay.raw_json_member(answer, alipay.QUERY_RESPONSE) == spaced
    assert client(lambda *_: answer).query("CZ1", now=NOW).amount_fen == 8800


def test_an_answer_with_leading_space_is_read():
    assert client(lambda *_: "\n " + query_answer(PAID)).query("CZ1", now=NOW).paid


def test_the_response_member_is_found_after_other_members():
    text = '{"other": {"a": [1, {"b": "}"}]}, "alipay_trade_query_response": {"x": "y"}}'
    assert alipay.raw_json_member(text, alipay.QUERY_RESPONSE) == '{"x": "y"}'
    assert alipay.raw_json_member('{"a": 1}', alipay.QUERY_RESPONSE) is None


@pytest.mark.parametrize(
    "answer",
    [
        query_answer(PAID).replace("88.00", "99.00"),
        query_answer(PAID, signer="stranger"),
        query_answer(PAID).replace('"sign"', '"signature"'),
        query_answer(PAID.replace("CZ1", "CZ2")),
        query_answer('{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SYSTEM_ERROR"}'),
        query_answer(PAID.replace('"88.00"', '"8.8e1"')),
        "<html>gateway down</html>",
        '{"error_response": {"code": "20000"}}',
        "",
        # A genuinely signed unpaid answer, then a second unsigned member saying paid.
        query_answer(PAID.replace("TRADE_SUCCESS", "WAIT_BUYER_PAY"))[:-1]
        + f',"{alipay.QUERY_RESPONSE}":{PAID}}}',
        query_answer(PAID.replace('"trade_no":"2026113022001",', "")),
        "   ",
    ],
    ids=[
        "tampered",
        "stranger",
        "unsigned",
        "other-trade",
        "error",
        "bad-amount",
        "html",
        "no-member",
        "empty",
        "duplicate-member",
        "no-trade-number",
        "blank",
    ],
)
def test_a_query_answer_that_cannot_be_trusted_is_an_error(answer):
    with pytest.raises(GatewayError):
        client(lambda *_: answer).query("CZ1", now=NOW)


def test_an_unreachable_gateway_is_an_error():
    def down(*_):
        raise OSError("connection refused")

    with pytest.raises(GatewayError, match="connection refused"):
        client(down).query("CZ1", now=NOW)


def test_an_unknown_trade_is_none():
    missing = '{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST"}'
    assert client(lambda *_: query_answer(missing)).query("CZ1", now=NOW) is None


def test_keys_load_from_pem_and_from_the_bare_base64_alipay_prints():
    private = key("merchant")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pkcs1 = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bare = base64.b64encode(public_der)
    for data in (pem, pkcs1, b"".join(pem.splitlines()[1:-1])):
        assert alipay.load_private_key(data).private_numbers() == private.private_numbers()
    for data in (
        alipay.public_pem(private.public_key()),
        bare,
        b"\n" + bare[:40] + b"\n" + bare[40:],
    ):
        assert (
            alipay.load_public_key(data).public_numbers() == private.public_key().public_numbers()
        )
    with pytest.raises(ValueError):
        alipay.load_public_key(b"not a key")
