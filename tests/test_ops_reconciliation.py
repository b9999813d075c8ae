"""The daily reconciliation: a day of mixed activity adds up, the Beijing day's edges, the
ledger cross-check flags a difference, bad days are refused, the CSV export."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from portal.extensions import db
from portal.models import Recharge, SecurityEvent, User
from portal.models.ledger import TRANSACTION_KINDS
from portal.services import adjustments, ledger, recharges, reconciliation
from portal.services.ledger import Line
from portal.services.ops_dashboard import beijing_today
from tests.finance_helpers import make_recharge
from tests.helpers import login, soup, sql_statements

DAY = date(2026, 11, 22)


@pytest.fixture(autouse=True)
def uploads(app, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")


def beijing(day: date, hour: int, minute: int) -> datetime:
    """A Beijing wall-clock time as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def method_row(page, method: str) -> dict[str, int]:
    row = page.find(attrs={"data-testid": "method-row", "data-method": method})
    return {
        "credited": int(row.find(attrs={"data-testid": "credited"}).get_text()),
        "fen": int(row.find(attrs={"data-testid": "credited-fen"})["data-fen"]),
        "submitted": int(row.find(attrs={"data-testid": "submitted"}).get_text()),
        "rejected": int(row.find(attrs={"data-testid": "rejected"}).get_text()),
    }


def figure(page, testid: str) -> tuple[int, int]:
    node = page.find(attrs={"data-testid": testid})
    return int(node["data-count"]), int(node["data-fen"])


@pytest.fixture
def busy_day(app, make_customer, clerk):
    """Today: recharges of every method and outcome, a payment, a refund, two adjustments."""
    customer = make_customer()
    approved = make_recharge(app, customer.id, amount_fen=10_000)
    scanned = make_recharge(app, customer.id, amount_fen=5_000, method="qr")
    rejected = make_recharge(app, customer.id, amount_fen=2_000)
    make_recharge(app, customer.id, amount_fen=1_000)
    with app.app_context():
        staff = db.session.get(User, clerk.id)
        buyer = db.session.get(User, customer.id)
        recharges.approve(staff, approved)
        recharges.approve(staff, scanned)
        recharges.reject(staff, rejected, "没有到账")
        online = recharges.start_online(buyer, 3_000)
        recharges.credit_online(online.recharge_no, "T2026112200001", 3_000)
        account = ledger.customer_balance(buyer)
        ledger.post(
            "payment",
            [Line(account, -4_000), Line(ledger.account("platform_revenue"), 4_000)],
            "p1",
        )
        ledger.post(
            "refund", [Line(ledger.account("platform_refunds"), -1_500), Line(account, 1_500)], "r1"
        )
        adjustments.adjust_balance(staff, buyer.id, "credit", "5", "补偿", "c" * 20)
        adjustments.adjust_balance(staff, buyer.id, "debit", "2", "扣减", "d" * 20)
        recharges.record_security_event("bad_signature", {"n": 1}, "10.0.0.1")
        recharges.record_security_event("bad_signature", {"n": 2}, "10.0.0.2")
        db.session.commit()
    return customer


def test_a_day_of_mixed_activity_adds_up(app, finance, busy_day):
    day = beijing_today()
    response = finance.get(f"/ops/reconciliation?day={day.isoformat()}")
    assert response.status_code == 200
    page = soup(response)
    assert method_row(page, "bank_transfer") == {
        "credited": 1,
        "fen": 10_000,
        "submitted": 3,
        "rejected": 1,
    }
    assert method_row(page, "qr") == {"credited": 1, "fen": 5_000, "submitted": 1, "rejected": 0}
    assert method_row(page, "online") == {
        "credited": 1,
        "fen": 3_000,
        "submitted": 1,
        "rejected": 0,
    }
    assert method_row(page, "all") == {"credited": 3, "fen": 18_000, "submitted": 5, "rejected": 1}
    assert figure(page, "payments") == (1, 4_000)
    assert figure(page, "refunds") == (1, 1_500)
    assert figure(page, "adjust-credits") == (1, 500)
    assert figure(page, "adjust-debits") == (1, 200)
    kinds = {
        row["data-kind"]: (
            int(row["data-count"]),
            int(row["data-credit-fen"]),
            int(row["data-debit-fen"]),
        )
        for row in page.find_all(attrs={"data-testid": "kind-row"})
    }
    assert kinds == {
        "recharge": (3, 18_000, 0),
        "payment": (1, 0, 4_000),
        "refund": (1, 1_500, 0),
        "adjustment": (2, 500, 200),
        "reversal": (0, 0, 0),
        "rebate": (0, 0, 0),
        "rebate_reversal": (0, 0, 0),
        "withdrawal": (0, 0, 0),
        "membership": (0, 0, 0),
    }
    assert page.find(attrs={"data-testid": "recharges-match"})
    assert not page.find(attrs={"data-testid": "recharges-mismatch"})
    assert page.find(attrs={"data-testid": "security-events"})["data-count"] == "2"
    assert len(page.find_all(attrs={"data-testid": "security-event"})) == 2
    assert finance.get("/ops/reconciliation").status_code == 200
    yesterday = soup(finance.get(f"/ops/reconciliation?day={day - timedelta(days=1)}"))
    assert method_row(yesterday, "all") == {"credited": 0, "fen": 0, "submitted": 0, "rejected": 0}


def test_the_report_costs_four_queries_whatever_the_day_holds(app, busy_day):
    with app.app_context(), sql_statements(app) as statements:
        report = reconciliation.day_report(beijing_today())
    assert report.recharged.credited == 3
    assert len([s for s in statements if s.startswith("SELECT")]) == 4


def add_recharge(app, customer_id: int, when: datetime, **values) -> None:
    """A credited transfer written straight into the recharge table (no ledger posting)."""
    with app.app_context():
        db.session.add(
            Recharge(
                recharge_no=f"CZTEST{when:%y%m%d%H%M}",
                customer_id=customer_id,
                method="bank_transfer",
                status="approved",
                amount_fen=values.pop("amount_fen", 100),
                created_at=when - timedelta(minutes=30),
                reviewed_at=when,
                credited_at=when,
                **values,
            )
        )
        db.session.add(SecurityEvent(kind="probe", detail={}, created_at=when))
        db.session.commit()


def test_the_beijing_day_edges(app, finance, make_customer):
    customer = make_customer()
    add_recharge(app, customer.id, beijing(DAY, 0, 1), amount_fen=100)
    add_recharge(app, customer.id, beijing(DAY, 23, 59), amount_fen=200)
    add_recharge(app, customer.id, beijing(DAY + timedelta(days=1), 0, 1), amount_fen=400)
    with app.app_context():
        assert [
            (m.credited, m.credited_fen)
            for m in (
                reconciliation.day_report(d).recharged for d in (DAY, DAY + timedelta(days=1))
            )
        ] == [(2, 300), (1, 400)]
    page = soup(finance.get(f"/ops/reconciliation?day={DAY.isoformat()}"))
    assert method_row(page, "bank_transfer")["fen"] == 300
    assert page.find(attrs={"data-testid": "security-events"})["data-count"] == "2"
    # The recharge table says ¥3.00 was credited; the ledger holds nothing: flagged.
    assert page.find(attrs={"data-testid": "recharges-mismatch"})


BAD_DAYS = [
    "2026-13-01",
    "2026-02-30",
    "20261122",
    "2026-11-22T00:00",
    "1999-12-31",
    "3000-01-01",
    "yesterday",
    "２０２６-11-22",
    "2026-11-22\x00",
    "x" * 10_000,
    "-2026-11-22",
]


@pytest.mark.parametrize("day", BAD_DAYS)
def test_a_bad_day_is_refused_beside_the_field(finance, day):
    response = finance.get("/ops/reconciliation", query_string={"day": day})
    assert response.status_code == 422
    page = soup(response)
    assert page.find(id="day-error").get_text(strip=True)
    assert page.find(id="reconciliation-day")["aria-invalid"] == "true"
    assert not page.find(attrs={"data-testid": "method-row"})
    csv_response = finance.get("/ops/reconciliation", query_string={"day": day, "format": "csv"})
    assert csv_response.status_code == 422


def test_the_day_as_csv(app, finance, busy_day):
    day = beijing_today().isoformat()
    response = finance.get(f"/ops/reconciliation?day={day}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f"reconciliation-{day}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 1 + 3 * 3 + len(TRANSACTION_KINDS) * 2 + 1
    amounts = [row[3] for row in rows[1:]]
    assert "100.00" in amounts and "40.00" in amounts and "15.00" in amounts


def test_the_htmx_fragment_and_who_may_see_it(app, finance, make_staff):
    partial = finance.get(
        f"/ops/reconciliation?day={DAY}",
        headers={"HX-Request": "true", "HX-Request-Type": "partial"},
    )
    assert partial.status_code == 200
    assert soup(partial).find(id="reconciliation")
    assert "<html" not in partial.get_data(as_text=True)
    other = app.test_client()
    login(other, make_staff("warehouse", "service"))
    assert other.get("/ops/reconciliation").status_code == 403
