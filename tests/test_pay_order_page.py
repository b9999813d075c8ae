"""Paying an order from its page: one debit per attempt, customer and staff told, refusals
leave nothing, a short balance leads to the recharge page with the exact shortfall."""

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import LedgerTransaction, Notification, Order, User
from portal.services import ledger, payments
from tests.conftest import run_together
from tests.helpers import csrf_token, login, post, soup
from tests.test_payments import BILL, billed  # noqa: F401

ATTEMPT = "0123456789abcdef0123456789abcdef"


def order_no_of(app, order_id: int) -> str:
    with app.app_context():
        return db.session.get(Order, order_id).order_no


def logged_in(app, account):
    client = app.test_client()
    login(client, account)
    return client


def pay(client, order_no: str, attempt: str = ATTEMPT, **kwargs):
    return post(client, f"/orders/{order_no}/pay", {"attempt": attempt}, **kwargs)


def payments_made() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(LedgerTransaction.kind == "payment")
    )


def state(app, account, order_id: int) -> tuple[str, int, int]:
    """The order's status, the customer's balance and how many payments exist."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        return (
            order.status,
            ledger.balance_fen(db.session.get(User, account.id)),
            payments_made(),
        )


def kinds_for(user_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id)
        )
    )


def test_the_page_offers_paying_and_the_form_pays_once(app, billed, make_staff):  # noqa: F811
    account, (order_id,) = billed(balance_fen=20_000)
    warehouse, admin, finance = make_staff("warehouse"), make_staff("admin"), make_staff("finance")
    retired = make_staff("warehouse")
    with app.app_context():
        db.session.execute(update(User).where(User.id == retired.id).values(is_disabled=True))
        db.session.commit()
    client = logged_in(app, account)
    order_no = order_no_of(app, order_id)
    page = soup(client.get(f"/orders/{order_no}"))
    panel = page.select_one("#order-pay")
    assert panel.select_one("[data-testid=pay-balance]")["data-fen"] == "20000"
    assert not panel.select("[data-testid=recharge-link]")
    form = panel.select_one("form#pay-form")
    assert form["action"] == f"/orders/{order_no}/pay"
    assert form.select_one("input[name=csrf_token]")
    attempt = form.select_one("input[name=attempt]")["value"]
    assert len(attempt) == 32 and int(attempt, 16) >= 0
    again = soup(client.get(f"/orders/{order_no}")).select_one("input[name=attempt]")["value"]
    assert again != attempt

    response = pay(client, order_no, attempt)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/orders/{order_no}"
    assert state(app, account, order_id) == ("paid", 20_000 - BILL, 1)
    with app.app_context():
        assert db.session.get(Order, order_id).paid_fen == BILL
        assert kinds_for(account.id) == ["order_paid"]
        for told in (warehouse, admin):
            message = db.session.scalars(
                select(Notification).where(Notification.user_id == told.id)
            ).one()
            assert message.kind == "order_paid_staff"
            assert message.link == f"/ops/orders/{order_id}"
            assert message.params["order_no"] == order_no
        assert kinds_for(finance.id) == kinds_for(retired.id) == []
    paid_page = soup(client.get(f"/orders/{order_no}"))
    assert paid_page.select_one("#order")["data-status"] == "paid"
    assert paid_page.select_one("[data-testid=paid-total]")["data-fen"] == str(BILL)
    assert not paid_page.select("#order-pay")


def test_staff_read_the_paid_message_in_the_console(app, billed, make_staff):  # noqa: F811
    account, (order_id,) = billed(balance_fen=BILL)
    staff = make_staff("warehouse")
    assert pay(logged_in(app, account), order_no_of(app, order_id)).status_code == 303
    staff_client = logged_in(app, staff)
    console = soup(staff_client.get("/ops/"))
    assert console.select_one("#unread-count")["data-count"] == "1"
    messages = staff_client.get("/messages/")
    [item] = soup(messages).select("[data-testid=message]")
    opened = post(staff_client, f"/messages/{item['data-id']}/read")
    assert opened.headers["Location"] == f"/ops/orders/{order_id}"
    assert staff_client.get(opened.headers["Location"]).status_code == 200


def test_the_same_attempt_five_times_debits_once(app, billed):  # noqa: F811
    account, (order_id,) = billed(balance_fen=50_000)
    client = logged_in(app, account)
    order_no = order_no_of(app, order_id)
    answers = [pay(client, order_no).status_code for _ in range(5)]
    assert answers == [303] * 5
    assert state(app, account, order_id) == ("paid", 50_000 - BILL, 1)
    with app.app_context():
        assert kinds_for(account.id) == ["order_paid"]


def test_paying_with_htmx_redirects_through_the_header(app, billed):  # noqa: F811
    account, (order_id,) = billed(balance_fen=BILL)
    order_no = order_no_of(app, order_id)
    response = pay(logged_in(app, account), order_no, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/orders/{order_no}"
    assert state(app, account, order_id) == ("paid", 0, 1)


def test_paying_again_with_a_new_attempt_is_refused(app, billed):  # noqa: F811
    account, (order_id,) = billed(balance_fen=50_000)
    client = logged_in(app, account)
    order_no = order_no_of(app, order_id)
    assert pay(client, order_no).status_code == 303
    refused = pay(client, order_no, "f" * 32)
    assert refused.status_code == 409
    assert soup(refused).select_one("[data-testid=pay-error]")
    assert state(app, account, order_id) == ("paid", 50_000 - BILL, 1)


def test_an_attempt_that_paid_one_order_does_not_pay_another(app, billed):  # noqa: F811
    account, (first, second) = billed(count=2, balance_fen=50_000)
    client = logged_in(app, account)
    assert pay(client, order_no_of(app, first)).status_code == 303
    refused = pay(client, order_no_of(app, second))
    assert refused.status_code == 409
    assert state(app, account, second) == ("awaiting_payment", 50_000 - BILL, 1)


def test_a_cancelled_or_unbilled_order_is_refused(app, billed):  # noqa: F811
    account, (cancelled_id, unbilled_id) = billed(count=2, balance_fen=50_000)
    with app.app_context():
        db.session.execute(update(Order).where(Order.id == cancelled_id).values(status="cancelled"))
        db.session.execute(
            update(Order)
            .where(Order.id == unbilled_id)
            .values(status="pending_pack", bill_fen=None)
        )
        db.session.commit()
    client = logged_in(app, account)
    for order_id in (cancelled_id, unbilled_id):
        order_no = order_no_of(app, order_id)
        assert not soup(client.get(f"/orders/{order_no}")).select("#order-pay")
        refused = pay(client, order_no, f"{order_id:032x}")
        assert refused.status_code == 409
        assert soup(refused).select_one("[data-testid=pay-error]")
    assert state(app, account, cancelled_id) == ("cancelled", 50_000, 0)
    assert state(app, account, unbilled_id) == ("pending_pack", 50_000, 0)


def test_someone_elses_or_an_unknown_order_is_404(app, billed):  # noqa: F811
    owner, (order_id,) = billed(balance_fen=50_000)
    stranger, _ = billed(balance_fen=50_000)
    client = logged_in(app, stranger)
    assert pay(client, order_no_of(app, order_id)).status_code == 404
    assert pay(client, "JY000000NOPE").status_code == 404
    assert pay(client, "not-a-number!").status_code == 404
    assert state(app, owner, order_id) == ("awaiting_payment", 50_000, 0)
    with app.app_context():
        assert ledger.balance_fen(db.session.get(User, stranger.id)) == 50_000


def test_a_visitor_is_sent_to_log_in(app, billed, client):  # noqa: F811
    account, (order_id,) = billed(balance_fen=50_000)
    response = pay(client, order_no_of(app, order_id))
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    assert state(app, account, order_id) == ("awaiting_payment", 50_000, 0)


@pytest.mark.parametrize(
    "attempt",
    [
        None,
        "",
        "x" * 10_240,
        "g" * 32,
        "A" * 32,
        "a" * 31,
        "a" * 33,
        "a" * 31 + "\x00",
        " " + "a" * 32,
        "a" * 16 + "\u0661" * 16,
    ],
    ids=["missing", "empty", "10kB", "non-hex", "upper", "short", "long", "nul", "space", "arabic"],
)
def test_a_bad_attempt_key_is_422_and_pays_nothing(app, billed, attempt):  # noqa: F811
    account, (order_id,) = billed(balance_fen=50_000)
    client = logged_in(app, account)
    data = {} if attempt is None else {"attempt": attempt}
    response = post(client, f"/orders/{order_no_of(app, order_id)}/pay", data)
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one("[data-testid=pay-error]")
    assert page.select_one("#order-pay form#pay-form")
    assert state(app, account, order_id) == ("awaiting_payment", 50_000, 0)


def recharge_target(url: str) -> tuple[str, dict]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)


def test_a_short_balance_shows_the_shortfall_and_a_recharge_link(app, billed):  # noqa: F811
    account, (order_id,) = billed(balance_fen=10_000)
    client = logged_in(app, account)
    panel = soup(client.get(f"/orders/{order_no_of(app, order_id)}")).select_one("#order-pay")
    assert not panel.select("form#pay-form")
    assert panel.select_one("[data-testid=pay-shortfall]")["data-fen"] == str(BILL - 10_000)
    link = panel.select_one("a[data-testid=recharge-link]")["href"]
    assert recharge_target(link) == ("/recharge/", {"amount": ["23.45"]})


def test_no_balance_at_all_is_short_by_the_whole_bill(app, billed):  # noqa: F811
    account, (order_id,) = billed()
    client = logged_in(app, account)
    panel = soup(client.get(f"/orders/{order_no_of(app, order_id)}")).select_one("#order-pay")
    assert panel.select_one("[data-testid=pay-balance]")["data-fen"] == "0"
    link = panel.select_one("a[data-testid=recharge-link]")["href"]
    assert recharge_target(link) == ("/recharge/", {"amount": ["123.45"]})


def test_a_balance_spent_meanwhile_leads_to_the_recharge_page(app, billed):  # noqa: F811
    account, (order_id, other_id) = billed(count=2, balance_fen=BILL + 100)
    client = logged_in(app, account)
    order_no = order_no_of(app, order_id)
    attempt = soup(client.get(f"/orders/{order_no}")).select_one("input[name=attempt]")["value"]
    with app.app_context():
        customer = db.session.get(User, account.id)
        payments.pay_order(customer, db.session.get(Order, other_id), "elsewhere")
        db.session.commit()
    response = pay(client, order_no, attempt)
    assert response.status_code == 303
    assert recharge_target(response.headers["Location"]) == (
        "/recharge/",
        {"amount": [f"{(BILL - 100) // 100}.{(BILL - 100) % 100:02d}"]},
    )
    assert state(app, account, order_id) == ("awaiting_payment", 100, 1)
    flashed = soup(client.get("/orders/")).select(".flash")
    assert flashed
    htmx = pay(client, order_no, attempt, htmx=True)
    assert htmx.status_code == 204
    assert recharge_target(htmx.headers["HX-Redirect"])[0] == "/recharge/"


def test_five_clients_paying_one_order_at_once_pay_it_once(app, billed):  # noqa: F811
    account, (order_id,) = billed(balance_fen=50_000)
    order_no = order_no_of(app, order_id)
    clients = [logged_in(app, account) for _ in range(5)]
    # Tokens first: each thread's requests share one app context, so a GET there would leave a
    # read transaction open for the POST (a test artefact, not the app's behaviour).
    tokens = [csrf_token(c) for c in clients]

    def attempt(i: int) -> int:
        body = {"csrf_token": tokens[i], "attempt": f"{i:032x}"}
        return clients[i].post(f"/orders/{order_no}/pay", data=body).status_code

    results = run_together(app, 5, attempt)
    assert sorted(results) == [303, 409, 409, 409, 409], results
    assert state(app, account, order_id) == ("paid", 50_000 - BILL, 1)
