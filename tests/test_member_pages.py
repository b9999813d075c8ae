"""The membership page: the current membership or none, tiers on offer, buying and renewing from
the balance with a per-render attempt key, and a short balance sent to the recharge page."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import LedgerTransaction, Membership, MembershipTier, User
from portal.services import ledger
from portal.services.ledger import Line
from tests.helpers import HTMX, login, post, soup

PRICE = 19_900


def tier(**fields) -> int:
    values = dict(
        name_zh="黄金会员",
        name_en="Gold",
        price_fen=PRICE,
        duration_days=365,
        discount_percent=Decimal("12.50"),
    )
    values.update(fields)
    row = MembershipTier(**values)
    db.session.add(row)
    db.session.commit()
    return row.id


def credit(customer_id: int, fen: int) -> None:
    customer = db.session.get(User, customer_id)
    ledger.post(
        "recharge",
        [Line(ledger.account("platform_bank"), -fen), Line(ledger.customer_balance(customer), fen)],
        f"recharge-{customer_id}-{fen}",
    )
    db.session.commit()


def balance(customer_id: int) -> int:
    return ledger.balance_fen(db.session.get(User, customer_id))


def periods(customer_id: int) -> list[Membership]:
    return list(
        db.session.scalars(
            select(Membership).where(Membership.customer_id == customer_id).order_by(Membership.id)
        )
    )


def purchases() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(LedgerTransaction.kind == "membership")
    )


@pytest.fixture
def customer(make_customer, client):
    account = make_customer()
    login(client, account)
    return account


def buy_form(response, tier_id: int) -> dict[str, str]:
    card = soup(response).find(attrs={"data-testid": "tier", "data-tier-id": str(tier_id)})
    form = card.find("form")
    return {i["name"]: i["value"] for i in form.find_all("input") if i["name"] != "csrf_token"}


def test_a_customer_without_membership_sees_the_tiers(app, client, customer):
    with app.app_context():
        tid = tier()
        tier(name_zh="停售", name_en="Gone", is_active=False)
    page = client.get("/member/")
    assert page.status_code == 200
    html = soup(page)
    assert html.find(attrs={"data-testid": "not-member"}) is not None
    cards = html.find_all(attrs={"data-testid": "tier"})
    assert [card["data-tier-id"] for card in cards] == [str(tid)]
    assert cards[0].find(attrs={"data-testid": "tier-name"}).get_text(strip=True) == "黄金会员"
    assert cards[0].find(attrs={"data-testid": "tier-price"})["data-fen"] == str(PRICE)
    assert "12.5" in cards[0].get_text()
    key = buy_form(page, tid)["key"]
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert buy_form(client.get("/member/"), tid)["key"] != key  # fresh on every render


def test_buying_debits_the_price_once_and_shows_the_membership(app, client, customer):
    with app.app_context():
        tid = tier()
        credit(customer.id, 50_000)
    form = buy_form(client.get("/member/"), tid)
    response = post(client, "/member/buy", form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/member/")
    with app.app_context():
        assert balance(customer.id) == 50_000 - PRICE
        (period,) = periods(customer.id)
        ends = f"{period.ends_at + timedelta(hours=8):%Y-%m-%d}"
    page = client.get("/member/")
    html = soup(page)
    assert ends in html.find(id="flash").get_text()
    assert html.find(attrs={"data-testid": "member-tier"}).get_text(strip=True) == "黄金会员"
    assert html.find(attrs={"data-testid": "member-ends"}).get_text(strip=True) == ends
    assert "12.5" in html.find(attrs={"data-testid": "member-discount"}).get_text()


def test_a_replayed_form_charges_once(app, client, customer):
    with app.app_context():
        tid = tier()
        credit(customer.id, 50_000)
    form = buy_form(client.get("/member/"), tid)
    assert post(client, "/member/buy", form).status_code == 303
    assert post(client, "/member/buy", form, htmx=True).status_code == 204
    with app.app_context():
        assert balance(customer.id) == 50_000 - PRICE
        assert len(periods(customer.id)) == 1
        assert purchases() == 1


def test_a_renewal_starts_where_the_last_period_ends(app, client, customer):
    with app.app_context():
        tid = tier()
        credit(customer.id, 50_000)
    assert post(client, "/member/buy", buy_form(client.get("/member/"), tid)).status_code == 303
    page = client.get("/member/")
    card = soup(page).find(attrs={"data-testid": "tier", "data-tier-id": str(tid)})
    assert card.find(attrs={"data-testid": "tier-until"}) is not None
    assert post(client, "/member/buy", buy_form(page, tid)).status_code == 303
    with app.app_context():
        first, second = periods(customer.id)
        assert second.starts_at == first.ends_at
        assert second.ends_at == first.ends_at + timedelta(days=365)
        assert balance(customer.id) == 50_000 - 2 * PRICE
    html = soup(client.get("/member/"))
    assert html.find(attrs={"data-testid": "member-ends"}).get_text(strip=True) == (
        f"{second.ends_at + timedelta(hours=8):%Y-%m-%d}"
    )


def test_a_short_balance_goes_to_the_recharge_page_and_writes_nothing(app, client, customer):
    with app.app_context():
        tid = tier()
        credit(customer.id, 5_000)
    response = post(client, "/member/buy", buy_form(client.get("/member/"), tid))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/recharge/?amount=149.00")
    with app.app_context():
        assert balance(customer.id) == 5_000
        assert periods(customer.id) == []
        assert purchases() == 0
    htmx = post(client, "/member/buy", buy_form(client.get("/member/"), tid), htmx=True)
    assert htmx.status_code == 204
    assert "amount=149.00" in htmx.headers["HX-Redirect"]


def test_an_inactive_tier_is_refused(app, client, customer):
    with app.app_context():
        tid = tier()
        credit(customer.id, 50_000)
    form = buy_form(client.get("/member/"), tid)
    with app.app_context():
        db.session.get(MembershipTier, tid).is_active = False
        db.session.commit()
    response = post(client, "/member/buy", form, htmx=True)
    assert response.status_code == 422
    html = soup(response)
    assert html.find(id="member-tiers") is not None
    assert html.find(attrs={"data-testid": "member-error"}).get_text(strip=True)
    with app.app_context():
        assert balance(customer.id) == 50_000
        assert periods(customer.id) == []


@pytest.mark.parametrize(
    "data",
    [
        {"tier": "1", "key": "not-a-key"},
        {"tier": "1", "key": ""},
        {"tier": "", "key": "a" * 32},
        {"tier": "x", "key": "a" * 32},
        {"tier": "99999", "key": "a" * 32},
    ],
)
def test_a_bad_form_is_422_and_charges_nothing(app, client, customer, data):
    with app.app_context():
        tier()
        credit(customer.id, 50_000)
    response = post(client, "/member/buy", data, htmx=True)
    assert response.status_code == 422
    assert soup(response).find(attrs={"data-testid": "member-error"}).get_text(strip=True)
    with app.app_context():
        assert balance(customer.id) == 50_000
        assert purchases() == 0


def test_the_tier_list_fragment_for_htmx(app, client, customer):
    with app.app_context():
        tier()
    response = client.get("/member/", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    html = soup(response)
    assert html.find("html") is None
    assert html.find(id="member-tiers") is not None


@pytest.mark.parametrize("method, path", [("get", "/member/"), ("post", "/member/buy")])
def test_the_member_pages_need_a_login(client, method, path):
    response = post(client, path, {}) if method == "post" else client.get(path)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
