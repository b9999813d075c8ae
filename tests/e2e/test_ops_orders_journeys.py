"""Browser journey through the ops order list (desktop only): tabs, search and days by htmx with
the URL pushed, the XLSX export downloaded and opened, an order opened, and its packing list and
label printed (the print dialog opens by itself; each print is counted once)."""

import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import VIEWPORTS, ConsoleLog, Viewport
from tests.e2e.test_journeys import activate, assert_no_console_errors
from tests.e2e.test_orders_journeys import log_in

pytestmark = pytest.mark.e2e
DESKTOP = [v for v in VIEWPORTS if not v.is_mobile]
STUB_PRINT = "window.print = () => { window.__printed = (window.__printed || 0) + 1 }"


@pytest.mark.parametrize("viewport", DESKTOP, indirect=True, ids=[v.name for v in DESKTOP])
def test_staff_find_export_open_and_print_an_order(
    page: Page,
    viewport: Viewport,
    make_customer,
    make_staff,
    insert_orders,
    tmp_path,
    console_log: ConsoleLog,
):
    customer = make_customer()
    insert_orders(customer.id, 3)
    delivered = insert_orders(customer.id, 2, status="delivered")
    page.add_init_script(STUB_PRINT)
    log_in(page, viewport, make_staff("warehouse"))

    page.goto("/ops/orders")
    rows = page.get_by_test_id("order-row")
    expect(rows).to_have_count(5)
    tab = page.locator('[data-testid="tab"][data-status="delivered"]')
    activate(tab, viewport)
    expect(page).to_have_url(re.compile(r"/ops/orders\?status=delivered$"))
    expect(page.locator('[data-testid="tab"][data-status="delivered"]')).to_have_attribute(
        "aria-current", "page"
    )
    expect(rows).to_have_count(2)

    page.locator("#orders-q").fill(delivered[0])
    page.locator("#orders-q").press("Enter")
    expect(page).to_have_url(re.compile(rf"q={delivered[0]}"))
    expect(rows).to_have_count(1)
    page.locator("#orders-q").fill("")
    # The orders were placed on 2026-11-01 in Beijing.
    page.locator("#orders-since").fill("2026-11-02")
    activate(page.get_by_test_id("orders-search"), viewport)
    expect(page).to_have_url(re.compile(r"since=2026-11-02"))
    expect(page.get_by_test_id("orders-empty")).to_be_visible()
    page.locator("#orders-since").fill("2026-11-01")
    page.locator("#orders-until").fill("2026-11-01")
    activate(page.get_by_test_id("orders-search"), viewport)
    expect(page).to_have_url(re.compile(r"status=delivered.*since=2026-11-01.*until=2026-11-01"))
    expect(rows).to_have_count(2)

    with page.expect_download() as download_info:
        activate(page.get_by_test_id("export-xlsx"), viewport)
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert re.fullmatch(r"orders-\d{8}-\d{4}\.xlsx", saved.name)
    sheet = load_workbook(saved, read_only=True).active
    numbers = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == list(reversed(delivered))

    activate(page.get_by_role("link", name=delivered[1]), viewport)
    expect(page.get_by_test_id("order-no")).to_have_text(delivered[1])
    for kind in ("packing-list", "label"):
        activate(page.get_by_test_id(f"print-{kind}").get_by_test_id("print-button"), viewport)
        expect(page).to_have_url(re.compile(rf"/{kind}\?print=1$"))
        expect(page.locator(".print-barcode svg")).to_have_attribute("data-barcode", delivered[1])
        page.wait_for_function("window.__printed === 1")
        activate(page.get_by_test_id("back-to-order"), viewport)
        count = page.get_by_test_id(f"print-{kind}").get_by_test_id("print-count")
        expect(count).to_have_attribute("data-count", "1")
    assert_no_console_errors(console_log)
