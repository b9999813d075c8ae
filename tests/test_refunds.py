"""Refunds to the wallet: part of a bill or, cancelling a paid order, all that is left; never more
than was paid, once per key, audited and notified; finance staff only."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEntry,
    LedgerTransaction,
    Notification,
    Order,
    OrderParcel,
    Parcel,
    User,
    UserRole,
)
from portal.services import ledger, payments, refunds
from tests.conftest import run_together
from tests.helpers import BAD_AMOUNTS, csrf_token, login, post, soup
from tests.test_payments import BILL, billed  # noqa: F401

REASON = "重量更正"
START = 50_000  # the customer's balance before paying BILL


@pytest.fixture
def paid(app, billed):  # noqa: F811
    """A customer with `count` orders paid from a balance of START: (account, order ids)."""

    def make(count: int = 1):
        account, ids = billed(count=count, balance_fen=START + (count - 1) * BILL)
        with app.app_context():
            customer = db.session.get(User, account.id)
            for order_id in ids:
                payments.pay_order(customer, db.session.get(Order, order_id), f"pay-{order_id}")
            db.session.commit()
        return account, ids

    return make


@pytest.fixture
def finance(app, make_staff):
    account = make_staff("finance")
    client = app.test_client()
    login(client, account)
    return client, account


def key(n: int) -> str:
    return f"{n:032x}"


def refund_http(client, order_id: int, amount: str, reason: str = REASON, k: str | None = None):
    data = {"amount": amount, "reason": reason, "key": key(1) if k is None else k}
    return post(client, f"/ops/orders/{order_id}/refund", data)


def money(app, account, order_id: int) -> dict:
    """Everything a refund changes, to compare before and after."""
    with app.app_context():
        order = db.session.get(Order, order_id)
        return {
            "status": order.status,
            "refunded": order.refunded_fen,
            "balance": ledger.balance_fen(db.session.get(User, account.id)),
            "refunds": db.session.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.kind == "refund")
            ),
            "audits": db.session.scalar(select(func.count()).select_from(AuditEntry)),
            "messages": db.session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.kind.in_(["order_refunded", "order_cancelled"]))
            ),
        }


def nothing_refunded(account) -> dict:
    return {
        "status": "paid",
        "refunded": 0,
        "balance": START - BILL,
        "refunds": 0,
        "audits": 0,
        "messages": 0,
    }


# ---- refunding part of a bill ---------------------------------------------------------------


def test_a_partial_refund_and_then_the_rest(app, paid, finance):
    account, (order_id,) = paid()
    client, staff = finance
    page = soup(client.get(f"/ops/orders/{order_id}"))
    assert page.select_one("[data-testid=refundable]")["data-fen"] == str(BILL)
    assert page.select_one("form#refund-form input[name=key]")["value"]

    response = refund_http(client, order_id, "20.00", k=key(1))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ops/orders/{order_id}"
    assert money(app, account, order_id) == {
        "status": "paid",
        "refunded": 2_000,
        "balance": START - BILL + 2_000,
        "refunds": 1,
        "audits": 1,
        "messages": 1,
    }
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.actor_id, entry.reason) == ("order.refund", staff.id, REASON)
        assert (entry.before, entry.after) == (
            {"refunded_fen": 0},
            {"refunded_fen": 2_000, "amount_fen": 2_000},
        )
        message = db.session.scalars(
            select(Notification).where(Notification.kind == "order_refunded")
        ).one()
        assert message.user_id == account.id
        assert message.params["amount"] == "20.00"
        assert message.params["reason"] == REASON

    rest = refund_http(client, order_id, "103.45", "重新计费", k=key(2))
    assert rest.status_code == 303
    state = money(app, account, order_id)
    assert (state["refunded"], state["balance"], state["refunds"]) == (BILL, START, 2)
    page = soup(client.get(f"/ops/orders/{order_id}"))
    assert [row["data-fen"] for row in page.select("[data-testid=refund]")] == ["2000", "10345"]
    assert not page.select("form#refund-form")
    refused = refund_http(client, order_id, "0.01", k=key(3))
    assert refused.status_code == 409
    assert money(app, account, order_id)["refunds"] == 2


def test_the_customer_sees_the_refunds_on_the_order_page(app, paid, finance):
    account, (order_id,) = paid()
    assert refund_http(finance[0], order_id, "20.00").status_code == 303
    customer = app.test_client()
    login(customer, account)
    with app.app_context():
        order_no = db.session.get(Order, order_id).order_no
    page = soup(customer.get(f"/orders/{order_no}"))
    assert page.select_one("[data-testid=paid-total]")["data-fen"] == str(BILL)
    assert page.select_one("[data-testid=refunded-total]")["data-fen"] == "2000"
    [row] = page.select("#order-refunds [data-testid=refund]")
    assert row["data-fen"] == "2000"
    assert REASON in row.get_text()


def test_more_than_paid_is_422_and_changes_nothing(app, paid, finance):
    account, (order_id,) = paid()
    response = refund_http(finance[0], order_id, "123.46")
    assert response.status_code == 422
    assert soup(response).select_one("#amount-error")
    assert soup(response).select_one("#amount")["aria-invalid"] == "true"
    assert money(app, account, order_id) == nothing_refunded(account)


@pytest.mark.parametrize(
    "amount",
    [
        *BAD_AMOUNTS,
        "x" * 10_240,
        "1\x00",
        "\x07 5",
        "123.46",
        "+5",
        "0x10",
    ],
)
def test_amount_fuzz_is_422_with_the_message_beside_the_field(app, paid, finance, amount):
    account, (order_id,) = paid()
    response = refund_http(finance[0], order_id, amount)
    assert response.status_code == 422
    assert soup(response).select_one("#amount-error")
    assert money(app, account, order_id) == nothing_refunded(account)


def test_spaces_around_the_amount_are_trimmed(app, paid, finance):
    account, (order_id,) = paid()
    assert refund_http(finance[0], order_id, " 10 ").status_code == 303
    assert money(app, account, order_id)["refunded"] == 1_000


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "bad\x00reason", "two\nlines"])
def test_a_reason_is_required_and_checked(app, paid, finance, reason):
    account, (order_id,) = paid()
    response = refund_http(finance[0], order_id, "10", reason)
    assert response.status_code == 422
    assert soup(response).select_one("#reason-error")
    assert money(app, account, order_id) == nothing_refunded(account)


@pytest.mark.parametrize("bad_key", ["", "x" * 10_240, "g" * 32, "a" * 31 + "\x00"])
def test_a_bad_key_is_422(app, paid, finance, bad_key):
    account, (order_id,) = paid()
    response = refund_http(finance[0], order_id, "10", k=bad_key)
    assert response.status_code == 422
    assert soup(response).select_one(".form-errors")
    assert money(app, account, order_id) == nothing_refunded(account)


def test_the_same_key_twice_refunds_once(app, paid, finance):
    account, (order_id,) = paid()
    answers = [refund_http(finance[0], order_id, "10", k=key(7)).status_code for _ in range(3)]
    assert answers == [303] * 3
    state = money(app, account, order_id)
    assert (state["refunded"], state["refunds"], state["audits"]) == (1_000, 1, 1)
    changed = refund_http(finance[0], order_id, "11", k=key(7))
    assert changed.status_code == 409
    assert money(app, account, order_id)["refunded"] == 1_000


def test_a_key_used_on_another_order_is_refused(app, paid, finance):
    account, (first, second) = paid(count=2)
    assert refund_http(finance[0], first, "10", k=key(9)).status_code == 303
    assert refund_http(finance[0], second, "10", k=key(9)).status_code == 409
    assert money(app, account, second)["refunded"] == 0


def test_an_unpaid_order_is_not_refunded(app, billed, finance):  # noqa: F811
    account, (order_id,) = billed(balance_fen=START)
    page = soup(finance[0].get(f"/ops/orders/{order_id}"))
    assert not page.select("#order-refunds")
    response = refund_http(finance[0], order_id, "10")
    assert response.status_code == 409
    assert soup(response).select_one("[data-testid=refund-error]")
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.status, order.refunded_fen) == ("awaiting_payment", 0)
        with pytest.raises(refunds.NotRefundable):
            refunds.refund(db.session.get(User, finance[1].id), order, 100, REASON, key(1))
        db.session.rollback()
        assert ledger.balance_fen(db.session.get(User, account.id)) == START


def refund_in_thread(staff, order_id: int, amount: int, k: str) -> int:
    actor = db.session.get(User, staff.id)
    posted = refunds.refund(actor, db.session.get(Order, order_id), amount, REASON, k)
    db.session.commit()
    return posted.id


def test_refunds_at_once_never_exceed_the_payment(app, paid, finance):
    account, (order_id,) = paid()
    staff = finance[1]
    results = run_together(app, 5, lambda i: refund_in_thread(staff, order_id, 3_000, key(i)))
    done = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, refunds.RefundTooLarge)]
    assert (len(done), len(refused)) == (4, 1), [repr(r) for r in results]
    state = money(app, account, order_id)
    assert (state["refunded"], state["refunds"]) == (12_000, 4)
    assert state["balance"] == START - BILL + 12_000


def test_two_refunds_at_once_that_together_exceed_the_payment(app, paid, finance):
    account, (order_id,) = paid()
    staff = finance[1]
    results = run_together(app, 2, lambda i: refund_in_thread(staff, order_id, 10_000, key(i)))
    assert sorted(type(r).__name__ for r in results) == ["RefundTooLarge", "int"], results
    assert money(app, account, order_id)["refunded"] == 10_000


def test_the_same_key_at_once_refunds_once(app, paid, finance):
    account, (order_id,) = paid()
    staff = finance[1]
    results = run_together(app, 5, lambda i: refund_in_thread(staff, order_id, 1_000, key(42)))
    assert all(isinstance(r, int) for r in results), [repr(r) for r in results]
    assert len(set(results)) == 1
    state = money(app, account, order_id)
    assert (state["refunded"], state["refunds"], state["audits"]) == (1_000, 1, 1)


# ---- cancelling a paid order ----------------------------------------------------------------


def cancel_http(client, order_id: int, reason: str = "客户要求取消", k: str | None = None):
    data = {"reason": reason, "key": key(5) if k is None else k}
    return post(client, f"/ops/orders/{order_id}/cancel-refund", data)


def parcels_of(order_id: int) -> list[tuple[str, bool]]:
    rows = db.session.execute(
        select(Parcel.status, OrderParcel.released_at.is_not(None))
        .join(OrderParcel, OrderParcel.parcel_id == Parcel.id)
        .where(OrderParcel.order_id == order_id)
    )
    return [tuple(row) for row in rows]


def test_cancelling_a_paid_order_releases_parcels_and_refunds_everything(app, paid, finance):
    account, (order_id,) = paid()
    client, staff = finance
    link = soup(client.get(f"/ops/orders/{order_id}")).select_one(
        "[data-testid=action-cancel-refund]"
    )
    assert link["href"] == f"/ops/orders/{order_id}/cancel-refund"
    confirm = soup(client.get(link["href"]))
    assert confirm.select_one("[data-testid=cancel-refund-amount]")["data-fen"] == str(BILL)
    assert confirm.select_one("[data-testid=confirm-cancel-refund]")
    assert confirm.select_one("[data-testid=cancel-refund-coupon]") is None  # paid without one

    response = cancel_http(client, order_id)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ops/orders/{order_id}"
    state = money(app, account, order_id)
    assert (state["status"], state["refunded"], state["balance"], state["refunds"]) == (
        "cancelled",
        BILL,
        START,
        1,
    )
    with app.app_context():
        assert parcels_of(order_id) == [("expected", True)]
        order = db.session.get(Order, order_id)
        assert (order.events[-1].from_status, order.events[-1].to_status) == ("paid", "cancelled")
        entry = db.session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.actor_id, entry.reason) == (
            "order.cancel",
            staff.id,
            "客户要求取消",
        )
        assert entry.before == {"status": "paid", "refunded_fen": 0}
        assert entry.after == {"status": "cancelled", "refunded_fen": BILL, "refund_fen": BILL}
        kinds = db.session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == account.id)
            .order_by(Notification.id)
        )
        assert list(kinds)[-2:] == ["order_refunded", "order_cancelled"]
    # a double click: the same key finds the same refund and changes nothing
    assert cancel_http(client, order_id).status_code == 303
    assert money(app, account, order_id) == state


def test_after_a_partial_refund_cancelling_refunds_the_rest_only(app, paid, finance):
    account, (order_id,) = paid()
    client = finance[0]
    assert refund_http(client, order_id, "20.00", k=key(1)).status_code == 303
    assert cancel_http(client, order_id, k=key(2)).status_code == 303
    state = money(app, account, order_id)
    assert (state["status"], state["refunded"], state["balance"], state["refunds"]) == (
        "cancelled",
        BILL,
        START,
        2,
    )
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "order.cancel")
        ).one()
        assert entry.after["refund_fen"] == BILL - 2_000
    # a cancelled order that was paid is still refundable in principle, but nothing is left
    assert refund_http(client, order_id, "0.01", k=key(3)).status_code == 409


def test_a_fully_refunded_order_is_cancelled_without_another_refund(app, paid, finance):
    account, (order_id,) = paid()
    client = finance[0]
    assert refund_http(client, order_id, "123.45", k=key(1)).status_code == 303
    assert cancel_http(client, order_id, k=key(2)).status_code == 303
    state = money(app, account, order_id)
    assert (state["status"], state["refunded"], state["refunds"]) == ("cancelled", BILL, 1)


@pytest.mark.parametrize("reason", ["", "x" * 201, "bad\x00reason"])
def test_cancelling_needs_a_reason(app, paid, finance, reason):
    account, (order_id,) = paid()
    response = cancel_http(finance[0], order_id, reason)
    assert response.status_code == 422
    assert soup(response).select_one("#reason-error")
    assert money(app, account, order_id) == nothing_refunded(account)


def test_cancelling_with_a_bad_key_is_422(app, paid, finance):
    account, (order_id,) = paid()
    assert cancel_http(finance[0], order_id, k="nope").status_code == 422
    assert money(app, account, order_id) == nothing_refunded(account)


def test_cancel_with_refund_refuses_unpaid_and_shipped_orders(app, billed, paid, finance):  # noqa: F811
    _, (unpaid_id,) = billed(balance_fen=START)
    account, (shipped_id,) = paid()
    with app.app_context():
        db.session.get(Order, shipped_id).status = "shipped"
        db.session.commit()
    for order_id, status in ((unpaid_id, "awaiting_payment"), (shipped_id, "shipped")):
        response = cancel_http(finance[0], order_id)
        assert response.status_code == 409
        assert soup(response).select_one("[data-testid=cancel-error]")
        with app.app_context():
            assert db.session.get(Order, order_id).status == status
    assert money(app, account, shipped_id)["refunds"] == 0
    # A finance-only clerk is not offered the unpaid-order form that would answer 403.
    page = soup(finance[0].get(f"/ops/orders/{unpaid_id}/cancel-refund"))
    assert page.select_one("[data-testid=cancel-not-allowed]")
    assert page.select_one("[data-testid=confirm-cancel]") is None


def test_a_cancel_and_a_refund_at_once_never_exceed_the_payment(app, paid, finance):
    account, (order_id,) = paid()
    staff = finance[1]

    def work(i: int):
        actor = db.session.get(User, staff.id)
        order = db.session.get(Order, order_id)
        if i == 0:
            refunds.cancel_paid_order(actor, order, "客户要求取消", key(100))
        else:
            refunds.refund(actor, order, 5_000, REASON, key(i))
        db.session.commit()
        return "ok"

    results = run_together(app, 3, work)
    assert "ok" in results, results
    assert all(r == "ok" or isinstance(r, refunds.RefundTooLarge) for r in results), results
    state = money(app, account, order_id)
    assert state["refunded"] <= BILL
    assert state["balance"] == START - BILL + state["refunded"]


# ---- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["warehouse", "service"])
def test_only_finance_refunds(app, paid, make_staff, role):
    account, (order_id,) = paid()
    client = app.test_client()
    login(client, make_staff(role))
    page = soup(client.get(f"/ops/orders/{order_id}"))
    assert page.select_one("[data-testid=paid-total]")
    assert not page.select("form#refund-form")
    assert not page.select("[data-testid=action-cancel-refund]")
    token = csrf_token(client)
    for url, data in (
        (f"/ops/orders/{order_id}/refund", {"amount": "10", "reason": REASON, "key": key(1)}),
        (f"/ops/orders/{order_id}/cancel-refund", {"reason": REASON, "key": key(2)}),
    ):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403
    assert money(app, account, order_id) == nothing_refunded(account)


def test_customers_get_404_and_unknown_orders_404(app, paid, finance):
    account, (order_id,) = paid()
    customer = app.test_client()
    login(customer, account)
    assert refund_http(customer, order_id, "10").status_code == 404
    assert cancel_http(customer, order_id).status_code == 404
    for missing in (999_999, 2**31, 2**63):
        assert refund_http(finance[0], missing, "10").status_code == 404
        assert cancel_http(finance[0], missing).status_code == 404
    assert money(app, account, order_id) == nothing_refunded(account)


# ---- separation of duties ---------------------------------------------------------------------


def test_staff_cannot_refund_or_cancel_their_own_order(app, paid):
    account, (order_id,) = paid()
    with app.app_context():
        user = db.session.get(User, account.id)
        user.roles.append(UserRole(role="finance"))
        db.session.commit()
    client = app.test_client()
    login(client, account)
    assert refund_http(client, order_id, "20.00").status_code == 409
    cancel = cancel_http(client, order_id, k=key(2))
    assert cancel.status_code == 409
    assert money(app, account, order_id) == nothing_refunded(account)
    with app.app_context():
        staff = db.session.get(User, account.id)
        order = db.session.get(Order, order_id)
        for act in (
            lambda: refunds.refund(staff, order, 100, REASON, key(3)),
            lambda: refunds.cancel_paid_order(staff, order, REASON, key(4)),
        ):
            with pytest.raises(refunds.OwnOrder):
                act()
            db.session.rollback()
