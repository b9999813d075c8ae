"""Manual balance adjustments by finance: credits and debits through the ledger with a reason,
refused input with nothing posted, one posting per form, concurrent debits never below zero."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import LedgerTransaction, User
from portal.services import adjustments, ledger, notifications
from portal.services.errors import ValidationFailed
from tests.conftest import run_together
from tests.finance_helpers import audit_entries, balance, credit, notifications_of, transactions
from tests.helpers import BAD_AMOUNTS as GUIDE_AMOUNTS
from tests.helpers import login, post, soup

TOKEN = "t" * 32


def form_token(client, customer_id: int) -> str:
    page = soup(client.get(f"/ops/customers/{customer_id}/adjust"))
    return page.find(attrs={"name": "token"})["value"]


def adjust(client, customer_id: int, token: str | None = None, **fields):
    data = {"direction": "credit", "amount": "100", "reason": "补偿运费差价", **fields}
    data["token"] = token if token is not None else form_token(client, customer_id)
    return post(client, f"/ops/customers/{customer_id}/adjust", data)


def test_the_customer_page_shows_the_balance_and_links_to_the_form(app, finance, make_customer):
    customer = make_customer()
    credit(app, customer.id, 4_200)
    page = soup(finance.get(f"/ops/customers/{customer.id}"))
    assert page.find(attrs={"data-testid": "customer-balance"})["data-fen"] == "4200"
    link = page.find(attrs={"data-testid": "adjust-link"})["href"]
    assert link == f"/ops/customers/{customer.id}/adjust"
    form = soup(finance.get(link))
    assert form.find(attrs={"data-testid": "balance"})["data-fen"] == "4200"
    assert form_token(finance, customer.id) != form_token(finance, customer.id)


def test_a_credit_is_posted_told_and_audited(app, finance, clerk, make_customer):
    customer = make_customer()
    response = adjust(finance, customer.id, amount="123.45", reason=" 补偿运费差价 ")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ops/customers/{customer.id}"
    assert balance(app, customer.id) == 12_345
    with app.app_context():
        (transaction,) = db.session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.kind == "adjustment")
        )
        assert (transaction.memo, transaction.actor_id) == ("补偿运费差价", clerk.id)
        assert transaction.idempotency_key.startswith("adjust:")
        assert ledger.account("platform_adjustments").balance_fen == -12_345
    assert notifications_of(app, customer.id, notifications.BALANCE_ADJUSTED) == [
        {"amount": "123.45", "reason": "补偿运费差价"}
    ]
    (entry,) = audit_entries(app, "balance.adjust")
    assert (entry.actor_id, entry.entity_type, entry.entity_id) == (
        clerk.id,
        "customer",
        str(customer.id),
    )
    assert (entry.before, entry.after["balance_fen"], entry.reason) == (
        {"balance_fen": 0},
        12_345,
        "补偿运费差价",
    )


def test_a_debit_takes_money_off_the_balance(app, finance, make_customer):
    customer = make_customer()
    credit(app, customer.id, 10_000)
    assert adjust(finance, customer.id, direction="debit", amount="30").status_code == 303
    assert balance(app, customer.id) == 7_000
    (told,) = notifications_of(app, customer.id, notifications.BALANCE_ADJUSTED)
    assert told["amount"] == "-30.00"
    assert audit_entries(app, "balance.adjust")[0].after["amount_fen"] == -3_000


def test_a_debit_beyond_the_balance_is_refused_with_the_balance(app, finance, make_customer):
    customer = make_customer()
    credit(app, customer.id, 5_000)
    response = adjust(finance, customer.id, direction="debit", amount="50.01")
    assert response.status_code == 422
    assert "¥50.00" in soup(response).find(id="amount-error").get_text()
    assert soup(response).find(id="amount")["aria-invalid"] == "true"
    assert balance(app, customer.id) == 5_000
    assert transactions(app, "adjustment") == 0
    never = make_customer()
    assert adjust(finance, never.id, direction="debit", amount="1").status_code == 422
    assert notifications_of(app, customer.id, notifications.BALANCE_ADJUSTED) == []


BAD_AMOUNTS = [
    *GUIDE_AMOUNTS,
    "1" * 10_000,
    "10\x00",
    "1\x070",
    "50000.01",
    "+10",
    "0x10",
]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_bad_amounts_are_refused_beside_the_field_and_nothing_is_posted(
    app, finance, make_customer, amount
):
    customer = make_customer()
    response = adjust(finance, customer.id, amount=amount)
    assert response.status_code == 422
    assert soup(response).find(id="amount-error").get_text(strip=True)
    assert transactions(app, "adjustment") == 0
    assert audit_entries(app, "balance.adjust") == []


def test_spaces_around_an_amount_are_trimmed(app, finance, make_customer):
    customer = make_customer()
    assert adjust(finance, customer.id, amount=" 10 ").status_code == 303
    assert balance(app, customer.id) == 1_000


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "a\x00b", "line\nbreak", "\x1b[2J"])
def test_a_usable_reason_is_required(app, finance, make_customer, reason):
    customer = make_customer()
    response = adjust(finance, customer.id, reason=reason)
    assert response.status_code == 422
    assert soup(response).find(id="reason-error").get_text(strip=True)
    assert transactions(app, "adjustment") == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"direction": "both"},
        {"direction": ""},
        {"token": ""},
        {"token": "short"},
        {"token": "x" * 65},
    ],
)
def test_a_bad_direction_or_token_is_refused(app, finance, make_customer, fields):
    customer = make_customer()
    response = adjust(finance, customer.id, **fields)
    assert response.status_code == 422
    assert transactions(app, "adjustment") == 0
    assert soup(response).find(attrs={"name": "token"})["value"] != fields.get("token", "")


def test_a_double_submit_posts_once(app, finance, make_customer):
    customer = make_customer()
    token = form_token(finance, customer.id)
    first = adjust(finance, customer.id, token)
    second = adjust(finance, customer.id, token)
    assert (first.status_code, second.status_code) == (303, 303)
    assert balance(app, customer.id) == 10_000
    assert transactions(app, "adjustment") == 1
    assert len(notifications_of(app, customer.id, notifications.BALANCE_ADJUSTED)) == 1
    assert len(audit_entries(app, "balance.adjust")) == 1
    reused = adjust(finance, customer.id, token, amount="99")
    assert reused.status_code == 409
    assert soup(reused).find(attrs={"data-testid": "adjust-error"})
    assert balance(app, customer.id) == 10_000


def test_unknown_customers_staff_and_other_roles(app, client, finance, clerk, make_staff):
    assert finance.get("/ops/customers/999999/adjust").status_code == 404
    assert finance.get(f"/ops/customers/{2**40}/adjust").status_code == 404
    assert adjust(finance, clerk.id, token=TOKEN).status_code == 404
    service = app.test_client()
    login(service, make_staff("service", "warehouse"))
    assert service.get(f"/ops/customers/{clerk.id}/adjust").status_code == 403
    assert transactions(app, "adjustment") == 0


@pytest.mark.parametrize("threads", [2, 10])
def test_debits_at_once_never_take_the_balance_below_zero(app, make_customer, make_staff, threads):
    customer = make_customer()
    credit(app, customer.id, 10_000)
    clerk = make_staff("finance")

    def debit(i: int):
        done = adjustments.adjust_balance(
            db.session.get(User, clerk.id), customer.id, "debit", "30", "扣减", f"{TOKEN}{i:04d}"
        )
        db.session.commit()
        return done.balance_fen

    results = run_together(app, threads, debit)
    wins = [r for r in results if isinstance(r, int)]
    assert len(wins) == min(threads, 3), [repr(r) for r in results]
    assert all(isinstance(r, ValidationFailed) for r in results if not isinstance(r, int))
    assert balance(app, customer.id) == 10_000 - 3_000 * len(wins)
    assert transactions(app, "adjustment") == len(wins)


def test_one_form_sent_ten_times_at_once_posts_once(app, make_customer, make_staff):
    customer = make_customer()
    clerk = make_staff("finance")

    def send(i: int):
        done = adjustments.adjust_balance(
            db.session.get(User, clerk.id), customer.id, "credit", "25", "补偿", TOKEN
        )
        db.session.commit()
        return done.posted_now

    results = run_together(app, 10, send)
    assert sorted(results, key=str) == [False] * 9 + [True], [repr(r) for r in results]
    assert balance(app, customer.id) == 2_500
    assert transactions(app, "adjustment") == 1
    assert len(notifications_of(app, customer.id, notifications.BALANCE_ADJUSTED)) == 1
    assert len(audit_entries(app, "balance.adjust")) == 1
