"""Browser journeys of an administrator (desktop only): the dashboard with its chart and the 7/30
day switch, disabling a customer whose open session then ends, and a rate sheet import whose row
error is shown."""

import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect

from portal.extensions import db
from portal.models import RateCard
from portal.services.rate_sheets import export_rate_card
from tests.e2e.conftest import VIEWPORTS, ConsoleLog, Viewport
from tests.e2e.test_journeys import assert_no_console_errors
from tests.e2e.test_orders_journeys import log_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("viewport", [VIEWPORTS[0]], indirect=True, ids=["desktop"]),
]


def test_dashboard_counts_chart_and_period_switch(
    page: Page, viewport: Viewport, make_staff, make_customer, make_parcel, console_log: ConsoleLog
):
    customer = make_customer()
    make_parcel(customer.id)
    make_parcel(customer.id)
    log_in(page, viewport, make_staff("admin"))
    page.goto("/ops/")
    expect(page.get_by_test_id("count-parcels_expected").locator(".ops-dash-number")).to_have_text(
        "2"
    )
    bars = page.get_by_test_id("chart-orders-placed").locator("rect.ops-chart-bar")
    expect(bars).to_have_count(7)
    expect(page.get_by_test_id("chart-revenue").locator("circle.ops-chart-point")).to_have_count(7)

    page.get_by_test_id("period-30").click()
    expect(page).to_have_url(re.compile(r"/ops/\?days=30$"))
    expect(bars).to_have_count(30)
    expect(page.get_by_test_id("period-30")).to_have_attribute("aria-current", "page")
    # The counts were not re-rendered: only the trends were swapped.
    expect(page.get_by_test_id("count-parcels_expected")).to_be_visible()

    page.go_back()
    expect(page).to_have_url(re.compile(r"/ops/$"))
    expect(bars).to_have_count(7)
    assert_no_console_errors(console_log)


def test_disabling_a_customer_ends_their_open_session(
    page: Page,
    viewport: Viewport,
    browser: Browser,
    live_server: str,
    make_staff,
    make_customer,
    console_log: ConsoleLog,
):
    customer = make_customer("13612345678")
    customer_context = browser.new_context(base_url=live_server, locale="zh-CN")
    try:
        customer_page = customer_context.new_page()
        log_in(customer_page, viewport, customer)
        expect(customer_page.get_by_test_id("customer-code")).to_be_visible()

        log_in(page, viewport, make_staff("admin"))
        page.goto("/ops/customers")
        page.locator("#q").fill("136123")
        page.get_by_test_id("customer-search-submit").click()
        expect(page).to_have_url(re.compile(r"q=136123"))
        rows = page.get_by_test_id("customer-row")
        expect(rows).to_have_count(1)
        rows.get_by_test_id("customer-link").click()
        expect(page.get_by_test_id("customer-code")).to_have_text(customer.customer_code)

        # Without a reason the form says what is missing, and nothing happens.
        page.get_by_test_id("disable-customer").click()
        expect(page.locator("#reason-error")).to_be_visible()
        page.locator("#reason").fill("疑似盗号")
        page.get_by_test_id("disable-customer").click()
        expect(
            page.get_by_test_id("customer-status").get_by_test_id("disabled-badge")
        ).to_be_visible()
        expect(page.get_by_test_id("enable-customer")).to_be_visible()

        # The customer's next click lands on the login page.
        customer_page.goto("/parcels/")
        expect(customer_page).to_have_url(re.compile(r"/auth/login"))
    finally:
        customer_context.close()
    assert_no_console_errors(console_log, allowed=("422",))


def test_importing_a_sheet_with_an_error_shows_the_row(
    app, page: Page, viewport: Viewport, make_staff, demo_card, tmp_path, console_log: ConsoleLog
):
    path = tmp_path / "rates.xlsx"
    with app.app_context():
        export_rate_card(db.session.query(RateCard).one(), path)
    book = load_workbook(path)
    book["card"]["A2"] = "2026-12"
    rates = book["rates"]
    header = [cell.value for cell in rates[1]]
    rates.cell(row=5, column=header.index("unit_price") + 1, value="十元")
    book.save(path)

    log_in(page, viewport, make_staff("admin"))
    page.goto("/ops/rate-cards")
    page.get_by_test_id("import-link").click()
    page.locator("#sheet").set_input_files(str(path))
    page.get_by_test_id("import-submit").click()
    problem = page.get_by_test_id("sheet-problem")
    expect(problem).to_have_count(1)
    expect(problem.locator("td").nth(0)).to_have_text("rates")
    expect(problem.locator("td").nth(1)).to_have_text("5")
    expect(problem.locator("td").nth(2)).to_have_text("unit_price")
    expect(page.locator("#sheet-error")).to_be_visible()
    with app.app_context():
        assert db.session.query(RateCard).count() == 1
    assert_no_console_errors(console_log, allowed=("422",))
