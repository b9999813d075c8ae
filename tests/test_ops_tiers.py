"""Finance's membership tier screens: offering a tier, changing it, refusing bad fields beside
them with nothing saved, the audit trail, and who may use the screens."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, CouponTemplate, MembershipTier
from tests.helpers import HTMX, field_error, login, post, soup

GOOD = {
    "name_zh": "黄金会员",
    "name_en": "Gold",
    "price": "99.90",
    "duration_days": "365",
    "discount_percent": "8.5",
    "coupon_template_id": "",
    "monthly_coupons": "0",
    "sort": "10",
    "is_active": "y",
}


@pytest.fixture
def finance(app, make_staff):
    client = app.test_client()
    staff = make_staff("finance")
    login(client, staff)
    return client, staff


@pytest.fixture
def coupon_template(app):
    with app.app_context():
        template = CouponTemplate(
            name_zh="会员券", name_en="Member coupon", kind="fixed", value_fen=500, valid_days=30
        )
        db.session.add(template)
        db.session.commit()
        return template.id


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_finance_offers_a_tier_with_monthly_coupons_and_it_is_audited(
    app, finance, coupon_template
):
    client, staff = finance
    page = client.get("/ops/tiers")
    assert page.status_code == 200
    options = soup(page).find(id="tier-coupon_template_id").find_all("option")
    assert str(coupon_template) in [o["value"] for o in options]
    data = {**GOOD, "coupon_template_id": str(coupon_template), "monthly_coupons": "2"}
    assert post(client, "/ops/tiers", data).status_code == 303
    with app.app_context():
        tier = db.session.scalar(select(MembershipTier))
        assert (tier.price_fen, tier.duration_days, tier.discount_percent) == (
            9990,
            365,
            Decimal("8.50"),
        )
        assert (tier.coupon_template_id, tier.monthly_coupons, tier.sort, tier.is_active) == (
            coupon_template,
            2,
            10,
            True,
        )
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "membership_tier.create")
        )
        assert entry.actor_id == staff.id and entry.after["price_fen"] == 9990
        tier_id = tier.id
    row = soup(client.get("/ops/tiers")).find(attrs={"data-testid": f"tier-{tier_id}"})
    assert row and "99.90" in row.get_text()


def test_finance_changes_a_tier_and_the_audit_keeps_before_and_after(app, finance):
    client, staff = finance
    assert post(client, "/ops/tiers", GOOD).status_code == 303
    with app.app_context():
        tier_id = db.session.scalar(select(MembershipTier.id))
    page = soup(client.get(f"/ops/tiers/{tier_id}"))
    assert page.find(id="tier-price")["value"] == "99.90"
    assert page.find(id="tier-discount_percent")["value"] == "8.5"
    data = {**GOOD, "price": "120", "discount_percent": "10", "is_active": ""}
    response = post(client, f"/ops/tiers/{tier_id}", data, headers=HTMX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/ops/tiers"
    with app.app_context():
        tier = db.session.get(MembershipTier, tier_id)
        assert (tier.price_fen, tier.discount_percent, tier.is_active) == (
            12000,
            Decimal("10.00"),
            False,
        )
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "membership_tier.update")
        )
        assert entry.before["price_fen"] == 9990 and entry.after["price_fen"] == 12000
        assert entry.after["is_active"] is False
    assert client.get("/ops/tiers/999999").status_code == 404


BAD = [
    ({"name_zh": ""}, "name_zh"),
    ({"name_en": "x" * 41}, "name_en"),
    ({"price": "0"}, "price"),
    ({"price": "-1"}, "price"),
    ({"price": "9.999"}, "price"),
    ({"duration_days": "0"}, "duration_days"),
    ({"duration_days": "3651"}, "duration_days"),
    ({"duration_days": "1.5"}, "duration_days"),
    ({"discount_percent": "0"}, "discount_percent"),
    ({"discount_percent": "50.01"}, "discount_percent"),
    ({"discount_percent": "5.555"}, "discount_percent"),
    ({"monthly_coupons": "11"}, "monthly_coupons"),
    ({"monthly_coupons": "1"}, "coupon_template_id"),
    ({"coupon_template_id": "999999"}, "coupon_template_id"),
    ({"coupon_template_id": "abc"}, "coupon_template_id"),
    ({"sort": "x"}, "sort"),
]


@pytest.mark.parametrize(("changes", "field"), BAD)
def test_a_bad_new_tier_is_422_beside_the_field_and_nothing_is_saved(app, finance, changes, field):
    client, _ = finance
    response = post(client, "/ops/tiers", {**GOOD, **changes}, headers=HTMX)
    assert response.status_code == 422
    assert field_error(response, field)
    assert soup(response).find(id="tier-form")
    with app.app_context():
        assert count(MembershipTier) == 0
        assert count(AuditEntry) == 0


@pytest.mark.parametrize(("changes", "field"), BAD[:6])
def test_a_bad_change_is_422_and_the_tier_stays_as_it_was(app, finance, changes, field):
    client, _ = finance
    assert post(client, "/ops/tiers", GOOD).status_code == 303
    with app.app_context():
        tier_id = db.session.scalar(select(MembershipTier.id))
    response = post(client, f"/ops/tiers/{tier_id}", {**GOOD, **changes})
    assert response.status_code == 422
    assert field_error(response, field)
    with app.app_context():
        tier = db.session.get(MembershipTier, tier_id)
        assert (tier.name_zh, tier.price_fen, tier.duration_days) == ("黄金会员", 9990, 365)
        assert count(AuditEntry, AuditEntry.action == "membership_tier.update") == 0


def test_warehouse_staff_may_not_see_or_change_tiers(app, make_staff, finance):
    client, _ = finance
    assert post(client, "/ops/tiers", GOOD).status_code == 303
    with app.app_context():
        tier_id = db.session.scalar(select(MembershipTier.id))
    warehouse = app.test_client()
    login(warehouse, make_staff("warehouse"))
    assert warehouse.get("/ops/tiers").status_code == 403
    assert warehouse.get(f"/ops/tiers/{tier_id}").status_code == 403
    assert post(warehouse, "/ops/tiers", GOOD).status_code == 403
    assert post(warehouse, f"/ops/tiers/{tier_id}", {**GOOD, "price": "1"}).status_code == 403
    with app.app_context():
        assert count(MembershipTier) == 1
        assert db.session.get(MembershipTier, tier_id).price_fen == 9990


def test_both_screens_are_in_the_finance_nav(app, finance):
    client, _ = finance
    nav = soup(client.get("/ops/tiers")).find(attrs={"data-testid": "ops-nav"})
    links = {a["href"]: a for a in nav.find_all("a")}
    assert "/ops/coupons" in links
    assert links["/ops/tiers"].get("aria-current") == "page"
