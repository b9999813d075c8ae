"""An exception injected between the ledger insert and the rest of a money act (status change,
notification, audit) answers the generic error page and leaves nothing written."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEntry,
    LedgerEntry,
    LedgerTransaction,
    Notification,
    Order,
    OrderEvent,
    OrderParcel,
    Recharge,
    User,
)
from portal.services import ledger, notifications, payments, recharges, refunds
from tests.helpers import login, post, soup
from tests.test_payments import BILL, billed  # noqa: F401

START = 50_000
SECRET = "injected failure: password=hunter2"


def boom(*_args, **_kwargs):
    raise RuntimeError(SECRET)


def footprint(app, customer_id: int) -> dict:
    """Every row and balance a money act may write."""
    with app.app_context():
        count = {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (
                LedgerTransaction,
                LedgerEntry,
                Notification,
                AuditEntry,
                OrderEvent,
            )
        }
        count["balance"] = ledger.balance_fen(db.session.get(User, customer_id))
        count["orders"] = sorted(
            db.session.execute(
                select(Order.id, Order.status, Order.paid_fen, Order.refunded_fen)
            ).all()
        )
        count["released"] = db.session.scalar(
            select(func.count())
            .select_from(OrderParcel)
            .where(OrderParcel.released_at.is_not(None))
        )
        count["recharges"] = sorted(
            db.session.execute(select(Recharge.id, Recharge.status, Recharge.transaction_id)).all()
        )
        return count


def assert_generic_error_page(response) -> None:
    assert response.status_code == 500
    page = soup(response)
    assert page.find("html") is not None
    assert page.find(class_="status").get_text(strip=True) == "500"
    body = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "hunter2", "injected failure"):
        assert leak not in body


def logged_in(app, account):
    client = app.test_client()
    login(client, account)
    return client


@pytest.mark.parametrize(
    "target",
    [(payments, "transition"), (notifications, "notify"), (payments, "_tell_staff")],
    ids=["status-change", "notification", "staff-notification"],
)
def test_a_crash_while_paying_writes_nothing(app, billed, make_staff, monkeypatch, target):  # noqa: F811
    account, (order_id,) = billed(balance_fen=START)
    make_staff("warehouse")
    client = logged_in(app, account)
    with app.app_context():
        order_no = db.session.get(Order, order_id).order_no
    before = footprint(app, account.id)
    monkeypatch.setattr(*target, boom)
    response = post(client, f"/orders/{order_no}/pay", {"attempt": "a" * 32})
    assert_generic_error_page(response)
    assert footprint(app, account.id) == before
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.status, order.paid_fen) == ("awaiting_payment", None)
        assert ledger.balance_fen(db.session.get(User, account.id)) == START
    # once the fault is gone, the same attempt pays, once
    monkeypatch.undo()
    assert post(client, f"/orders/{order_no}/pay", {"attempt": "a" * 32}).status_code == 303
    with app.app_context():
        assert ledger.balance_fen(db.session.get(User, account.id)) == START - BILL


def test_a_crash_while_paying_with_htmx_goes_to_the_flash_region(app, billed, monkeypatch):  # noqa: F811
    account, (order_id,) = billed(balance_fen=START)
    client = logged_in(app, account)
    with app.app_context():
        order_no = db.session.get(Order, order_id).order_no
    before = footprint(app, account.id)
    monkeypatch.setattr(payments, "transition", boom)
    response = post(client, f"/orders/{order_no}/pay", {"attempt": "b" * 32}, htmx=True)
    assert response.status_code == 500
    assert response.headers["HX-Retarget"] == "#flash"
    assert "hunter2" not in response.get_data(as_text=True)
    assert footprint(app, account.id) == before


@pytest.fixture
def paid_order(app, billed, make_staff):  # noqa: F811
    """A paid order and a logged-in finance client: (account, order id, client)."""
    account, (order_id,) = billed(balance_fen=START)
    with app.app_context():
        customer = db.session.get(User, account.id)
        payments.pay_order(customer, db.session.get(Order, order_id), "pay-1")
        db.session.commit()
    return account, order_id, logged_in(app, make_staff("finance"))


@pytest.mark.parametrize(
    "target",
    [(refunds.notifications, "notify"), (refunds.audit, "record")],
    ids=["before-audit", "at-audit"],
)
def test_a_crash_while_refunding_writes_nothing(app, paid_order, monkeypatch, target):
    account, order_id, client = paid_order
    before = footprint(app, account.id)
    monkeypatch.setattr(*target, boom)
    data = {"amount": "20.00", "reason": "重量更正", "key": "c" * 32}
    response = post(client, f"/ops/orders/{order_id}/refund", data)
    assert_generic_error_page(response)
    assert footprint(app, account.id) == before
    with app.app_context():
        assert db.session.get(Order, order_id).refunded_fen == 0
        assert ledger.balance_fen(db.session.get(User, account.id)) == START - BILL


@pytest.mark.parametrize(
    "target",
    [(refunds, "release_parcels"), (refunds.notifications, "notify"), (refunds.audit, "record")],
    ids=["releasing", "notification", "audit"],
)
def test_a_crash_while_cancelling_with_a_refund_writes_nothing(
    app, paid_order, monkeypatch, target
):
    account, order_id, client = paid_order
    before = footprint(app, account.id)
    monkeypatch.setattr(*target, boom)
    data = {"reason": "客户要求取消", "key": "d" * 32}
    response = post(client, f"/ops/orders/{order_id}/cancel-refund", data)
    assert_generic_error_page(response)
    assert footprint(app, account.id) == before
    with app.app_context():
        assert db.session.get(Order, order_id).status == "paid"


@pytest.mark.parametrize(
    "target",
    [(recharges.notifications, "notify"), (recharges.audit, "record")],
    ids=["notification", "audit"],
)
def test_a_crash_while_approving_a_recharge_writes_nothing(
    app, make_customer, make_staff, monkeypatch, target
):
    account = make_customer()
    with app.app_context():
        recharge = Recharge(
            recharge_no="R2026110100001",
            customer_id=account.id,
            method="bank_transfer",
            status="submitted",
            amount_fen=30_000,
            receipt_key="receipt.jpg",
            receipt_thumb_key="receipt-thumb.jpg",
            submit_token="token-1",
        )
        db.session.add(recharge)
        db.session.commit()
        recharge_id = recharge.id
    client = logged_in(app, make_staff("finance"))
    before = footprint(app, account.id)
    monkeypatch.setattr(*target, boom)
    response = post(client, f"/ops/recharges/{recharge_id}/approve", {})
    assert_generic_error_page(response)
    assert footprint(app, account.id) == before
    with app.app_context():
        found = db.session.get(Recharge, recharge_id)
        assert (found.status, found.transaction_id, found.credited_at) == ("submitted", None, None)
        assert ledger.balance_fen(db.session.get(User, account.id)) == 0
    monkeypatch.undo()
    assert post(client, f"/ops/recharges/{recharge_id}/approve", {}).status_code == 303
    with app.app_context():
        assert ledger.balance_fen(db.session.get(User, account.id)) == 30_000
