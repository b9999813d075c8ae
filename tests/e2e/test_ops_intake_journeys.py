"""Browser journeys of the intake desk (desktop only, as staff work at desks with scanners): a
registered parcel scanned, weighed, measured, photographed and then seen by its owner; an unknown
number recorded as unclaimed, found by a customer from part of the number, claimed, approved."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import VIEWPORTS, ConsoleLog, Viewport
from tests.e2e.test_journeys import assert_no_console_errors, assert_no_horizontal_scroll
from tests.e2e.test_orders_journeys import log_in
from tests.test_ops_intake import client_of, png, record_unclaimed

pytestmark = pytest.mark.e2e
desktop_only = pytest.mark.parametrize("viewport", [VIEWPORTS[0]], indirect=True, ids=["desktop"])

REGISTERED = "SF1234567890123"
UNKNOWN = "YT9876543215678"


@pytest.fixture
def photo_file(tmp_path) -> str:
    path = tmp_path / "parcel.png"
    path.write_bytes(png(320, 240))
    return str(path)


@pytest.fixture
def upload_dir(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


def scan(page: Page, number: str) -> None:
    """Type the number into the focused scan field and press Enter, as a scanner does."""
    field = page.locator("#scan-tracking-no")
    expect(field).to_be_focused()
    page.keyboard.type(number)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"tracking_no={number}"))


@desktop_only
def test_a_scanned_parcel_is_received_and_its_owner_sees_it(
    page: Page,
    viewport: Viewport,
    browser: Browser,
    live_server: str,
    upload_dir,
    make_staff,
    make_customer,
    make_parcel,
    photo_file: str,
    console_log: ConsoleLog,
):
    customer = make_customer()
    parcel_id = make_parcel(customer.id, tracking_no=REGISTERED)
    log_in(page, viewport, make_staff("warehouse"))
    page.goto("/ops/intake")
    scan(page, REGISTERED.lower())

    match = page.get_by_test_id("intake-match")
    expect(match.get_by_test_id("customer-code")).to_have_text(customer.customer_code)
    form = page.locator(f"#receive-{parcel_id}")
    weight = form.locator("input[name=weight]")
    expect(weight).to_be_focused()
    weight.fill("1.25")
    form.locator("input[name=length]").fill("30")
    form.locator("input[name=width]").fill("20")
    form.locator("input[name=height]").fill("10")
    # Without a photo the form says so, beside the field, and keeps what was typed.
    form.get_by_test_id("receive").click()
    expect(page.locator(f"#receive-{parcel_id}-photos-error")).to_be_visible()
    expect(page.locator(f"#receive-{parcel_id}-weight")).to_have_value("1.25")
    page.locator(f"#receive-{parcel_id}-photos").set_input_files(photo_file)
    page.locator(f"#receive-{parcel_id}").get_by_test_id("receive").click()

    expect(page).to_have_url(re.compile(r"/ops/intake$"))
    expect(page.locator("#flash")).to_contain_text(REGISTERED)
    expect(page.locator("#scan-tracking-no")).to_be_focused()
    scan(page, REGISTERED)
    expect(page.get_by_test_id("already-received")).to_contain_text("1.25 kg")
    expect(page.get_by_test_id("receive-form")).to_have_count(0)

    owner_context = browser.new_context(base_url=live_server, locale="zh-CN")
    try:
        owner = owner_context.new_page()
        log_in(owner, viewport, customer)
        owner.goto("/parcels/?status=received")
        card = owner.locator(f"#parcel-{parcel_id}")
        expect(card.get_by_test_id("weight")).to_have_text("1.25 kg")
        thumb = card.get_by_test_id("photo").locator("img")
        expect(thumb).to_have_count(1)
        expect(thumb).to_have_js_property("naturalWidth", 320)
    finally:
        owner_context.close()
    assert_no_console_errors(console_log, allowed=("422",))


@desktop_only
def test_an_unknown_parcel_is_recorded_claimed_and_approved(
    page: Page,
    viewport: Viewport,
    browser: Browser,
    live_server: str,
    upload_dir,
    make_staff,
    make_customer,
    photo_file: str,
    console_log: ConsoleLog,
):
    log_in(page, viewport, make_staff("admin"))
    page.goto("/ops/intake")
    scan(page, UNKNOWN)
    expect(page.get_by_test_id("no-registration")).to_be_visible()
    form = page.get_by_test_id("unclaimed-form")
    form.locator("input[name=weight]").fill("0.8")
    form.locator("input[name=photos]").set_input_files(photo_file)
    form.get_by_test_id("record-unclaimed").click()
    expect(page).to_have_url(re.compile(r"/ops/intake$"))
    expect(page.locator("#flash")).to_contain_text(UNKNOWN)

    customer = make_customer()
    customer_context = browser.new_context(base_url=live_server, locale="zh-CN")
    try:
        shopper = customer_context.new_page()
        log_in(shopper, viewport, customer)
        shopper.goto("/parcels/")
        shopper.get_by_test_id("unclaimed-link").click()
        shopper.locator("#q").fill("5678")
        shopper.get_by_test_id("unclaimed-search").click()
        expect(shopper).to_have_url(re.compile(r"q=5678"))
        match = shopper.get_by_test_id("unclaimed-match")
        expect(match.get_by_test_id("masked-no")).to_have_text("****5678")
        assert UNKNOWN not in shopper.content()
        match.get_by_test_id("claim-link").click()
        shopper.locator("#claim-tracking_no").fill(UNKNOWN)
        shopper.locator("#claim-contents").fill("两件T恤")
        shopper.get_by_test_id("send-claim").click()
        expect(shopper).to_have_url(re.compile(r"/parcels/unclaimed$"))
        expect(shopper.get_by_test_id("claim-status")).to_be_visible()

        page.goto("/ops/claims")
        card = page.get_by_test_id("claim")
        expect(card.get_by_test_id("customer-code")).to_have_text(customer.customer_code)
        expect(card.get_by_test_id("photo")).to_have_count(1)
        card.get_by_test_id("approve").click()
        expect(page.get_by_test_id("claims-empty")).to_be_visible()

        shopper.goto("/parcels/?status=received")
        parcel = shopper.get_by_test_id("parcel")
        expect(parcel).to_have_count(1)
        expect(parcel.locator(".parcel-no")).to_have_text(UNKNOWN)
        expect(parcel.get_by_test_id("photo")).to_have_count(1)
    finally:
        customer_context.close()
    assert_no_console_errors(console_log, allowed=("422",))


@pytest.mark.parametrize("viewport", [VIEWPORTS[1]], indirect=True, ids=["phone"])
def test_the_customer_search_and_claim_fit_a_phone(
    app, page: Page, viewport: Viewport, upload_dir, make_staff, make_customer
):
    clerk = client_of(app, make_staff("warehouse"))
    assert record_unclaimed(clerk, UNKNOWN).status_code == 303
    log_in(page, viewport, make_customer())
    page.goto("/parcels/unclaimed?q=5678")
    expect(page.get_by_test_id("masked-no")).to_have_text("****5678")
    assert_no_horizontal_scroll(page, viewport)
    page.get_by_test_id("claim-link").tap()
    expect(page.locator("#claim-tracking_no")).to_be_visible()
    assert_no_horizontal_scroll(page, viewport)
    page.get_by_test_id("send-claim").tap()
    expect(page.locator("#claim-tracking_no-error")).to_be_visible()
    assert_no_horizontal_scroll(page, viewport)
