"""My wallet: balances, the history with its filters and pages, only the customer's own entries."""

import pytest

from portal.extensions import db
from portal.models import Order, User
from portal.services import ledger
from portal.services.ledger import Line
from portal.services.ops_dashboard import beijing_today
from tests.helpers import HTMX, login, soup


def move(app, account, amount_fen: int, key: str, kind: str = "recharge", order_id=None):
    """Money into (or, negative, out of) a customer's balance through the ledger."""
    with app.app_context():
        customer = db.session.get(User, account.id)
        ledger.post(
            kind,
            [
                Line(ledger.account("platform_bank"), -amount_fen),
                Line(ledger.customer_balance(customer), amount_fen),
            ],
            key,
            order_id=order_id,
        )
        db.session.commit()


@pytest.fixture
def wallet_owner(app, make_customer, insert_orders):
    account = make_customer()
    insert_orders(account.id, 1, "paid")
    with app.app_context():
        order = db.session.query(Order).filter_by(customer_id=account.id).one()
        order_id, order_no = order.id, order.order_no
    move(app, account, 30_000, "r1")
    move(app, account, -12_000, "p1", kind="payment", order_id=order_id)
    return account, order_no


def entries(response):
    return [
        (li["data-kind"], int(li["data-fen"]))
        for li in soup(response).select("[data-testid=entry]")
    ]


def test_the_wallet_shows_balances_and_the_history_newest_first(app, client, wallet_owner):
    account, order_no = wallet_owner
    login(client, account)
    page = client.get("/wallet/")
    assert page.status_code == 200
    html = soup(page)
    assert html.select_one("[data-testid=balance]")["data-fen"] == "18000"
    assert html.select_one("[data-testid=balance]").get_text(strip=True) == "¥180.00"
    assert html.select_one("[data-testid=rebate]")["data-fen"] == "0"
    assert entries(page) == [("payment", -12_000), ("recharge", 30_000)]
    link = html.select_one("[data-testid=entry-order]")
    assert link["href"] == f"/orders/{order_no}" and link.get_text() == order_no
    home = soup(client.get("/"))
    assert home.select_one("[data-testid=balance-tile]").select_one(".n").get_text() == "180.00"


def test_filters_by_type_and_day_answer_a_fragment(app, client, wallet_owner):
    account, _ = wallet_owner
    login(client, account)
    fragment = client.get("/wallet/?kind=recharge", headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)
    assert soup(fragment).find(id="wallet-history") is not None
    assert entries(fragment) == [("recharge", 30_000)]
    today = beijing_today().isoformat()
    assert len(entries(client.get(f"/wallet/?since={today}&until={today}"))) == 2
    assert entries(client.get("/wallet/?since=2026-01-01&until=2026-01-31")) == []


@pytest.mark.parametrize(
    "query",
    [
        "kind=bonus",
        "since=2026-13-01",
        "until=yesterday",
        "since=2026-02-02&until=2026-02-01",
        "since=" + "9" * 300,
    ],
)
def test_bad_filters_are_refused_beside_the_field(client, make_customer, query):
    login(client, make_customer())
    response = client.get(f"/wallet/?{query}")
    assert response.status_code == 422
    assert soup(response).select(".error")


def test_another_customers_movements_are_not_shown(app, client, wallet_owner, make_customer):
    stranger = make_customer()
    login(client, stranger)
    page = client.get("/wallet/")
    assert entries(page) == []
    assert soup(page).select_one("[data-testid=balance]")["data-fen"] == "0"
    assert client.get("/wallet/?page=2").status_code == 404


def test_pages_of_twenty(app, client, make_customer):
    account = make_customer()
    for i in range(25):
        move(app, account, 100 + i, f"r{i}")
    login(client, account)
    first = client.get("/wallet/")
    assert len(entries(first)) == 20
    next_href = soup(first).select_one("[data-testid=next]")["href"]
    second = client.get(next_href)
    assert [fen for _, fen in entries(second)] == [104, 103, 102, 101, 100]
