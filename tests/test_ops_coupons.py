"""Finance's coupon screens: defining templates (stored in fen, every bad field refused beside it
with nothing saved), issuing coupons to customers by code, and the issued/held/used counts."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Coupon, CouponTemplate, Order, User
from portal.services import coupons
from tests.helpers import HTMX, field_error, login, post, soup

GOOD = {
    "name_zh": "满100减20",
    "name_en": "20 off 100",
    "kind": "fixed",
    "value": "20",
    "threshold": "100",
    "valid_days": "30",
    "per_customer_limit": "1",
    "is_active": "y",
}


@pytest.fixture
def finance(app, make_staff):
    client = app.test_client()
    staff = make_staff("finance")
    login(client, staff)
    return client, staff


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_finance_defines_a_fixed_template_stored_in_fen_and_audited(app, finance):
    client, staff = finance
    page = client.get("/ops/coupons")
    assert page.status_code == 200
    assert soup(page).find(id="coupon-template")
    data = {
        **GOOD,
        "channels": "us-exp-dhl, GB-STD",
        "countries": "us gb",
        "redeem_code": "welcome20",
    }
    data.update(total_limit="100", claimable="y")
    response = post(client, "/ops/coupons", data)
    assert response.status_code == 303
    with app.app_context():
        t = db.session.scalar(select(CouponTemplate))
        assert (t.kind, t.value_fen, t.threshold_fen, t.cap_fen) == ("fixed", 2000, 10000, None)
        assert (t.channels, t.countries, t.redeem_code) == (
            "US-EXP-DHL,GB-STD",
            "US,GB",
            "WELCOME20",
        )
        assert (t.valid_days, t.valid_until, t.total_limit, t.per_customer_limit) == (
            30,
            None,
            100,
            1,
        )
        assert (t.claimable, t.for_new_customers, t.is_active) == (True, False, True)
        assert t.created_by_id == staff.id
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "coupon_template.create")
        )
        assert entry.actor_id == staff.id and entry.entity_id == str(t.id)
        assert entry.after["value_fen"] == 2000
        template_id = t.id
    row = soup(client.get("/ops/coupons")).find(attrs={"data-testid": f"template-{template_id}"})
    assert row.find(attrs={"data-testid": "issued"}).get_text(strip=True) == "0"


def test_finance_defines_a_percent_template_with_a_cap_and_an_end_date(app, finance):
    client, _ = finance
    data = {**GOOD, "kind": "percent", "value": "12.5", "cap": "30", "threshold": ""}
    data.update(valid_days="", valid_from="2099-01-01", valid_until="2099-01-31", is_active="")
    assert post(client, "/ops/coupons", data, headers=HTMX).status_code == 204
    with app.app_context():
        t = db.session.scalar(select(CouponTemplate))
        assert (t.kind, t.percent, t.value_fen, t.cap_fen, t.threshold_fen) == (
            "percent",
            Decimal("12.50"),
            0,
            3000,
            0,
        )
        assert t.valid_days is None
        # The Beijing day: 2099-01-01 00:00 to 2099-01-31 23:59:59 (UTC+8).
        assert t.valid_from.astimezone(UTC) == datetime(2098, 12, 31, 16, 0, tzinfo=UTC)
        assert t.valid_until.astimezone(UTC) == datetime(2099, 1, 31, 15, 59, 59, tzinfo=UTC)
        assert t.is_active is False
        template_id = t.id
    row = soup(client.get("/ops/coupons")).find(attrs={"data-testid": f"template-{template_id}"})
    assert row.find(attrs={"data-testid": "value"}).get_text(" ", strip=True).startswith("12.50%")
    validity = row.find(attrs={"data-testid": "validity"}).get_text(" ", strip=True)
    assert "2099-01-01" in validity and "2099-01-31" in validity


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name_zh": " "}, "name_zh"),
        ({"name_en": "x" * 61}, "name_en"),
        ({"kind": "gift"}, "kind"),
        ({"value": "0"}, "value"),
        ({"value": "-5"}, "value"),
        ({"value": "1e3"}, "value"),
        ({"kind": "percent", "value": "100.01"}, "value"),
        ({"kind": "percent", "value": "12.555"}, "value"),
        ({"cap": "10"}, "cap"),
        ({"kind": "percent", "value": "10", "cap": "abc"}, "cap"),
        ({"threshold": "10,00"}, "threshold"),
        ({"channels": "US EXP!"}, "channels"),
        ({"countries": "USA"}, "countries"),
        ({"valid_days": ""}, "valid_days"),
        ({"valid_days": "0"}, "valid_days"),
        ({"valid_days": "3651"}, "valid_days"),
        ({"valid_until": "2099-01-01"}, "valid_days"),
        ({"valid_days": "", "valid_until": "2099-02-30"}, "valid_until"),
        ({"valid_days": "", "valid_until": "2020-01-01"}, "valid_until"),
        (
            {"valid_days": "", "valid_from": "2099-02-01", "valid_until": "2099-01-01"},
            "valid_until",
        ),
        ({"total_limit": "0"}, "total_limit"),
        ({"per_customer_limit": "101"}, "per_customer_limit"),
        ({"redeem_code": "AB1"}, "redeem_code"),
        ({"redeem_code": "CODE-1"}, "redeem_code"),
    ],
)
def test_a_bad_template_is_422_beside_the_field_and_nothing_is_saved(app, finance, changes, field):
    client, _ = finance
    response = post(client, "/ops/coupons", {**GOOD, **changes}, headers=HTMX)
    assert response.status_code == 422
    assert field_error(response, field)
    shown = soup(response)
    assert shown.find(id="coupon-template") and not shown.find("html")
    with app.app_context():
        assert count(CouponTemplate) == 0
        assert count(AuditEntry) == 0


def test_a_taken_redeem_code_is_refused(app, finance):
    client, _ = finance
    assert post(client, "/ops/coupons", {**GOOD, "redeem_code": "SPRING26"}).status_code == 303
    response = post(client, "/ops/coupons", {**GOOD, "redeem_code": "spring26"})
    assert response.status_code == 422
    assert "已有优惠券使用此兑换码" in field_error(response, "redeem_code")
    with app.app_context():
        assert count(CouponTemplate) == 1


def test_warehouse_staff_may_not_see_or_define_coupons(app, make_staff):
    client = app.test_client()
    login(client, make_staff("warehouse"))
    assert client.get("/ops/coupons").status_code == 403
    assert post(client, "/ops/coupons", GOOD).status_code == 403
    assert "/ops/coupons" not in client.get("/ops/").get_data(as_text=True)
    with app.app_context():
        assert count(CouponTemplate) == 0


@pytest.fixture
def template_id(app, finance):
    client, _ = finance
    assert post(client, "/ops/coupons", GOOD).status_code == 303
    with app.app_context():
        return db.session.scalar(select(CouponTemplate.id))


def test_issuing_to_three_codes_gives_one_and_says_why_not_the_others(
    app, finance, template_id, make_customer
):
    client, staff = finance
    fresh, full = make_customer(), make_customer()
    with app.app_context():
        coupons.issue(
            db.session.get(CouponTemplate, template_id), db.session.get(User, full.id), "claim"
        )
        db.session.commit()
    page = client.get(f"/ops/coupons/{template_id}/issue")
    assert page.status_code == 200 and soup(page).find(id="issue-codes")
    codes = f"{fresh.customer_code.lower()}\n{full.customer_code}, ZZZZZZ"
    response = post(client, f"/ops/coupons/{template_id}/issue", {"codes": codes})
    assert response.status_code == 200
    shown = soup(response)
    assert shown.find(attrs={"data-testid": "issued-count"})["data-count"] == "1"
    refused = shown.find(attrs={"data-testid": "refused"}).find_all("li")
    assert len(refused) == 2
    assert "没有这个编号的客户" in shown.find(attrs={"data-testid": "refused-ZZZZZZ"}).text
    assert (
        "每人限领数量"
        in shown.find(attrs={"data-testid": f"refused-{full.customer_code}"}).get_text()
    )
    with app.app_context():
        given = db.session.scalar(select(Coupon).where(Coupon.customer_id == fresh.id))
        assert (given.source, given.issued_by_id, given.template_id) == (
            "staff",
            staff.id,
            template_id,
        )
        assert count(Coupon, Coupon.customer_id == full.id) == 1
        assert db.session.get(CouponTemplate, template_id).issued_count == 2
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "coupon_template.issue")
        )
        assert entry.after["issued"] == 1 and "ZZZZZZ" in entry.after["refused"]


def test_staff_codes_are_not_customers_and_an_empty_list_is_refused(
    app, finance, template_id, make_staff
):
    client, _ = finance
    other = make_staff("service")
    response = post(client, f"/ops/coupons/{template_id}/issue", {"codes": other.customer_code})
    assert soup(response).find(attrs={"data-testid": f"refused-{other.customer_code}"})
    response = post(client, f"/ops/coupons/{template_id}/issue", {"codes": " \n, "}, headers=HTMX)
    assert response.status_code == 422
    assert field_error(response, "codes")
    too_many = "\n".join(f"C{i:05d}" for i in range(501))
    response = post(client, f"/ops/coupons/{template_id}/issue", {"codes": too_many})
    assert response.status_code == 422 and field_error(response, "codes")
    assert client.get("/ops/coupons/999999/issue").status_code == 404
    with app.app_context():
        assert count(Coupon) == 0


def test_the_list_counts_issued_held_and_used_coupons(
    app, finance, template_id, make_customer, insert_orders
):
    client, _ = finance
    customers = [make_customer() for _ in range(3)]
    codes = "\n".join(c.customer_code for c in customers)
    assert post(client, f"/ops/coupons/{template_id}/issue", {"codes": codes}).status_code == 200
    held_no = insert_orders(customers[0].id)[0]
    used_no = insert_orders(customers[1].id)[0]
    with app.app_context():
        by_no = {
            o.order_no: o.id
            for o in db.session.scalars(select(Order).where(Order.order_no.in_([held_no, used_no])))
        }
        for customer, column in ((customers[0], "holding"), (customers[1], "used")):
            coupon = db.session.scalar(select(Coupon).where(Coupon.customer_id == customer.id))
            if column == "holding":
                coupon.holding_order_id = by_no[held_no]
            else:
                coupon.holding_order_id = by_no[used_no]
                coupon.used_order_id = by_no[used_no]
        db.session.commit()
    row = soup(client.get("/ops/coupons")).find(attrs={"data-testid": f"template-{template_id}"})
    shown = {
        k: row.find(attrs={"data-testid": k}).get_text(strip=True)
        for k in ("issued", "held", "used")
    }
    assert shown == {"issued": "3", "held": "1", "used": "1"}


def test_issuing_to_all_active_customers_skips_staff_and_disabled_accounts(
    app, finance, template_id, make_customer
):
    client, _ = finance
    active = [make_customer(), make_customer()]
    disabled = make_customer(is_disabled=True)
    data = {"codes": "", "segment": "all_active"}
    response = post(client, f"/ops/coupons/{template_id}/issue", data)
    assert response.status_code == 200
    shown = soup(response)
    assert shown.find(attrs={"data-testid": "issued-count"})["data-count"] == "2"
    with app.app_context():
        holders = set(db.session.scalars(select(Coupon.customer_id)))
        assert holders == {c.id for c in active}
        assert disabled.id not in holders
    # A second run gives nobody a second coupon: each already holds the most one may.
    again = soup(post(client, f"/ops/coupons/{template_id}/issue", data))
    assert again.find(attrs={"data-testid": "issued-count"})["data-count"] == "0"
    assert len(again.find(attrs={"data-testid": "refused"}).find_all("li")) == 2


def test_a_switched_off_template_issues_nothing_until_offered_again(
    app, finance, template_id, make_customer, make_staff
):
    client, _ = finance
    customer = make_customer()
    response = post(client, f"/ops/coupons/{template_id}/active", {"active": ""})
    assert response.status_code == 303
    page = soup(client.get("/ops/coupons"))
    assert page.find(attrs={"data-testid": f"inactive-{template_id}"}) is not None
    refused = post(client, f"/ops/coupons/{template_id}/issue", {"codes": customer.customer_code})
    assert soup(refused).find(attrs={"data-testid": "issued-count"})["data-count"] == "0"
    assert post(client, f"/ops/coupons/{template_id}/active", {"active": "y"}).status_code == 303
    given = post(client, f"/ops/coupons/{template_id}/issue", {"codes": customer.customer_code})
    assert soup(given).find(attrs={"data-testid": "issued-count"})["data-count"] == "1"
    with app.app_context():
        actions = list(
            db.session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("coupon_template.%activate"))
                .order_by(AuditEntry.id)
            )
        )
        assert actions == ["coupon_template.deactivate", "coupon_template.activate"]
    warehouse = app.test_client()
    login(warehouse, make_staff("warehouse"))
    assert post(warehouse, f"/ops/coupons/{template_id}/active", {"active": ""}).status_code == 403
