"""物流通 login in the browser, on a desktop and a phone: a visitor opens their parcels, is sent
to the login page, switches to the 物流通 tab (and back, and again), logs in with the demo
account and lands on the parcel list; then sets a password and unlinks 物流通 on the account
page; nothing scrolls sideways at 375 px."""

import re

import pytest
from playwright.sync_api import Page, expect

from portal.wuliutong_simulator.accounts import DEMO_ACCOUNTS
from tests.e2e.conftest import ConsoleLog, Viewport
from tests.e2e.test_journeys import activate, assert_no_console_errors, assert_no_horizontal_scroll

pytestmark = pytest.mark.e2e
DEMO = DEMO_ACCOUNTS["wlt-demo"]


def test_log_in_with_the_demo_wuliutong_account_and_see_the_parcels(
    page: Page, viewport: Viewport, make_warehouse, console_log: ConsoleLog
):
    make_warehouse()
    page.goto("/parcels/")
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
    expect(page.locator("#login-form")).to_be_visible()
    assert_no_horizontal_scroll(page, viewport)

    activate(page.get_by_test_id("wuliutong-tab"), viewport)
    form = page.get_by_test_id("wuliutong-form")
    expect(form).to_be_visible()
    expect(page).to_have_url(re.compile(r"/auth/login/wuliutong\?next="))
    assert_no_horizontal_scroll(page, viewport)
    activate(form.get_by_test_id("password-tab"), viewport)
    expect(page.locator("#login-form")).to_be_visible()
    activate(page.get_by_test_id("wuliutong-tab"), viewport)

    form.locator("#account").fill(DEMO.name)
    form.locator("#password").fill(DEMO.password)
    activate(form.locator("button[type=submit]"), viewport)
    expect(page).to_have_url(re.compile(r"/parcels/$"))
    expect(page.locator("#parcel-list")).to_be_visible()
    assert_no_horizontal_scroll(page, viewport)

    # The only way to log in cannot be unlinked; once a password is set, it can.
    page.goto("/account/")
    expect(page.get_by_test_id("login-method-wuliutong")).to_have_attribute("data-present", "yes")
    expect(page.get_by_test_id("wuliutong-unbind")).to_have_count(0)
    page.goto("/account/set-password")
    page.locator("#new_password").fill("a long new secret")
    page.locator("#confirm").fill("a long new secret")
    activate(page.get_by_test_id("set-password-save"), viewport)
    expect(page).to_have_url(re.compile(r"/account/$"))
    assert_no_horizontal_scroll(page, viewport)
    activate(page.get_by_test_id("wuliutong-unbind"), viewport)
    expect(page.locator("#flash")).to_contain_text("物流通已与你的账户解除关联")
    expect(page.get_by_test_id("login-method-wuliutong")).to_have_attribute("data-present", "no")
    assert_no_console_errors(console_log)
