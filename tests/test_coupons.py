"""Coupons through an order's life: issued within their limits, chosen in the estimate, held by
one order, applied to the bill at packing and at payment, used once, released on cancel, given
back when staff cancel the paid order; and membership tiers bought from the balance, on both
databases."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import (
    Coupon,
    CouponTemplate,
    LedgerTransaction,
    Membership,
    MembershipTier,
    Notification,
    Order,
    OrderChargeLine,
    User,
    utcnow,
)
from portal.services import coupons, ledger, memberships, order_discounts, payments, refunds
from portal.services.coupons import CouponRefused
from portal.services.errors import ShortOfMoney
from portal.services.ledger import Line
from portal.services.orders import cancel_order, check_order, place_order
from portal.services.packing import BoxInput, pack_order
from tests.conftest import run_together
from tests.helpers import login, soup
from tests.test_order_service import order_request, shop, split, user  # noqa: F401 (fixture)


def template(**fields) -> int:
    values = dict(
        name_zh="满50减10",
        name_en="¥10 off ¥50",
        kind="fixed",
        value_fen=1000,
        threshold_fen=5000,
        valid_days=30,
    )
    values.update(fields)
    row = CouponTemplate(**values)
    db.session.add(row)
    db.session.commit()
    return row.id


def give(customer_id: int, template_id: int, source: str = "staff") -> int:
    coupon = coupons.issue(
        db.session.get(CouponTemplate, template_id), db.session.get(User, customer_id), source
    )
    db.session.commit()
    return coupon.id


def credit(customer_id: int, fen: int, key: str = "") -> None:
    ledger.post(
        "recharge",
        [
            Line(ledger.account("platform_bank"), -fen),
            Line(ledger.customer_balance(db.session.get(User, customer_id)), fen),
        ],
        key or f"recharge-{customer_id}-{fen}",
    )
    db.session.commit()


def tier(**fields) -> int:
    values = dict(
        name_zh="黄金会员",
        name_en="Gold",
        price_fen=19_900,
        duration_days=365,
        discount_percent=Decimal(10),
    )
    values.update(fields)
    row = MembershipTier(**values)
    db.session.add(row)
    db.session.commit()
    return row.id


def line(order: Order, stage: str, code: str) -> int | None:
    amounts = [x.amount_fen for x in order.charges(stage) if x.code == code]
    return sum(amounts) if amounts else None


# ---- issuing -------------------------------------------------------------------------------------


def test_issue_respects_the_per_customer_and_total_limits(app, make_customer):
    a, b, c = make_customer(), make_customer(), make_customer()
    with app.app_context():
        tid = template(total_limit=2, per_customer_limit=1)
        give(a.id, tid)
        with pytest.raises(CouponRefused, match="限领"):
            give(a.id, tid)
        db.session.rollback()
        give(b.id, tid)
        with pytest.raises(CouponRefused, match="发完"):
            give(c.id, tid)
        db.session.rollback()
        assert db.session.get(CouponTemplate, tid).issued_count == 2
        assert db.session.scalar(select(func.count()).select_from(Coupon)) == 2
        kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == a.id))
        assert "coupon_issued" in list(kinds)


def test_an_ended_or_withdrawn_offer_issues_nothing(app, make_customer):
    a = make_customer()
    with app.app_context():
        ended = template(valid_days=None, valid_until=utcnow() - timedelta(days=1))
        withdrawn = template(is_active=False)
        for tid, reason in ((ended, "已结束"), (withdrawn, "停止发放")):
            with pytest.raises(CouponRefused, match=reason):
                give(a.id, tid)
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Coupon)) == 0


def test_a_window_coupon_is_valid_until_the_window_ends(app, make_customer):
    a = make_customer()
    with app.app_context():
        until = utcnow() + timedelta(days=3)
        cid = give(a.id, template(valid_days=None, valid_until=until))
        assert db.session.get(Coupon, cid).valid_until == until


def test_ten_concurrent_claims_of_a_three_coupon_offer_issue_three(app, make_customer):
    people = [make_customer() for _ in range(10)]
    with app.app_context():
        tid = template(total_limit=3, claimable=True)

    def claim(i: int):
        coupon = coupons.claim(db.session.get(User, people[i].id), tid)
        db.session.commit()
        return coupon.id

    wins, losses = split(run_together(app, 10, claim))
    assert len(wins) == 3 and len(losses) == 7
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Coupon)) == 3
        assert db.session.get(CouponTemplate, tid).issued_count == 3


def test_five_concurrent_claims_by_one_customer_issue_one(app, make_customer):
    a = make_customer()
    with app.app_context():
        tid = template(claimable=True)

    def claim(_i: int):
        coupon = coupons.claim(db.session.get(User, a.id), tid)
        db.session.commit()
        return coupon.id

    wins, losses = split(run_together(app, 5, claim))
    assert len(wins) == 1 and len(losses) == 4
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Coupon)) == 1


def test_redeem_by_code_and_the_welcome_coupon(app, make_customer):
    a = make_customer()
    with app.app_context():
        template(redeem_code="SPRING26")
        welcome = template(for_new_customers=True)
        coupon = coupons.redeem(db.session.get(User, a.id), " spring26 ")
        assert coupon.source == "code"
        for code, reason in (("", "请输入"), ("NOPE", "没有这个兑换码")):
            with pytest.raises(CouponRefused, match=reason):
                coupons.redeem(db.session.get(User, a.id), code)
        from portal.services import accounts

        new = accounts.register_customer("13912345678", "Secret-pass-2026")
        db.session.commit()
        got = db.session.scalars(select(Coupon).where(Coupon.customer_id == new.id)).all()
        assert [(c.template_id, c.source) for c in got] == [(welcome, "new_customer")]


# ---- through an order ----------------------------------------------------------------------------


def test_the_coupon_is_in_the_estimate_the_bill_and_the_payment(app, shop):  # noqa: F811
    with app.app_context():
        tid = template(value_fen=1000, threshold_fen=1000)
        cid = give(shop.customer.id, tid)
        credit(shop.customer.id, 1_000_000)
        req = order_request([shop.received_id], shop.address_id, coupon_id=cid)
        order = place_order(user(shop.customer), req)
        db.session.commit()
        assert line(order, "estimate", "COUPON") == -1000
        assert db.session.get(Coupon, cid).holding_order_id == order.id

        pack_order(user(shop.staff), order.id, [BoxInput(2_000, 30, 20, 10)], [])
        db.session.commit()
        order = db.session.get(Order, order.id)
        gross = sum(x.amount_fen for x in order.charges("bill") if x.code != "COUPON")
        assert line(order, "bill", "COUPON") == -1000
        assert order.bill_fen == gross - 1000

        paid = payments.pay_order(user(shop.customer), order, "a" * 32, shown_fen=order.bill_fen)
        db.session.commit()
        coupon = db.session.get(Coupon, cid)
        assert (coupon.used_order_id, coupon.used_fen, coupon.holding_order_id) == (
            order.id,
            1000,
            None,
        )
        assert paid.amount_fen == order.paid_fen == gross - 1000
        assert ledger.invariant_problems() == []


def test_a_coupon_below_its_threshold_or_for_another_channel_is_refused(app, shop):  # noqa: F811
    with app.app_context():
        high = give(shop.customer.id, template(threshold_fen=10_000_000))
        elsewhere = give(shop.customer.id, template(channels="UK-EXP"))
        abroad = give(shop.customer.id, template(countries="GB,DE"))
        for cid, reason in ((high, "需运费满"), (elsewhere, "渠道"), (abroad, "目的地")):
            req = order_request([shop.received_id], shop.address_id, coupon_id=cid)
            with pytest.raises(CouponRefused, match=reason) as refused:
                check_order(user(shop.customer), req)
            assert refused.value.field == "coupon"
        other = give(shop.other.id, template())
        req = order_request([shop.received_id], shop.address_id, coupon_id=other)
        with pytest.raises(CouponRefused, match="不是您的"):
            place_order(user(shop.customer), req)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_cancelling_releases_the_coupon_for_the_next_order(app, shop):  # noqa: F811
    with app.app_context():
        cid = give(shop.customer.id, template(threshold_fen=0))
        req = order_request([shop.received_id], shop.address_id, coupon_id=cid)
        first = place_order(user(shop.customer), req)
        db.session.commit()
        second_req = order_request([shop.expected_id], shop.address_id, coupon_id=cid)
        with pytest.raises(CouponRefused, match="另一个订单"):
            place_order(user(shop.customer), second_req)
        db.session.rollback()
        cancel_order(user(shop.customer), db.session.get(Order, first.id))
        db.session.commit()
        assert db.session.get(Coupon, cid).holding_order_id is None
        second = place_order(user(shop.customer), second_req)
        db.session.commit()
        assert db.session.get(Coupon, cid).holding_order_id == second.id


def test_a_paid_order_cancelled_by_staff_gives_its_coupon_back(app, two_bills, make_staff):
    account, (first, second) = two_bills
    clerk = make_staff("finance")
    clerk_client = app.test_client()
    login(clerk_client, clerk)
    with app.app_context():
        cid = give(account.id, template(threshold_fen=0))
        customer = db.session.get(User, account.id)
        payments.pay_order(customer, db.session.get(Order, first), "e" * 32, cid)
        db.session.commit()
        assert db.session.get(Coupon, cid).used_order_id == first
        staff = db.session.get(User, clerk.id)
        page = soup(clerk_client.get(f"/ops/orders/{first}/cancel-refund"))
        assert page.find(attrs={"data-testid": "cancel-refund-coupon"}) is not None
        refunds.cancel_paid_order(staff, db.session.get(Order, first), "仓库缺货", "f" * 32)
        db.session.commit()
        coupon = db.session.get(Coupon, cid)
        assert (coupon.used_order_id, coupon.used_at, coupon.used_fen) == (None, None, None)
        assert [c.id for c in coupons.wallet(customer).usable] == [cid]
        # The refund is what was paid: the bill less the coupon's discount.
        assert db.session.get(Order, first).refunded_fen == 10_000 - 1000
        paid = payments.pay_order(customer, db.session.get(Order, second), "a" * 32, cid)
        db.session.commit()
        assert paid.amount_fen == 10_000 - 1000
        assert db.session.get(Coupon, cid).used_order_id == second
        assert ledger.invariant_problems() == []


@pytest.fixture
def two_bills(app, make_customer, insert_orders):
    """A customer with two orders in 待支付 whose bill is one ¥100 base line, and ¥1000."""
    account = make_customer()
    insert_orders(account.id, 2, "awaiting_payment")
    with app.app_context():
        ids = list(db.session.scalars(select(Order.id).where(Order.customer_id == account.id)))
        for order_id in ids:
            db.session.add(
                OrderChargeLine(
                    order_id=order_id, stage="bill", seq=1, code="BASE", amount_fen=10_000
                )
            )
        db.session.execute(update(Order).where(Order.id.in_(ids)).values(bill_fen=10_000))
        db.session.commit()
        credit(account.id, 100_000)
    return account, ids


def test_discounts_never_take_a_bill_below_zero(app, two_bills):
    account, ids = two_bills
    with app.app_context():
        order = db.session.get(Order, ids[0])
        db.session.add(
            OrderChargeLine(
                order_id=order.id,
                stage="bill",
                seq=2,
                code="ADJUSTMENT",
                amount_fen=-9_500,
                detail="破损折让",
            )
        )
        order.bill_fen = 500
        db.session.commit()
        cid = give(account.id, template(value_fen=2000, threshold_fen=0))
        paid = payments.pay_order(db.session.get(User, account.id), order, "d" * 32, cid)
        db.session.commit()
        assert paid.amount_fen == 0 and order.status == "paid"
        assert db.session.get(Coupon, cid).used_fen == 500
        assert ledger.invariant_problems() == []


def test_a_membership_coupon_does_not_count_toward_the_claim_limit(app, make_customer):
    a = make_customer()
    with app.app_context():
        tid = template(claimable=True, per_customer_limit=1)
        coupons.issue(db.session.get(CouponTemplate, tid), db.session.get(User, a.id), "membership")
        db.session.commit()
        assert coupons.claim(db.session.get(User, a.id), tid).seq == 2


def test_two_orders_paying_with_one_coupon_at_once_use_it_once(app, two_bills):
    account, ids = two_bills
    with app.app_context():
        cid = give(
            account.id, template(kind="percent", value_fen=0, percent=Decimal(20), cap_fen=1500)
        )

    def pay(i: int):
        customer = db.session.get(User, account.id)
        paid = payments.pay_order(customer, db.session.get(Order, ids[i]), f"{i:032x}", cid)
        db.session.commit()
        return paid.amount_fen

    wins, losses = split(run_together(app, 2, pay))
    assert wins == [10_000 - 1500]
    assert isinstance(losses[0], CouponRefused)
    with app.app_context():
        coupon = db.session.get(Coupon, cid)
        assert coupon.used_order_id in ids and coupon.used_fen == 1500
        orders = {o.id: o for o in db.session.scalars(select(Order).where(Order.id.in_(ids)))}
        assert sorted(o.status for o in orders.values()) == ["awaiting_payment", "paid"]
        unpaid = next(o for o in orders.values() if o.status == "awaiting_payment")
        assert unpaid.bill_fen == 10_000 and line(unpaid, "bill", "COUPON") is None
        assert ledger.balance_fen(db.session.get(User, account.id)) == 100_000 - 8_500
        assert ledger.invariant_problems() == []


def test_pay_refuses_when_the_amount_shown_is_no_longer_the_bill(app, two_bills):
    account, ids = two_bills
    with app.app_context():
        cid = give(account.id, template(value_fen=1000, threshold_fen=0))
        customer = db.session.get(User, account.id)
        with pytest.raises(payments.AmountChanged, match="90.00"):
            payments.pay_order(customer, db.session.get(Order, ids[0]), "b" * 32, cid, 10_000)
        db.session.rollback()
        assert db.session.get(Order, ids[0]).status == "awaiting_payment"
        assert db.session.get(Coupon, cid).used_order_id is None
        paid = payments.pay_order(customer, db.session.get(Order, ids[0]), "b" * 32, cid, 9_000)
        db.session.commit()
        assert paid.amount_fen == 9_000


def test_the_best_coupon_is_preselected(app, two_bills):
    account, ids = two_bills
    with app.app_context():
        small = give(account.id, template(value_fen=500, threshold_fen=0))
        big = give(account.id, template(kind="percent", value_fen=0, percent=Decimal(30)))
        give(account.id, template(value_fen=9000, threshold_fen=50_000))
        order = db.session.get(Order, ids[0])
        use = order_discounts.bill_use(order, Decimal(0))
        offered = order_discounts.choices(db.session.get(User, account.id), use, 10_000, 0)
        assert [(c.coupon.id, c.discount_fen) for c in offered[:2]] == [(big, 3000), (small, 500)]
        assert offered[2].refusal is not None
        assert order_discounts.best(offered).id == big


# ---- membership ----------------------------------------------------------------------------------


def test_buying_a_tier_charges_once_and_a_renewal_extends_it(app, make_customer):
    a = make_customer()
    with app.app_context():
        tid = tier(duration_days=30)
        credit(a.id, 50_000)
        first = memberships.buy(db.session.get(User, a.id), tid, "k1").membership
        db.session.commit()
        again = memberships.buy(db.session.get(User, a.id), tid, "k1").membership
        db.session.commit()
        assert again.id == first.id
        second = memberships.buy(db.session.get(User, a.id), tid, "k2").membership
        db.session.commit()
        assert second.starts_at == first.ends_at
        assert second.ends_at == first.ends_at + timedelta(days=30)
        assert ledger.balance_fen(db.session.get(User, a.id)) == 50_000 - 2 * 19_900
        assert memberships.member_percent(a.id) == Decimal(10)
        with pytest.raises(ShortOfMoney) as short:
            memberships.buy(db.session.get(User, a.id), tid, "k3")
        assert short.value.shortfall_fen == 19_900 - (50_000 - 39_800)
        db.session.rollback()
        assert ledger.invariant_problems() == []


def test_ten_concurrent_purchases_with_one_key_charge_once(app, make_customer):
    a = make_customer()
    with app.app_context():
        tid = tier()
        credit(a.id, 100_000)

    def buy(_i: int):
        bought = memberships.buy(db.session.get(User, a.id), tid, "same-press")
        db.session.commit()
        return bought.membership.id

    results = run_together(app, 10, buy)
    wins, _losses = split(results)
    assert len(set(wins)) == 1 and len(wins) >= 1
    with app.app_context():
        charges = db.session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "membership")
        )
        assert charges == 1
        assert db.session.scalar(select(func.count()).select_from(Membership)) == 1
        assert ledger.balance_fen(db.session.get(User, a.id)) == 100_000 - 19_900


def test_the_member_discount_applies_to_orders_paid_while_it_runs(app, two_bills):
    account, ids = two_bills
    with app.app_context():
        tid = tier(discount_percent=Decimal("12.5"))
        memberships.buy(db.session.get(User, account.id), tid, "m1")
        db.session.commit()
        cid = give(account.id, template(value_fen=1000, threshold_fen=8000))
        customer = db.session.get(User, account.id)
        paid = payments.pay_order(customer, db.session.get(Order, ids[0]), "c" * 32, cid)
        db.session.commit()
        order = db.session.get(Order, ids[0])
        # 12.5 % of ¥100 is ¥12.50; the coupon needs ¥80 of the ¥87.50 left and takes ¥10.
        assert line(order, "bill", "MEMBER_DISCOUNT") == -1250
        assert line(order, "bill", "COUPON") == -1000
        assert paid.amount_fen == order.paid_fen == 10_000 - 2250


def test_a_period_keeps_the_terms_it_was_sold_with(app, make_customer):
    a = make_customer()
    with app.app_context():
        monthly = template(threshold_fen=0)
        tid = tier(coupon_template_id=monthly, monthly_coupons=1)
        credit(a.id, 50_000)
        bought = memberships.buy(db.session.get(User, a.id), tid, "t1").membership
        db.session.commit()
        edited = db.session.get(MembershipTier, tid)
        edited.discount_percent, edited.monthly_coupons = Decimal(2), 0
        db.session.commit()
        assert memberships.member_percent(a.id) == Decimal(10)
        assert memberships.run_daily(bought.starts_at + timedelta(days=31)) == (1, 0)


def test_monthly_coupons_and_the_reminder_are_given_once(app, make_customer):
    a = make_customer()
    with app.app_context():
        monthly = template(threshold_fen=0)
        tid = tier(duration_days=70, coupon_template_id=monthly, monthly_coupons=2)
        credit(a.id, 50_000)
        bought = memberships.buy(db.session.get(User, a.id), tid, "m1").membership
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Coupon)) == 2
        later = bought.starts_at + timedelta(days=35)
        assert memberships.run_daily(later) == (2, 0)
        assert memberships.run_daily(later) == (0, 0)
        # The third month was not paid for (70 days are two months); the end is 5 days away.
        near_end = bought.starts_at + timedelta(days=65)
        assert memberships.run_daily(near_end) == (0, 1)
        assert memberships.run_daily(near_end) == (0, 0)
        db.session.commit()
        grants = sorted(db.session.scalars(select(Coupon.grant_no)))
        assert grants == [1, 2, 3, 4]
        reminders = db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == "membership_expiring")
        )
        assert reminders == 1


def test_a_signed_in_member_sees_the_discount_in_the_quote(app, demo_card, make_customer):
    from tests.helpers import login, soup
    from tests.test_quote import price_details

    a = make_customer()
    with app.app_context():
        tid = tier(discount_percent=Decimal(10))
        credit(a.id, 50_000)
        memberships.buy(db.session.get(User, a.id), tid, "q1")
        db.session.commit()
    client = app.test_client()
    url = "/quote?country=US&postcode=10001&weight=2"
    assert "MEMBER_DISCOUNT" not in client.get(url).get_data(as_text=True)
    login(client, a)
    page = client.get(url, headers={"HX-Request": "true"})
    assert page.status_code == 200
    first = soup(page).find(attrs={"data-testid": "offer"})["data-channel"]
    details = price_details(client, soup(page), first)
    assert details.find(attrs={"data-line": "MEMBER_DISCOUNT"}) is not None
