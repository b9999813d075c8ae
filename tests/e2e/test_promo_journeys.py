"""Invite rebates in the browser, on a desktop and a phone: the inviter copies the invite link
from the promotion center and sees the poster → a friend registers from the link and pays an
order → the inviter sees the friend and the rebate → moves it to the balance → pays their own
order with it. (Coupons and membership tiers are not built yet, so they are not in this walk.)"""

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Order, User
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
BILL = 20_000  # the friend's order: a 10 % rebate of ¥20.00
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

    # The friend opens the link, registers with the code filled in, and pays an order.
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
        credit(friend.id, BILL)
        db.session.commit()
        friend_id = friend.id
    pay_in_browser(friend_page, viewport, bill_orders(app, friend_id, BILL, insert_orders))

    # The inviter sees the friend, masked, and the rebate; a message says so.
    page.goto("/promo/")
    expect(page.get_by_test_id("invitee-count")).to_have_text("1")
    row = page.get_by_test_id("invitee")
    expect(row).to_have_attribute("data-fen", "2000")
    expect(row).to_contain_text(f"{identifier[:3]}****{identifier[-4:]}")
    expect(page.get_by_test_id("rebate-balance")).to_have_attribute("data-fen", "2000")

    # A withdrawal above the balance is refused beside the field; then the whole rebate moves.
    withdraw = page.get_by_test_id("withdraw-form")
    expect(withdraw.locator("#amount")).to_have_value("20.00")
    withdraw.locator("#amount").fill("20.01")
    activate(withdraw.get_by_test_id("withdraw-button"), viewport)
    expect(page.locator("#amount-error")).to_contain_text("¥20.00")
    page.locator("#amount").fill("20")
    activate(page.get_by_test_id("withdraw-button"), viewport)
    expect(page.locator("#flash")).to_contain_text("已转入余额")
    expect(page.get_by_test_id("rebate-balance")).to_have_attribute("data-fen", "0")
    assert_no_horizontal_scroll(page, viewport)

    # The inviter pays their own order with it; the wallet shows the rebate and the withdrawal.
    pay_in_browser(page, viewport, bill_orders(app, inviter.id, OWN_BILL, insert_orders))
    page.goto("/wallet/")
    expect(page.get_by_test_id("balance")).to_have_text("¥5.00")
    kinds = page.get_by_test_id("entry").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert sorted(kinds) == ["payment", "rebate", "withdrawal", "withdrawal"]
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log, ("422",))
