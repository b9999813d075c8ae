"""Browser journeys for My orders and the message centre, on a desktop and a phone: tabs and
pagination by htmx with the URL pushed, cancelling through the confirmation, the bell refreshing
itself after "mark all read", and opening a message."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ConsoleLog, Viewport
from tests.e2e.test_journeys import activate, assert_no_console_errors, assert_no_horizontal_scroll
from tests.test_orders import place

pytestmark = pytest.mark.e2e


def log_in(page: Page, viewport: Viewport, account) -> None:
    page.goto("/auth/login")
    form = page.locator("#login-form")
    form.get_by_label("手机号或邮箱").fill(account.identifier)
    form.get_by_label("密码").fill(account.password)
    activate(form.get_by_role("button", name="登录"), viewport)
    expect(page).to_have_url(re.compile(r"/$"))


def test_orders_tabs_detail_and_cancel(
    app,
    page: Page,
    viewport: Viewport,
    shop,
    insert_orders,
    console_log: ConsoleLog,  # noqa: F811
):
    account = shop["account"]
    order_no = place(app, account, shop["parcels"], shop["address"])
    insert_orders(account.id, 21, "paid")
    log_in(page, viewport, account)

    page.goto("/orders/")
    assert_no_horizontal_scroll(page, viewport)
    tab = page.locator('[data-testid="tab"][data-status="paid"]')
    activate(tab, viewport)
    expect(page).to_have_url(re.compile(r"/orders/\?status=paid$"))
    expect(tab).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("order")).to_have_count(20)
    activate(page.get_by_test_id("next"), viewport)
    expect(page).to_have_url(re.compile(r"status=paid&page=2$"))
    expect(page.get_by_test_id("order")).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/orders/\?status=paid$"))
    expect(page.get_by_test_id("order")).to_have_count(20)

    page.goto(f"/orders/{order_no}")
    assert_no_horizontal_scroll(page, viewport)
    confirm = page.get_by_test_id("confirm-cancel")
    expect(confirm).to_be_hidden()
    activate(page.get_by_test_id("cancel"), viewport)
    expect(confirm).to_be_visible()
    page.locator("#reason").fill("买错了")
    activate(confirm, viewport)
    expect(page.locator("#order")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#flash")).to_contain_text(order_no)
    expect(page.get_by_test_id("bell").locator("#unread-count")).to_have_text(re.compile("^2"))
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log)


def test_bell_refreshes_after_mark_all_read_and_a_message_opens_its_order(
    app,
    page: Page,
    viewport: Viewport,
    shop,
    console_log: ConsoleLog,  # noqa: F811
):
    account = shop["account"]
    order_no = place(app, account, shop["parcels"][:1], shop["address"], draft="a")
    place(app, account, shop["parcels"][1:], shop["address"], draft="b")
    log_in(page, viewport, account)
    count = page.locator("#unread-count")
    expect(count).to_have_text(re.compile("^2"))

    activate(page.get_by_test_id("bell"), viewport)
    expect(page).to_have_url(re.compile(r"/messages/$"))
    assert_no_horizontal_scroll(page, viewport)
    messages = page.get_by_test_id("message")
    expect(messages).to_have_count(2)
    expect(messages.first).to_have_attribute("data-unread", "yes")
    activate(page.get_by_test_id("read-all"), viewport)
    expect(messages.first).to_have_attribute("data-unread", "no")
    expect(count).to_be_hidden()  # the bell refreshed itself, no reload
    expect(page).to_have_url(re.compile(r"/messages/$"))

    activate(messages.last.get_by_test_id("open"), viewport)
    expect(page).to_have_url(re.compile(rf"/orders/{order_no}$"))
    assert_no_console_errors(console_log)
