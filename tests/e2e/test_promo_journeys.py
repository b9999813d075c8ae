"""Growth in the browser, on a desktop and a phone: the inviter copies the invite link from the
promotion center and sees the poster → a friend registers from the link, claims a coupon, buys a
membership and pays an order with both, line by line → the inviter sees the friend and the
rebate → moves it to the balance → pays their own order with it."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import CouponTemplate, MembershipTier, Order, OrderChargeLine, User
from portal.services.rebate_rules import RuleInput, save_rule
from tests.conftest import DEFAULT_PASSWORD
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, ConsoleLog, Viewport
from tests.e2e.test_journeys import (
    activate,
    assert_no_console_errors,
    assert_no_horizontal_scroll,
    mobile_number,
)
from tests.e2e.test_orders_journeys import log_in
from tests.test_rebates import credit

pytestmark = pytest.mark.e2e
BILL = 20_000  # the friend's order, all base freight
TIER_PRICE = 5_000  # 5 % off the freight: ¥10.00 of the bill
COUPON_FEN = 1_000  # then ¥10.00 off
PAID = BILL - 1_000 - COUPON_FEN  # ¥180.00, of which the inviter earns 10 %: ¥18.00
OWN_BILL = 1_500


@pytest.fixture
def friend_page(browser: Browser, live_server, viewport: Viewport):
    """The invited friend's phone or desktop, a browser of their own."""
    context = browser.new_context(
        base_url=live_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        **viewport.context_options(),
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def bill_orders(app, customer_id: int, fen: int, insert_orders) -> str:
    """One order of the customer in 待支付 with its bill: the warehouse has packed it."""
    insert_orders(customer_id, 1, "awaiting_payment")
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.customer_id == customer_id))
        db.session.execute(update(Order).where(Order.id == order.id).values(bill_fen=fen))
        db.session.add(
            OrderChargeLine(order_id=order.id, stage="bill", seq=1, code="BASE", amount_fen=fen)
        )
        db.session.commit()
        return order.order_no


def pay_in_browser(page: Page, viewport: Viewport, order_no: str) -> None:
    page.goto(f"/orders/{order_no}")
    activate(page.get_by_test_id("pay-panel").get_by_test_id("pay-button"), viewport)
    expect(page.locator("#order")).to_have_attribute("data-status", "paid")


def test_invite_a_friend_earn_withdraw_and_pay_with_the_rebate(
    app,
    page: Page,
    friend_page: Page,
    viewport: Viewport,
    make_customer,
    make_staff,
    insert_orders,
    console_log: ConsoleLog,
    request,
):
    staff = make_staff("finance")
    with app.app_context():
        save_rule(db.session.get(User, staff.id), RuleInput("10", "365", "1"))
        db.session.add_all(
            [
                CouponTemplate(
                    name_zh="立减10元",
                    name_en="¥10 off",
                    kind="fixed",
                    value_fen=COUPON_FEN,
                    valid_days=30,
                    claimable=True,
                ),
                MembershipTier(
                    name_zh="白银会员",
                    name_en="Silver",
                    price_fen=TIER_PRICE,
                    duration_days=90,
                    discount_percent=5,
                ),
            ]
        )
        db.session.commit()
    inviter = make_customer()

    # The inviter opens the promotion center from their account page and copies the link.
    log_in(page, viewport, inviter)
    page.goto("/account/")
    activate(page.get_by_test_id("promo-link"), viewport)
    expect(page).to_have_url(re.compile(r"/promo/$"))
    expect(page.get_by_test_id("promo-rule")).to_contain_text("10%")
    link = page.get_by_test_id("invite-link").inner_text().strip()
    assert link.endswith(f"/auth/register?invite={inviter.invite_code}")
    activate(page.get_by_test_id("copy-link"), viewport)
    expect(page.locator("#promo-copy-status")).to_have_text("邀请链接已复制。")
    assert page.evaluate("navigator.clipboard.readText()") == link
    poster = page.get_by_test_id("poster")
    poster.scroll_into_view_if_needed()
    expect(poster).to_have_js_property("complete", True)
    assert poster.evaluate("img => img.naturalWidth") == 750
    assert_no_horizontal_scroll(page, viewport)

    # The friend opens the link, registers with the code filled in, claims a coupon, buys a
    # membership and pays an order with both.
    friend_page.goto(link)
    form = friend_page.locator("#register-form")
    expect(form.locator("#invite_code")).to_have_value(inviter.invite_code)
    identifier = mobile_number(request)
    form.get_by_label("手机号或邮箱").fill(identifier)
    form.get_by_label("密码", exact=True).fill(DEFAULT_PASSWORD)
    form.get_by_label("确认密码").fill(DEFAULT_PASSWORD)
    activate(form.get_by_role("button", name="注册"), viewport)
    expect(friend_page).to_have_url(re.compile(r"/$"))
    with app.app_context():
        friend = db.session.scalar(select(User).where(User.phone == "+86" + identifier))
        assert friend.referred_by_id == inviter.id
        credit(friend.id, PAID + TIER_PRICE)
        db.session.commit()
        friend_id = friend.id
    friend_page.goto("/account/")
    activate(friend_page.get_by_test_id("coupons-link"), viewport)
    activate(friend_page.get_by_test_id("claim-button"), viewport)
    expect(friend_page.get_by_test_id("coupon-name")).to_have_text("立减10元")
    assert_no_horizontal_scroll(friend_page, viewport)
    friend_page.goto("/account/")
    activate(friend_page.get_by_test_id("member-link"), viewport)
    activate(friend_page.get_by_test_id("buy-button"), viewport)
    expect(friend_page.get_by_test_id("member-tier")).to_contain_text("白银会员")
    assert_no_horizontal_scroll(friend_page, viewport)
    order_no = bill_orders(app, friend_id, BILL, insert_orders)
    friend_page.goto(f"/orders/{order_no}")
    pay = friend_page.get_by_test_id("pay-panel")
    expect(pay.get_by_test_id("pay-coupon")).to_have_value(re.compile(r"\d+"))
    codes = pay.get_by_test_id("pay-discount").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert codes == ["MEMBER_DISCOUNT", "COUPON"]
    expect(pay.get_by_test_id("pay-bill")).to_have_attribute("data-fen", str(PAID))
    assert_no_horizontal_scroll(friend_page, viewport)
    activate(pay.get_by_test_id("pay-button"), viewport)
    expect(friend_page.locator("#order")).to_have_attribute("data-status", "paid")
    bill = friend_page.get_by_test_id("compare-line")
    assert bill.evaluate_all("rows => rows.map(r => r.dataset.code)") == [
        "BASE",
        "MEMBER_DISCOUNT",
        "COUPON",
    ]

    # The inviter sees the friend, masked, and the rebate; a message says so.
    page.goto("/promo/")
    expect(page.get_by_test_id("invitee-count")).to_have_text("1")
    row = page.get_by_test_id("invitee")
    expect(row).to_have_attribute("data-fen", "1800")
    expect(row).to_contain_text(f"{identifier[:3]}****{identifier[-4:]}")
    expect(page.get_by_test_id("rebate-balance")).to_have_attribute("data-fen", "1800")

    # A withdrawal above the balance is refused beside the field; then the whole rebate moves.
    withdraw = page.get_by_test_id("withdraw-form")
    expect(withdraw.locator("#amount")).to_have_value("18.00")
    withdraw.locator("#amount").fill("18.01")
    activate(withdraw.get_by_test_id("withdraw-button"), viewport)
    expect(page.locator("#amount-error")).to_contain_text("¥18.00")
    page.locator("#amount").fill("18")
    activate(page.get_by_test_id("withdraw-button"), viewport)
    expect(page.locator("#flash")).to_contain_text("已转入余额")
    expect(page.get_by_test_id("rebate-balance")).to_have_attribute("data-fen", "0")
    assert_no_horizontal_scroll(page, viewport)

    # The inviter pays their own order with it; the wallet shows the rebate and the withdrawal.
    pay_in_browser(page, viewport, bill_orders(app, inviter.id, OWN_BILL, insert_orders))
    page.goto("/wallet/")
    expect(page.get_by_test_id("balance")).to_have_text("¥3.00")
    kinds = page.get_by_test_id("entry").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert sorted(kinds) == ["payment", "rebate", "withdrawal", "withdrawal"]
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log, ("422",))
