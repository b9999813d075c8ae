"""Finance's recharge review in ops: the queue (oldest first, receipts, tabs, search), approving
(credits once, notifies, audits), rejecting (a reason), races between reviewers, receipts."""

from datetime import UTC, datetime, timedelta

import pytest

from portal.extensions import db
from portal.models import LedgerTransaction, Recharge, User
from portal.services import ledger, notifications, recharges
from portal.services.recharges import AlreadyReviewed
from tests.conftest import run_together
from tests.finance_helpers import (
    audit_entries,
    balance,
    make_recharge,
    notifications_of,
    transactions,
)
from tests.helpers import HTMX, login, post, soup

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def uploads(app, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


def status_of(app, recharge_id: int) -> str:
    with app.app_context():
        return db.session.get(Recharge, recharge_id).status


def row_ids(response) -> list[int]:
    return [
        int(row["data-recharge-id"])
        for row in soup(response).find_all(attrs={"data-testid": "recharge-row"})
    ]


def tab_counts(response) -> dict[str, int]:
    return {
        tab["data-tab"]: int(tab.find(attrs={"data-testid": "count"}).get_text(strip=True))
        for tab in soup(response).find_all(attrs={"data-testid": "tab"})
    }


# --- The queue ---------------------------------------------------------------------------------


def test_the_queue_lists_waiting_recharges_oldest_first_with_their_receipts(
    app, finance, clerk, make_customer
):
    customer = make_customer()
    newest = make_recharge(app, customer.id, created_at=T0 + timedelta(hours=2))
    oldest = make_recharge(app, customer.id, created_at=T0)
    middle = make_recharge(app, customer.id, method="qr", created_at=T0 + timedelta(hours=1))
    decided = make_recharge(app, customer.id)
    with app.app_context():
        recharges.reject(db.session.get(User, clerk.id), decided, "没有到账")
        db.session.commit()

    response = finance.get("/ops/recharges")
    assert response.status_code == 200
    assert row_ids(response) == [oldest, middle, newest]
    assert tab_counts(response) == {"pending": 3, "approved": 0, "rejected": 1, "online": 0}
    thumbs = soup(response).find_all(attrs={"data-testid": "receipt-thumb"})
    assert [img["src"] for img in thumbs][0] == f"/ops/recharges/{oldest}/receipt/thumb"
    first = soup(response).find(id=f"recharge-{oldest}")
    assert first.find(attrs={"data-testid": "amount"})["data-fen"] == "10000"
    assert first.find("form", action=f"/ops/recharges/{oldest}/approve")
    assert first.find("form", action=f"/ops/recharges/{oldest}/reject")

    rejected = finance.get("/ops/recharges?tab=rejected")
    assert row_ids(rejected) == [decided]
    assert not soup(rejected).find(attrs={"data-testid": "approve"})


def test_search_by_number_customer_code_or_phone_and_filter_by_method(app, finance, make_customer):
    alice, bob = make_customer("13912345678"), make_customer()
    transfer = make_recharge(app, alice.id)
    scan = make_recharge(app, alice.id, method="qr")
    other = make_recharge(app, bob.id)
    with app.app_context():
        number = db.session.get(Recharge, other).recharge_no

    assert row_ids(finance.get(f"/ops/recharges?q={number.lower()}")) == [other]
    assert row_ids(finance.get(f"/ops/recharges?q={alice.customer_code}")) == [transfer, scan]
    assert row_ids(finance.get("/ops/recharges?q=139 1234 5678")) == [transfer, scan]
    filtered = finance.get(f"/ops/recharges?q={alice.customer_code}&method=qr")
    assert row_ids(filtered) == [scan]
    assert tab_counts(filtered)["pending"] == 1
    assert row_ids(finance.get("/ops/recharges?q=NOBODY")) == []


@pytest.mark.parametrize("q", ["x" * 41, "a\x00b", "line\nbreak", "\x07"])
def test_unusable_search_words_are_refused_beside_the_field(finance, q):
    response = finance.get("/ops/recharges", query_string={"q": q})
    assert response.status_code == 422
    assert soup(response).find(id="recharges-q-error").get_text(strip=True)


def test_a_fragment_for_htmx_and_pages_of_fifty(app, finance, make_customer):
    customer = make_customer()
    ids = [make_recharge(app, customer.id, created_at=T0 + timedelta(minutes=i)) for i in range(51)]
    first = finance.get("/ops/recharges")
    assert row_ids(first) == ids[:50]
    second = finance.get("/ops/recharges?page=2", headers=HTMX)
    assert row_ids(second) == [ids[50]]
    assert "<html" not in second.get_data(as_text=True)
    assert soup(second).find(id="recharge-queue")
    assert "HX-Request" in second.headers["Vary"]
    assert finance.get("/ops/recharges?page=abc").status_code == 404


def test_the_recharge_page_shows_the_receipt_balance_and_recent_recharges(
    app, finance, clerk, make_customer
):
    customer = make_customer()
    earlier = make_recharge(app, customer.id, amount_fen=5_000)
    recharge_id = make_recharge(app, customer.id, amount_fen=12_345)
    with app.app_context():
        recharges.approve(db.session.get(User, clerk.id), earlier)
        db.session.commit()

    page = soup(finance.get(f"/ops/recharges/{recharge_id}"))
    assert page.find(attrs={"data-testid": "amount"})["data-fen"] == "12345"
    assert page.find(attrs={"data-testid": "balance"})["data-fen"] == "5000"
    assert (
        page.find(attrs={"data-testid": "receipt"})["src"]
        == f"/ops/recharges/{recharge_id}/receipt"
    )
    recent = page.find_all(attrs={"data-testid": "recent-recharge"})
    assert len(recent) == 1
    assert page.find("input", attrs={"name": "next", "value": "file"})


@pytest.mark.parametrize("recharge_id", ["999999", str(2**31), str(2**63), "0"])
def test_unknown_recharges_are_404(finance, recharge_id):
    assert finance.get(f"/ops/recharges/{recharge_id}").status_code == 404
    assert finance.get(f"/ops/recharges/{recharge_id}/receipt").status_code == 404
    assert post(finance, f"/ops/recharges/{recharge_id}/approve").status_code == 404
    assert post(finance, f"/ops/recharges/{recharge_id}/reject", {"reason": "x"}).status_code == 404


# --- Approving ---------------------------------------------------------------------------------


def test_approving_credits_the_balance_by_the_amount_notifies_and_audits(
    app, finance, clerk, make_customer
):
    customer = make_customer()
    recharge_id = make_recharge(app, customer.id, amount_fen=12_345)

    response = post(finance, f"/ops/recharges/{recharge_id}/approve", {"next": "queue"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/ops/recharges"
    assert balance(app, customer.id) == 12_345
    with app.app_context():
        recharge = db.session.get(Recharge, recharge_id)
        assert (recharge.status, recharge.reviewer_id) == ("approved", clerk.id)
        assert recharge.credited_at is not None
        transaction = db.session.get(LedgerTransaction, recharge.transaction_id)
        assert transaction.kind == "recharge"
        assert transaction.idempotency_key == f"recharge:{recharge_id}"
        assert transaction.actor_id == clerk.id
        assert sorted(e.amount_fen for e in transaction.entries) == [-12_345, 12_345]
        assert ledger.account("platform_bank").balance_fen == -12_345
    assert notifications_of(app, customer.id, notifications.RECHARGE_APPROVED) == [
        {"recharge_no": recharge.recharge_no, "amount": "123.45"}
    ]
    (entry,) = audit_entries(app, "recharge.approve")
    assert (entry.actor_id, entry.entity_id) == (clerk.id, recharge.recharge_no)


def test_approving_from_its_page_opens_the_next_waiting_one(app, finance, make_customer):
    customer = make_customer()
    first = make_recharge(app, customer.id, created_at=T0)
    second = make_recharge(app, customer.id, created_at=T0 + timedelta(minutes=5))
    response = post(finance, f"/ops/recharges/{first}/approve", {"next": "file"})
    assert response.headers["Location"] == f"/ops/recharges/{second}"
    response = post(finance, f"/ops/recharges/{second}/approve", {"next": "file"}, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/ops/recharges"
    assert balance(app, customer.id) == 20_000


def test_a_double_click_credits_once_and_the_second_answer_says_already_reviewed(
    app, finance, make_customer
):
    customer = make_customer()
    recharge_id = make_recharge(app, customer.id, amount_fen=8_000)
    first = post(finance, f"/ops/recharges/{recharge_id}/approve")
    second = post(finance, f"/ops/recharges/{recharge_id}/approve")
    assert first.status_code == 303
    assert second.status_code == 409
    assert soup(second).find(attrs={"data-testid": "already-reviewed"}).get_text(strip=True)
    assert soup(second).find(attrs={"data-testid": "recharge-file"})["data-status"] == "approved"
    assert balance(app, customer.id) == 8_000
    assert transactions(app, "recharge") == 1
    assert len(notifications_of(app, customer.id, notifications.RECHARGE_APPROVED)) == 1
    htmx = post(finance, f"/ops/recharges/{recharge_id}/reject", {"reason": "晚了"}, htmx=True)
    assert htmx.status_code == 409
    assert htmx.headers["HX-Retarget"] == "#flash"
    assert status_of(app, recharge_id) == "approved"


def test_the_already_reviewed_message_in_english(app, finance, make_customer):
    customer = make_customer()
    recharge_id = make_recharge(app, customer.id)
    post(finance, "/language", {"lang": "en", "next": "/"})
    post(finance, f"/ops/recharges/{recharge_id}/approve")
    second = post(finance, f"/ops/recharges/{recharge_id}/approve")
    assert "already been reviewed" in second.get_data(as_text=True)


@pytest.mark.parametrize("threads", [2, 10])
def test_reviewers_approving_at_once_credit_once(app, make_customer, make_staff, threads):
    customer = make_customer()
    staff = [make_staff("finance") for _ in range(threads)]
    recharge_id = make_recharge(app, customer.id, amount_fen=7_700)

    def approve(i: int):
        done = recharges.approve(db.session.get(User, staff[i].id), recharge_id)
        db.session.commit()
        return done.status

    results = run_together(app, threads, approve)
    assert results.count("approved") == 1, [repr(r) for r in results]
    assert all(isinstance(r, AlreadyReviewed) for r in results if r != "approved"), results
    assert balance(app, customer.id) == 7_700
    assert transactions(app, "recharge") == 1
    assert len(audit_entries(app, "recharge.approve")) == 1


def test_approve_racing_reject_has_exactly_one_outcome(app, make_customer, make_staff):
    customer = make_customer()
    one, two = make_staff("finance"), make_staff("finance")
    recharge_id = make_recharge(app, customer.id, amount_fen=3_000)

    def decide(i: int):
        if i == 0:
            done = recharges.approve(db.session.get(User, one.id), recharge_id)
        else:
            done = recharges.reject(db.session.get(User, two.id), recharge_id, "金额不符")
        db.session.commit()
        return done.status

    results = run_together(app, 2, decide)
    outcomes = [r for r in results if isinstance(r, str)]
    assert len(outcomes) == 1 and isinstance(
        next(r for r in results if not isinstance(r, str)), AlreadyReviewed
    ), results
    assert status_of(app, recharge_id) == outcomes[0]
    assert balance(app, customer.id) == (3_000 if outcomes == ["approved"] else 0)
    assert transactions(app, "recharge") == (1 if outcomes == ["approved"] else 0)


# --- Rejecting ---------------------------------------------------------------------------------


def test_rejecting_tells_the_customer_why_and_credits_nothing(app, finance, clerk, make_customer):
    customer = make_customer()
    recharge_id = make_recharge(app, customer.id)
    response = post(
        finance, f"/ops/recharges/{recharge_id}/reject", {"reason": "  未收到这笔转账 "}
    )
    assert response.status_code == 303
    with app.app_context():
        recharge = db.session.get(Recharge, recharge_id)
        assert (recharge.status, recharge.reject_reason) == ("rejected", "未收到这笔转账")
        assert recharge.transaction_id is None
    assert balance(app, customer.id) == 0
    assert transactions(app, "recharge") == 0
    (told,) = notifications_of(app, customer.id, notifications.RECHARGE_REJECTED)
    assert told["reason"] == "未收到这笔转账"
    (entry,) = audit_entries(app, "recharge.reject")
    assert (entry.actor_id, entry.reason) == (clerk.id, "未收到这笔转账")


BAD_REASONS = ["", "   ", "x" * 201, "no\x00pe", "bell\x07", "tab\x1b[31m"]


@pytest.mark.parametrize("reason", BAD_REASONS)
def test_a_reject_needs_a_usable_reason(app, finance, make_customer, reason):
    customer = make_customer()
    recharge_id = make_recharge(app, customer.id)
    response = post(finance, f"/ops/recharges/{recharge_id}/reject", {"reason": reason})
    assert response.status_code == 422
    error = soup(response).find(id=f"recharge-{recharge_id}-reason-error")
    assert error.get_text(strip=True)
    field = soup(response).find(id=f"recharge-{recharge_id}-reason")
    assert field["aria-invalid"] == "true"
    partial = post(finance, f"/ops/recharges/{recharge_id}/reject", {"reason": reason}, htmx=True)
    assert partial.status_code == 422
    assert soup(partial).find(id=f"recharge-{recharge_id}-reject")
    assert "<html" not in partial.get_data(as_text=True)
    assert status_of(app, recharge_id) == "submitted"
    assert notifications_of(app, customer.id, notifications.RECHARGE_REJECTED) == []
    assert audit_entries(app, "recharge.reject") == []


def test_a_reject_without_a_reason_field_is_refused(app, finance, make_customer):
    customer = make_customer()
    recharge_id = make_recharge(app, customer.id)
    assert post(finance, f"/ops/recharges/{recharge_id}/reject").status_code == 422
    assert status_of(app, recharge_id) == "submitted"


# --- Receipts and access -----------------------------------------------------------------------


def test_the_receipt_is_sent_as_an_attachment_to_finance_only(
    app, client, finance, make_customer, make_staff
):
    customer = make_customer()
    recharge_id = make_recharge(app, customer.id)
    for url in (
        f"/ops/recharges/{recharge_id}/receipt",
        f"/ops/recharges/{recharge_id}/receipt/thumb",
    ):
        response = finance.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.mimetype == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "private" in response.headers["Cache-Control"]
        response.close()
    warehouse = app.test_client()
    login(warehouse, make_staff("warehouse"))
    assert warehouse.get(f"/ops/recharges/{recharge_id}/receipt").status_code == 403
    assert warehouse.get("/ops/recharges").status_code == 403
    assert post(warehouse, f"/ops/recharges/{recharge_id}/approve").status_code == 403
    owner = app.test_client()
    login(owner, customer)
    assert owner.get(f"/ops/recharges/{recharge_id}/receipt").status_code == 404
    assert balance(app, customer.id) == 0


def test_the_dashboard_and_the_menu_count_the_recharges_to_review(
    app, finance, clerk, make_customer
):
    customer = make_customer()
    for _ in range(3):
        make_recharge(app, customer.id)
    approved = make_recharge(app, customer.id)
    with app.app_context():
        recharges.approve(db.session.get(User, clerk.id), approved)
        db.session.commit()
    page = soup(finance.get("/ops/"))
    tile = page.find(attrs={"data-testid": "count-pending_recharges"})
    assert tile.find(class_="ops-dash-number").get_text(strip=True) == "3"
    assert (
        page.find(attrs={"data-testid": "count-pending_recharges-link"})["href"] == "/ops/recharges"
    )
    assert page.find(attrs={"data-testid": "nav-pending-recharges"}).get_text(strip=True) == "3"
    elsewhere = soup(finance.get("/ops/reconciliation"))
    assert (
        elsewhere.find(attrs={"data-testid": "nav-pending-recharges"}).get_text(strip=True) == "3"
    )


def test_the_menu_shows_no_finance_to_the_warehouse(app, client, make_staff):
    login(client, make_staff("warehouse"))
    page = soup(client.get("/ops/"))
    assert not page.find(attrs={"data-testid": "nav-recharges"})
    assert not page.find(attrs={"data-testid": "count-pending_recharges-link"})
