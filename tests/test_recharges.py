"""The recharge service: submitted for review, approved or rejected once; online credited once."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, LedgerTransaction, Notification, Recharge, SecurityEvent, User
from portal.services import ledger, recharges
from portal.services.errors import ValidationFailed
from portal.services.images import StoredImage
from tests.conftest import run_together
from tests.helpers import login, post

RECEIPT = StoredImage("receipt-key", "receipt-thumb")


def submit(account, amount_fen: int = 10_000, attempt: str = "t1", method: str = "bank_transfer"):
    customer = db.session.get(User, account.id)
    recharge, new = recharges.submit_for_review(
        customer, method, amount_fen, RECEIPT, attempt, payer_name="张三"
    )
    db.session.commit()
    return recharge.id, new


def credits() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(LedgerTransaction.kind == "recharge")
    )


def balance(account) -> int:
    return ledger.balance_fen(db.session.get(User, account.id))


def kinds_told(account) -> list[str]:
    return list(
        db.session.scalars(select(Notification.kind).where(Notification.user_id == account.id))
    )


@pytest.fixture
def people(make_customer, make_staff):
    return make_customer(), make_staff("finance")


def test_a_submitted_recharge_waits_and_the_same_token_returns_it(app, people):
    customer, _ = people
    with app.app_context():
        first, new = submit(customer)
        again, new_again = submit(customer)
        assert (new, new_again, first) == (True, False, again)
        recharge = db.session.get(Recharge, first)
        assert (recharge.status, recharge.amount_fen, recharge.method) == (
            "submitted",
            10_000,
            "bank_transfer",
        )
        assert recharge.recharge_no.startswith("CZ") and len(recharge.recharge_no) == 16
        assert (credits(), balance(customer)) == (0, 0)


def test_approval_credits_the_amount_once_tells_the_customer_and_is_audited(app, people):
    customer, clerk = people
    with app.app_context():
        rid, _ = submit(customer, 12_345)
        recharges.approve(db.session.get(User, clerk.id), rid)
        db.session.commit()
        recharge = db.session.get(Recharge, rid)
        assert (recharge.status, recharge.reviewer_id) == ("approved", clerk.id)
        assert recharge.transaction_id is not None and recharge.credited_at is not None
        assert balance(customer) == 12_345
        assert ledger.account("platform_bank").balance_fen == -12_345
        assert "recharge_approved" in kinds_told(customer)
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "recharge.approve"))
        assert (entry.actor_id, entry.entity_id) == (clerk.id, recharge.recharge_no)
        with pytest.raises(recharges.AlreadyReviewed):
            recharges.approve(db.session.get(User, clerk.id), rid)
        db.session.rollback()
        assert (credits(), balance(customer)) == (1, 12_345)


def test_rejection_needs_a_reason_credits_nothing_and_tells_why(app, people):
    customer, clerk = people
    with app.app_context():
        rid, _ = submit(customer)
        staff = db.session.get(User, clerk.id)
        for bad in ("", "   ", "x" * 201, "bad\x00reason", "a\x07b"):
            with pytest.raises(ValidationFailed):
                recharges.reject(staff, rid, bad)
        recharges.reject(staff, rid, "回单金额不符")
        db.session.commit()
        recharge = db.session.get(Recharge, rid)
        assert (recharge.status, recharge.reject_reason) == ("rejected", "回单金额不符")
        assert "recharge_rejected" in kinds_told(customer)
        with pytest.raises(recharges.AlreadyReviewed):
            recharges.approve(staff, rid)
        db.session.rollback()
        assert (credits(), balance(customer)) == (0, 0)


@pytest.mark.parametrize("threads", [2, 10])
def test_reviewers_approving_at_once_credit_once(app, people, threads):
    customer, clerk = people
    with app.app_context():
        rid, _ = submit(customer, 5_000)

    def approve(_):
        recharges.approve(db.session.get(User, clerk.id), rid)
        db.session.commit()
        return "approved"

    results = run_together(app, threads, approve)
    assert results.count("approved") == 1, results
    assert all(isinstance(r, recharges.AlreadyReviewed) for r in results if r != "approved")
    with app.app_context():
        assert (credits(), balance(customer)) == (1, 5_000)


def test_an_approval_racing_a_rejection_has_one_outcome(app, people):
    customer, clerk = people
    with app.app_context():
        rid, _ = submit(customer, 5_000)

    def decide(i):
        staff = db.session.get(User, clerk.id)
        if i % 2:
            recharges.reject(staff, rid, "重复提交")
        else:
            recharges.approve(staff, rid)
        db.session.commit()
        return "done"

    results = run_together(app, 4, decide)
    assert results.count("done") == 1, results
    with app.app_context():
        status = db.session.get(Recharge, rid).status
        assert credits() == (1 if status == "approved" else 0)
        assert balance(customer) == (5_000 if status == "approved" else 0)


def online(account, amount_fen: int = 8_800) -> str:
    recharge = recharges.start_online(db.session.get(User, account.id), amount_fen)
    db.session.commit()
    return recharge.recharge_no


def test_an_online_recharge_is_credited_once_whatever_the_replays(app, people):
    customer, _ = people
    with app.app_context():
        number = online(customer)
        assert db.session.scalar(select(Recharge.status)) == "created"
        first = recharges.credit_online(number, "2026113022001", 8_800)
        db.session.commit()
        replays = [recharges.credit_online(number, "2026113022001", 8_800)[1] for _ in range(10)]
        db.session.commit()
        assert first[1] is True and replays == [False] * 10
        recharge = db.session.get(Recharge, first[0].id)
        assert (recharge.status, recharge.gateway_trade_no) == ("paid", "2026113022001")
        assert (credits(), balance(customer)) == (1, 8_800)
        assert ledger.account("platform_gateway").balance_fen == -8_800
        assert kinds_told(customer).count("recharge_paid") == 1


@pytest.mark.parametrize(
    "change",
    [
        {"recharge_no": "CZ261130NOSUCH00"},
        {"amount_fen": 8_801},
        {"amount_fen": 1},
        {"trade_no": "another-trade"},
    ],
)
def test_notifications_that_do_not_match_credit_nothing(app, people, change):
    customer, _ = people
    with app.app_context():
        number = online(customer)
        recharges.credit_online(number, "trade-1", 8_800)
        db.session.commit()
        args = {"recharge_no": number, "trade_no": "trade-1", "amount_fen": 8_800} | change
        with pytest.raises(recharges.NotificationRefused):
            recharges.credit_online(**args)
        db.session.rollback()
        assert (credits(), balance(customer)) == (1, 8_800)


def test_a_reviewed_recharge_number_cannot_be_credited_as_online(app, people):
    customer, _ = people
    with app.app_context():
        rid, _ = submit(customer, 8_800)
        number = db.session.get(Recharge, rid).recharge_no
        with pytest.raises(recharges.NotificationRefused):
            recharges.credit_online(number, "trade-1", 8_800)
        db.session.rollback()
        assert credits() == 0


def test_ten_notifications_at_once_credit_once(app, people):
    customer, _ = people
    with app.app_context():
        number = online(customer)

    def notify(_):
        _, credited = recharges.credit_online(number, "trade-9", 8_800)
        db.session.commit()
        return credited

    results = run_together(app, 10, notify)
    assert results.count(True) == 1 and results.count(False) == 9, results
    with app.app_context():
        assert (credits(), balance(customer)) == (1, 8_800)


def test_security_events_are_kept(app):
    with app.app_context():
        recharges.record_security_event("bad_signature", {"out_trade_no": "x"}, "203.0.113.9")
        db.session.commit()
        event = db.session.scalar(select(SecurityEvent))
        assert (event.kind, event.detail, event.remote_addr) == (
            "bad_signature",
            {"out_trade_no": "x"},
            "203.0.113.9",
        )


def test_staff_cannot_review_their_own_recharge(app, make_staff):
    clerk = make_staff("finance")
    with app.app_context():
        rid, _ = submit(clerk, 1_234)
        staff = db.session.get(User, clerk.id)
        with pytest.raises(recharges.OwnRecharge):
            recharges.approve(staff, rid)
        db.session.rollback()
        with pytest.raises(recharges.OwnRecharge):
            recharges.reject(staff, rid, "自己的")
        db.session.rollback()
        assert (credits(), db.session.get(Recharge, rid).status) == (0, "submitted")
    client = app.test_client()
    login(client, clerk)
    assert post(client, f"/ops/recharges/{rid}/approve").status_code == 409
    with app.app_context():
        assert (credits(), balance(clerk)) == (0, 0)


def test_a_flood_of_security_events_from_one_address_is_capped(app):
    with app.app_context():
        stored = [
            recharges.record_security_event("bad_signature", {"n": n}, "203.0.113.9")
            for n in range(recharges.SECURITY_EVENTS_PER_MINUTE + 5)
        ]
        recharges.record_security_event("bad_signature", {"n": 0}, "198.51.100.7")
        db.session.commit()
        assert stored.count(True) == recharges.SECURITY_EVENTS_PER_MINUTE
        addresses = list(db.session.scalars(select(SecurityEvent.remote_addr)))
        assert addresses.count("203.0.113.9") == recharges.SECURITY_EVENTS_PER_MINUTE
        assert addresses.count("198.51.100.7") == 1
