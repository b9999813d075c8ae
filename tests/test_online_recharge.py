"""Online recharge end to end through the gateway simulator: start, pay page, pay, notification,
credit exactly once; forged and replayed notifications; resending; reconciling by query."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import url_for
from sqlalchemy import func, select, update

from portal import create_app
from portal.extensions import db
from portal.gateway_simulator import service as simulator
from portal.gateway_simulator.service import SELLER_ID
from portal.gateways import alipay
from portal.gateways.config import SIMULATOR_APP_ID, gateway_client
from portal.models import AuditEntry, LedgerTransaction, Notification, Recharge, SecurityEvent, User
from portal.services import ledger, online_payments, recharges
from portal.services.images import StoredImage
from tests.conftest import run_together
from tests.helpers import BAD_AMOUNTS, HTMX, login, post, soup

NOTIFY = "/recharge/notify/alipay"
AMOUNT_FUZZ = [
    *BAD_AMOUNTS,
    "  ",
    "x" * 10_000,
    "1\x00",
    "1\x07",
    "50000.01",
    "¥10",
    "+10",
    "0x10",
]
BAD_NUMBERS = ["CZXXXXXXXX", "99999999999999999999999999999999", "CZ%00", "cz2611", "x" * 40]


def via(client):
    """A transport that delivers a form to a URL of this app through a test client."""

    def transport(url: str, form) -> str:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return client.post(path, data=dict(form)).get_data(as_text=True)

    return transport


def credits() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(LedgerTransaction.kind == "recharge")
    )


def balance(account) -> int:
    return ledger.balance_fen(db.session.get(User, account.id))


def events() -> list[SecurityEvent]:
    return list(db.session.scalars(select(SecurityEvent).order_by(SecurityEvent.id)))


def start(client, account, amount: str = "88.00", **headers):
    """Log in and start an online recharge: (recharge number, the gateway URL answered)."""
    login(client, account)
    response = post(client, "/recharge/online", {"amount": amount}, headers=headers)
    assert response.status_code == 303, response.status_code
    params = dict(parse_qsl(urlsplit(response.location).query))
    return json.loads(params["biz_content"])["out_trade_no"], response.location


def pay_at_simulator(client, gateway_url: str):
    """Open the simulator's pay page and press Pay; returns the redirect to our return page."""
    page = client.get(gateway_url)
    assert page.status_code == 200
    form = soup(page).find("form", id="simulator-form")
    fields = {i["name"]: i["value"] for i in form.find_all("input", type="hidden")}
    return client.post(form["action"], data={**fields, "action": "pay"})


def new_recharge(app, account, amount_fen: int = 8_800) -> str:
    with app.app_context():
        number = recharges.start_online(db.session.get(User, account.id), amount_fen).recharge_no
        db.session.commit()
    return number


def signed(app, number: str, key: rsa.RSAPrivateKey | None = None, **changes) -> dict:
    """A notification for recharge `number` as the simulator sends it, with `changes`, signed
    by `key` (the simulator's own by default)."""
    params = {
        "notify_time": alipay.beijing_time(datetime.now(UTC)),
        "notify_type": "trade_status_sync",
        "notify_id": "0123456789abcdef",
        "app_id": SIMULATOR_APP_ID,
        "seller_id": SELLER_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": f"T{number}",
        "out_trade_no": number,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.00",
        "subject": "recharge",
        **changes,
    }
    content = alipay.sign_content(params, exclude=("sign", "sign_type"))
    params["sign"] = alipay.rsa2_sign(content, key or simulator.simulator_key(app))
    return params


# ---------------------------------------------------------------------------------------------
# The whole journey
# ---------------------------------------------------------------------------------------------


def test_start_pay_notify_credits_once_and_the_wallet_shows_it(app, client, make_customer):
    account = make_customer()
    number, gateway_url = start(client, account)
    assert urlsplit(gateway_url).path == "/simulator/gateway.do"
    assert dict(parse_qsl(urlsplit(gateway_url).query))["method"] == "alipay.trade.page.pay"
    page = soup(client.get(gateway_url))
    assert page.find(attrs={"data-testid": "simulator-amount"})["data-fen"] == "8800"

    returned = pay_at_simulator(client, gateway_url)
    assert returned.status_code == 303
    back = urlsplit(returned.location)
    assert back.path == f"/recharge/online/{number}"
    assert dict(parse_qsl(back.query))["trade_no"]  # Alipay's signed return parameters
    waiting = soup(client.get(returned.location))
    status = waiting.find(id="online-status")
    assert status["data-status"] == "created"
    assert status["hx-trigger"] == "every 2s"
    with app.app_context():
        assert credits() == 0

        delivered = simulator.deliver_due(transport=via(app.test_client()))
        assert delivered == {"acknowledged": 1, "failed": 0}
        assert simulator.deliver_due(transport=via(app.test_client())) == {
            "acknowledged": 0,
            "failed": 0,
        }
        recharge = db.session.scalar(select(Recharge).where(Recharge.recharge_no == number))
        assert (recharge.status, recharge.amount_fen) == ("paid", 8_800)
        assert recharge.gateway_trade_no == dict(parse_qsl(back.query))["trade_no"]
        assert credits() == 1
        assert balance(account) == 8_800
        told = db.session.scalars(
            select(Notification.kind).where(Notification.user_id == account.id)
        )
        assert list(told) == ["recharge_paid"]
        assert events() == []

    fragment = client.get(f"/recharge/online/{number}", headers=HTMX)
    done = soup(fragment).find(id="online-status")
    assert soup(fragment).find("html") is None
    assert done["data-status"] == "paid"
    assert not done.has_attr("hx-trigger")  # polling stops
    assert (
        soup(fragment).find(attrs={"data-testid": "online-credited"}).strong["data-fen"] == "8800"
    )
    wallet = soup(client.get("/wallet/"))
    assert wallet.find(attrs={"data-testid": "balance"})["data-fen"] == "8800"


def test_a_phone_gets_the_wap_pay_request(client, make_customer):
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger"
    _, gateway_url = start(client, make_customer(), "12.50", **{"User-Agent": phone})
    params = dict(parse_qsl(urlsplit(gateway_url).query))
    assert params["method"] == "alipay.trade.wap.pay"
    assert '"QUICK_WAP_WAY"' in params["biz_content"]


def test_htmx_start_redirects_with_hx_redirect(client, make_customer):
    login(client, make_customer())
    response = post(client, "/recharge/online", {"amount": "10"}, htmx=True)
    assert response.status_code == 204
    assert urlsplit(response.headers["HX-Redirect"]).path == "/simulator/gateway.do"


def test_the_return_page_never_credits_even_with_forged_parameters(app, client, make_customer):
    account = make_customer()
    number, gateway_url = start(client, account)
    returned = pay_at_simulator(client, gateway_url)
    for _ in range(3):
        assert client.get(returned.location).status_code == 200
    forged = f"/recharge/online/{number}?trade_status=TRADE_SUCCESS&total_amount=88.00&sign=x"
    assert soup(client.get(forged)).find(id="online-status")["data-status"] == "created"
    with app.app_context():
        assert credits() == 0
        assert balance(account) == 0


def test_the_amount_is_prefilled_from_the_query_only_when_valid(client, make_customer):
    login(client, make_customer())
    page = soup(client.get("/recharge/online?amount=12.50"))
    assert page.find(id="amount")["value"] == "12.50"
    assert page.find(id="amount-error") is None
    for bad in ("12.555", "-1", "abc", "１０"):
        assert soup(client.get(f"/recharge/online?amount={bad}")).find(id="amount")["value"] == ""


@pytest.mark.parametrize("amount", AMOUNT_FUZZ, ids=range(len(AMOUNT_FUZZ)))
def test_bad_amounts_are_refused_beside_the_field_and_nothing_is_written(
    app, client, make_customer, amount
):
    login(client, make_customer())
    response = post(client, "/recharge/online", {"amount": amount})
    assert response.status_code == 422
    page = soup(response)
    assert page.find(id="amount")["aria-invalid"] == "true"
    assert page.find(id="amount-error").get_text(strip=True)
    fragment = post(client, "/recharge/online", {"amount": amount}, htmx=True)
    assert fragment.status_code == 422
    assert soup(fragment).find(id="online-form") is not None
    assert soup(fragment).find("html") is None
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Recharge)) == 0


def test_spaces_around_the_amount_are_trimmed(app, client, make_customer):
    number, _ = start(client, make_customer(), " 10 ")
    with app.app_context():
        assert (
            db.session.scalar(select(Recharge.amount_fen).where(Recharge.recharge_no == number))
            == 1000
        )


def test_the_online_page_asks_for_a_login(client):
    response = client.get("/recharge/online")
    assert response.status_code == 302
    assert "/auth/login" in response.location


def test_a_stranger_cannot_see_another_customers_online_recharge(app, client, make_customer):
    owner, stranger = make_customer(), make_customer()
    number = new_recharge(app, owner)
    login(client, stranger)
    assert client.get(f"/recharge/online/{number}").status_code == 404
    assert client.get(f"/recharge/online/{number}", headers=HTMX).status_code == 404
    for bad in BAD_NUMBERS:
        assert client.get(f"/recharge/online/{bad}").status_code == 404
    owners = app.test_client()
    login(owners, owner)
    assert owners.get(f"/recharge/online/{number}").status_code == 200


def test_a_reviewed_recharge_is_not_shown_as_online(app, client, make_customer):
    account = make_customer()
    with app.app_context():
        customer = db.session.get(User, account.id)
        stored = StoredImage("k", "t")
        recharge, _ = recharges.submit_for_review(customer, "bank_transfer", 100, stored, "tok")
        db.session.commit()
        number = recharge.recharge_no
    login(client, account)
    assert client.get(f"/recharge/online/{number}").status_code == 404


# ---------------------------------------------------------------------------------------------
# Notifications: replays, races, forgeries
# ---------------------------------------------------------------------------------------------


def test_a_valid_notification_replayed_ten_times_credits_once(app, make_customer):
    account = make_customer()
    number = new_recharge(app, account)
    form = signed(app, number)
    gateway = app.test_client()
    replies = [gateway.post(NOTIFY, data=form) for _ in range(10)]
    assert [(r.status_code, r.get_data(as_text=True)) for r in replies] == [(200, "success")] * 10
    assert replies[0].mimetype == "text/plain"
    with app.app_context():
        assert credits() == 1
        assert balance(account) == 8_800
        assert events() == []


def test_ten_notifications_at_once_credit_once_and_all_are_acknowledged(app, make_customer):
    account = make_customer()
    number = new_recharge(app, account)
    form = signed(app, number)

    def deliver(_i):
        reply = app.test_client().post(NOTIFY, data=form)
        return reply.status_code, reply.get_data(as_text=True)

    replies = run_together(app, 10, deliver)
    assert replies == [(200, "success")] * 10, replies
    with app.app_context():
        assert credits() == 1
        assert balance(account) == 8_800
        told = db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.user_id == account.id)
        )
        assert told == 1


def forged_cases(app, number: str) -> dict[str, dict]:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    valid = signed(app, number)
    now = datetime.now(UTC)
    return {
        "no signature": {k: v for k, v in valid.items() if k != "sign"},
        "bad signature": {**valid, "sign": valid["sign"][:-8] + "AAAAAAA="},
        "body changed after signing": {**valid, "total_amount": "8800.00"},
        "wrong amount, validly signed": signed(app, number, total_amount="8.80"),
        "wrong app_id, validly signed": signed(app, number, app_id="2021009999999999"),
        "wrong seller, validly signed": signed(app, number, seller_id="2088009999999999"),
        "unknown out_trade_no": signed(app, "CZ000000NOSUCH00", out_trade_no="CZ000000NOSUCH00"),
        "stale notify_time": signed(
            app, number, notify_time=alipay.beijing_time(now - timedelta(days=3))
        ),
        "signed with another key": signed(app, number, key=stranger),
    }


def test_a_flood_of_forged_notifications_is_refused_and_stored_at_most_twenty_a_minute(
    app, make_customer
):
    number = new_recharge(app, make_customer())
    forged = {**signed(app, number), "total_amount": "8800.00"}
    gateway = app.test_client()
    replies = {gateway.post(NOTIFY, data=forged).status_code for _ in range(25)}
    assert replies == {400}
    with app.app_context():
        assert (credits(), len(events())) == (0, 20)


def test_forged_notifications_credit_nothing_and_each_is_a_security_event(app, make_customer):
    account = make_customer()
    number = new_recharge(app, account)
    gateway = app.test_client()
    cases = forged_cases(app, number)
    for seen, (name, form) in enumerate(cases.items(), start=1):
        reply = gateway.post(NOTIFY, data=form)
        assert (reply.status_code, reply.get_data(as_text=True)) == (400, "failure"), name
        with app.app_context():
            assert credits() == 0, name
            assert len(events()) == seen, name
            db.session.remove()
    with app.app_context():
        kinds = [(e.kind, e.detail["reason"]) for e in events()]
        assert kinds == [
            ("payment_notification_forged", "missing signature"),
            ("payment_notification_forged", "bad signature"),
            ("payment_notification_forged", "bad signature"),
            ("payment_notification_refused", "amount differs"),
            ("payment_notification_forged", "wrong app_id"),
            ("payment_notification_forged", "wrong seller_id"),
            ("payment_notification_refused", "unknown recharge"),
            ("payment_notification_forged", "stale notify_time"),
            ("payment_notification_forged", "bad signature"),
        ]
        assert all(e.remote_addr == "127.0.0.1" for e in events())
        assert events()[3].detail["out_trade_no"] == number
        recharge = db.session.scalar(select(Recharge).where(Recharge.recharge_no == number))
        assert recharge.status == "created"
        assert balance(account) == 0


def test_garbage_posted_to_the_notification_url_is_refused_not_a_crash(app):
    gateway = app.test_client()
    bodies = [
        {},
        {"sign": "\x00", "out_trade_no": "\x00" * 50},
        {"sign": "x" * 10_000, "total_amount": "1e20"},
        {"sign": "签名", "app_id": "\u202e", "notify_time": "NaN"},
    ]
    for body in bodies:
        reply = gateway.post(NOTIFY, data=body)
        assert (reply.status_code, reply.get_data(as_text=True)) == (400, "failure")
    reply = gateway.post(NOTIFY, data=b"\xff\xfe", content_type="application/octet-stream")
    assert reply.status_code == 400
    with app.app_context():
        assert len(events()) == len(bodies) + 1
        assert all("\x00" not in str(e.detail) for e in events())


def test_an_unpaid_status_is_acknowledged_and_credits_nothing(app, make_customer):
    account = make_customer()
    number = new_recharge(app, account)
    closed = signed(app, number, trade_status="TRADE_CLOSED")
    reply = app.test_client().post(NOTIFY, data=closed)
    assert (reply.status_code, reply.get_data(as_text=True)) == (200, "success")
    with app.app_context():
        assert credits() == 0
        assert db.session.scalar(select(Recharge.status).where(Recharge.recharge_no == number)) == (
            "created"
        )


def test_a_second_gateway_trade_for_a_paid_recharge_is_refused(app, make_customer):
    account = make_customer()
    number = new_recharge(app, account)
    gateway = app.test_client()
    assert gateway.post(NOTIFY, data=signed(app, number)).status_code == 200
    other = signed(app, number, trade_no="T-other")
    assert gateway.post(NOTIFY, data=other).status_code == 400
    with app.app_context():
        assert credits() == 1
        assert [e.kind for e in events()] == ["payment_notification_refused"]


# ---------------------------------------------------------------------------------------------
# The simulator resends until acknowledged
# ---------------------------------------------------------------------------------------------


def test_the_simulator_resends_until_the_reply_is_success(app, client, make_customer):
    account = make_customer()
    _, gateway_url = start(client, account)
    pay_at_simulator(client, gateway_url)
    portal = via(app.test_client())
    calls = []

    def lost_then_fine(url, form):
        calls.append(form["notify_time"])
        if len(calls) == 1:
            raise OSError("connection reset")
        reply = portal(url, form)
        return "SUCCESS" if len(calls) == 2 else reply  # only exactly "success" counts

    t0 = datetime.now(UTC)
    with app.app_context():
        assert simulator.deliver_due(t0, lost_then_fine) == {"acknowledged": 0, "failed": 1}
        assert simulator.deliver_due(t0 + timedelta(seconds=1), lost_then_fine)["failed"] == 0
        assert credits() == 0
        assert simulator.deliver_due(t0 + timedelta(seconds=3), lost_then_fine) == {
            "acknowledged": 0,
            "failed": 1,
        }
        assert credits() == 1  # delivered, but the acknowledgement was not exactly "success"
        assert simulator.deliver_due(t0 + timedelta(seconds=8), lost_then_fine)["acknowledged"] == 1
        assert simulator.deliver_due(t0 + timedelta(hours=5), lost_then_fine)["acknowledged"] == 0
        assert len(calls) == 3
        assert credits() == 1
        assert balance(account) == 8_800


def test_the_simulator_gives_up_after_its_last_attempt(app, client, make_customer):
    _, gateway_url = start(client, make_customer())
    pay_at_simulator(client, gateway_url)
    moment = datetime.now(UTC)
    with app.app_context():
        for _ in range(simulator.MAX_ATTEMPTS):
            assert simulator.deliver_due(moment, lambda *_: "failure")["failed"] == 1
            moment += timedelta(hours=2)
        assert simulator.deliver_due(moment, lambda *_: "success") == {
            "acknowledged": 0,
            "failed": 0,
        }


def test_the_simulator_refuses_a_tampered_pay_request(app, client, make_customer):
    account = make_customer()
    number, gateway_url = start(client, account)
    tampered = gateway_url.replace("88.00", "0.01")
    page = soup(client.get(tampered))
    assert page.find(id="simulator-error")["data-code"] == "isv.invalid-signature"
    form = soup(client.get(gateway_url)).find("form", id="simulator-form")
    fields = {i["name"]: i["value"] for i in form.find_all("input", type="hidden")}
    fields["biz_content"] = fields["biz_content"].replace("88.00", "0.01")
    refused = client.post("/simulator/pay", data={**fields, "action": "pay"})
    assert soup(refused).find(id="simulator-error") is not None
    cancelled = client.post("/simulator/pay", data={**fields, "action": "cancel"})
    assert soup(cancelled).find(id="simulator-error") is not None
    with app.app_context():
        assert gateway_client().query(number) is None  # no trade at the gateway


def test_cancel_at_the_simulator_goes_back_unpaid(app, client, make_customer):
    number, gateway_url = start(client, make_customer())
    form = soup(client.get(gateway_url)).find("form", id="simulator-form")
    fields = {i["name"]: i["value"] for i in form.find_all("input", type="hidden")}
    back = client.post("/simulator/pay", data={**fields, "action": "cancel"})
    assert back.status_code == 303
    assert urlsplit(back.location).path == f"/recharge/online/{number}"
    with app.app_context():
        assert gateway_client().query(number) is None


# ---------------------------------------------------------------------------------------------
# Reconciling by query
# ---------------------------------------------------------------------------------------------


def age(app, number: str, minutes: int) -> None:
    with app.app_context():
        db.session.execute(
            update(Recharge)
            .where(Recharge.recharge_no == number)
            .values(created_at=datetime.now(UTC) - timedelta(minutes=minutes))
        )
        db.session.commit()


def test_reconcile_credits_a_payment_whose_notification_never_came(app, client, make_customer):
    account = make_customer()
    paid, gateway_url = start(client, account)
    pay_at_simulator(client, gateway_url)
    unpaid, _ = start(client, account, "5")
    young, young_url = start(client, account, "6")
    pay_at_simulator(client, young_url)
    age(app, paid, 10)
    age(app, unpaid, 10)
    with app.app_context():
        through_http = gateway_client(transport=via(app.test_client()))
        summary = online_payments.reconcile_pending(client=through_http)
        db.session.commit()
        assert (summary.checked, summary.credited, summary.unpaid, summary.failed) == (2, 1, 1, 0)
        assert summary.credited_numbers == [paid]
        assert balance(account) == 8_800
        again = online_payments.reconcile_pending(client=through_http)
        assert (again.checked, again.credited) == (1, 0)  # only the unpaid one is still waiting
        # The notification arrives late: acknowledged, nothing more credited.
        assert simulator.deliver_due(transport=via(app.test_client()))["acknowledged"] == 2
        assert credits() == 2  # the paid one once, and the young one by its own notification
        assert balance(account) == 8_800 + 600
        assert (
            db.session.scalar(select(Recharge.status).where(Recharge.recharge_no == young))
            == "paid"
        )


def test_reconcile_reports_a_gateway_it_cannot_trust(app, client, make_customer):
    account = make_customer()
    number, gateway_url = start(client, account)
    pay_at_simulator(client, gateway_url)
    age(app, number, 10)
    with app.app_context():
        liar = gateway_client(transport=lambda *_: '{"alipay_trade_query_response":{},"sign":"x"}')
        summary = online_payments.reconcile_pending(client=liar)
        assert (summary.checked, summary.credited, summary.failed) == (1, 0, 1)
        assert credits() == 0


def test_finance_reconciles_from_the_console_and_it_is_audited(
    app, client, make_customer, make_staff
):
    account = make_customer()
    number, gateway_url = start(client, account)
    pay_at_simulator(client, gateway_url)
    age(app, number, 10)
    staff = app.test_client()
    login(staff, make_staff("finance"))
    response = post(staff, "/ops/online-payments/reconcile")
    assert response.status_code == 303
    with app.test_request_context():
        assert response.location == url_for("ops.reconciliation")
    with app.app_context():
        assert balance(account) == 8_800
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "recharge.reconcile")
        )
        assert entry.after["credited"] == 1
        assert entry.after["credited_numbers"] == [number]
    warehouse = app.test_client()
    login(warehouse, make_staff("warehouse"))
    assert post(warehouse, "/ops/online-payments/reconcile").status_code == 403


def test_reconciling_without_a_configured_gateway_says_so(app, make_staff):
    app.config["PAYMENT_GATEWAY"] = "alipay"  # and no keys
    staff = app.test_client()
    login(staff, make_staff("finance"))
    response = post(staff, "/ops/online-payments/reconcile")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.id)) is None
    flashed = soup(staff.get(response.location)).select_one("#flash")
    assert flashed is not None and flashed.select_one(".flash-error") is not None


def test_the_reconcile_command(app, client, make_customer):
    account = make_customer()
    number, gateway_url = start(client, account)
    pay_at_simulator(client, gateway_url)
    age(app, number, 10)
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "credited 1" in result.output
    with app.app_context():
        assert balance(account) == 8_800


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_production_refuses_the_simulator(monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    strong = "k3y-" + "0123456789abcdef" * 3
    with pytest.raises(RuntimeError, match="PAYMENT_GATEWAY"):
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "SECRET_KEY": strong,
                "PAYMENT_GATEWAY": "simulator",
            }
        )


def test_the_simulator_is_mounted_only_when_it_is_the_gateway():
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": "sqlite://", "PAYMENT_GATEWAY": "alipay"}, testing=True
    )
    assert not any(r.rule.startswith("/simulator") for r in app.url_map.iter_rules())
    with app.app_context():
        db.engine.dispose()


def test_without_alipay_keys_online_recharge_is_unavailable(app, make_customer):
    app.config["PAYMENT_GATEWAY"] = "alipay"
    client = app.test_client()
    login(client, make_customer())
    page = soup(client.get("/recharge/online"))
    assert page.find(id="online-unavailable") is not None
    assert page.find(id="amount") is None
    assert post(client, "/recharge/online", {"amount": "10"}).status_code == 503
    assert client.post(NOTIFY, data={"sign": "x"}).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Recharge)) == 0


def test_the_online_page_lets_its_form_lead_to_an_outside_gateway(
    app, client, make_customer, tmp_path
):
    merchant = tmp_path / "merchant.pem"
    gateway = tmp_path / "alipay.pem"
    with app.app_context():
        key = simulator.merchant_key(app)
        merchant.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        gateway.write_bytes(alipay.public_pem(simulator.simulator_key(app).public_key()))
    app.config.update(
        PAYMENT_GATEWAY="alipay",
        ALIPAY_APP_ID="2021004100000001",
        ALIPAY_PRIVATE_KEY_FILE=str(merchant),
        ALIPAY_PUBLIC_KEY_FILE=str(gateway),
        ALIPAY_GATEWAY_URL="https://openapi.alipay.com/gateway.do",
    )
    login(client, make_customer())
    page = client.get("/recharge/online")
    policy = page.headers["Content-Security-Policy"]
    assert "form-action 'self' https://openapi.alipay.com https://*.alipay.com;" in policy
    response = post(client, "/recharge/online", {"amount": "10"})
    assert response.location.startswith("https://openapi.alipay.com/gateway.do?")
    assert dict(parse_qsl(urlsplit(response.location).query))["app_id"] == "2021004100000001"


def test_the_csrf_exemptions_are_exactly_the_gateway_routes():
    from tests.test_http import CSRF_EXEMPT, UNSAFE_ROUTES

    assert {path for path, _ in UNSAFE_ROUTES} >= CSRF_EXEMPT
    assert {path for path, _ in UNSAFE_ROUTES if path.startswith("/simulator")} <= CSRF_EXEMPT
