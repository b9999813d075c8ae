"""My wallet in the browser, on a desktop and a phone: from the home page's balance tile to the
history, filtered by type with the URL pushed, with no sideways scrolling."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ConsoleLog, Viewport
from tests.e2e.test_journeys import activate, assert_no_console_errors, assert_no_horizontal_scroll
from tests.e2e.test_orders_journeys import log_in
from tests.test_wallet import move

pytestmark = pytest.mark.e2e


def test_the_wallet_from_the_home_page(
    app, page: Page, viewport: Viewport, make_customer, console_log: ConsoleLog
):
    account = make_customer()
    move(app, account, 50_000, "r1")
    move(app, account, -12_345, "p1", kind="payment")
    log_in(page, viewport, account)
    expect(page.get_by_test_id("balance-tile")).to_contain_text("376.55")
    activate(page.get_by_test_id("balance-tile"), viewport)
    expect(page).to_have_url(re.compile(r"/wallet/$"))
    expect(page.get_by_test_id("balance")).to_have_text("¥376.55")
    expect(page.get_by_test_id("entry")).to_have_count(2)
    assert_no_horizontal_scroll(page, viewport)

    page.locator("#kind").select_option("payment")
    activate(page.locator("#wallet-filters").get_by_role("button", name="筛选"), viewport)
    expect(page).to_have_url(re.compile(r"kind=payment"))
    expect(page.get_by_test_id("entry")).to_have_count(1)
    expect(page.get_by_test_id("entry")).to_contain_text("−¥123.45")
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log)
