"""A new forwarder's first day in the browser, from an empty database and no demo data:
`flask init-admin`, then the administrator names the site, adds the warehouse and a packing
service, imports the rate card and invites a warehouse worker; a visitor gets the first quote;
a customer registers, sees the address with the code and pre-registers a parcel; the invited
worker sets a password and receives the parcel at the intake desk; the customer sees it in stock.
Desktop only: this is desk work (the customer's pages have their own phone journeys)."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from portal.cli import DEMO_RATE_CARD
from portal.extensions import db
from portal.models import User
from tests.conftest import DEFAULT_PASSWORD
from tests.e2e.conftest import VIEWPORTS, ConsoleLog, Viewport
from tests.e2e.test_journeys import assert_no_console_errors, mobile_number
from tests.test_ops_intake import png

pytestmark = pytest.mark.e2e
desktop_only = pytest.mark.parametrize("viewport", [VIEWPORTS[0]], indirect=True, ids=["desktop"])

ADMIN = ("boss@feiniao-jiyun.cn", "first day passphrase")
WORKER = "cang@feiniao-jiyun.cn"
SITE_NAME = "飞鸟集运"
TRACKING_NO = "SF1234567890123"


@pytest.fixture
def rate_card_xlsx() -> str:
    """The example workbook a new forwarder starts from (docs/examples/README.md)."""
    return str(DEMO_RATE_CARD.with_suffix(".xlsx"))


@pytest.fixture
def photo(tmp_path) -> str:
    path = tmp_path / "parcel.png"
    path.write_bytes(png(320, 240))
    return str(path)


def log_in(page: Page, identifier: str, password: str) -> None:
    page.goto("/auth/login")
    form = page.locator("#login-form")
    form.locator("#identifier").fill(identifier)
    form.locator("#password").fill(password)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/$"))


def set_up_the_business(page: Page, rate_card_xlsx: str) -> str:
    """As the first administrator: site, warehouse, service, rate card, an invited worker.
    Returns the worker's invitation link."""
    log_in(page, *ADMIN)
    page.goto("/ops/")
    nav = page.get_by_test_id("ops-nav")

    nav.locator("a[href='/ops/site-settings']").click()
    form = page.locator("#site-settings")
    form.locator("#site-site_name").fill(SITE_NAME)
    form.locator("#site-service_phone").fill("0755-88886666")
    form.get_by_test_id("save-site-settings").click()
    expect(page.get_by_test_id("site-name")).to_have_text(SITE_NAME)

    nav.locator("a[href='/ops/warehouses']").click()
    form = page.locator("#warehouse-form")
    for name, value in {
        "name": "飞鸟深圳仓",
        "contact_name": "飞鸟仓",
        "phone": "0755-23456789",
        "region": "广东省深圳市宝安区",
        "address_line": "福永街道凤凰路 8 号",
        "postcode": "518103",
    }.items():
        form.locator(f"#warehouse-{name}").fill(value)
    form.get_by_test_id("save-warehouse").click()
    expect(page.get_by_text("飞鸟深圳仓").first).to_be_visible()

    nav.locator("a[href='/ops/packing-services']").click()
    form = page.locator("#packing-service-form")
    form.locator("#service-code").fill("bubble_wrap")
    form.locator("#service-name_zh").fill("气泡膜加固")
    form.locator("#service-name_en").fill("Bubble wrap")
    form.locator("#service-price").fill("5")
    form.get_by_test_id("save-service").click()
    expect(page.get_by_text("气泡膜加固").first).to_be_visible()

    nav.locator("a[href='/ops/rate-cards']").click()
    page.get_by_test_id("import-link").click()
    page.locator("#sheet").set_input_files(rate_card_xlsx)
    page.get_by_test_id("import-submit").click()
    expect(page).to_have_url(re.compile(r"/ops/rate-cards/\d+$"))
    expect(page.get_by_test_id("channel-row").first).to_be_visible()

    nav.locator("a[href='/ops/staff']").click()
    form = page.locator("#staff-invite-form")
    form.locator("#identifier").fill(WORKER)
    form.get_by_test_id("role-warehouse").check()
    form.get_by_test_id("invite-staff").click()
    link = page.get_by_test_id("invitation-link")
    expect(link).to_be_visible()
    return link.inner_text().strip()


@desktop_only
def test_from_an_empty_database_to_a_first_quote_and_a_first_intake(
    app,
    page: Page,
    viewport: Viewport,
    browser: Browser,
    live_server: str,
    rate_card_xlsx: str,
    photo: str,
    request,
    tmp_path,
    console_log: ConsoleLog,
):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    with app.app_context():
        assert db.session.query(User).count() == 0
    made = app.test_cli_runner().invoke(
        args=["init-admin", "--login", ADMIN[0]], input=f"{ADMIN[1]}\n{ADMIN[1]}\n"
    )
    assert made.exit_code == 0, made.output

    invitation = set_up_the_business(page, rate_card_xlsx)

    visitor = browser.new_context(base_url=live_server, locale="zh-CN")
    customer = browser.new_context(base_url=live_server, locale="zh-CN")
    worker = browser.new_context(base_url=live_server, locale="zh-CN")
    try:
        # The first quote, by a visitor.
        quote = visitor.new_page()
        quote.goto("/quote?country=US&postcode=10001&weight=2.5")
        expect(quote.get_by_test_id("offer").first).to_be_visible()
        expect(quote.get_by_test_id("site-name")).to_have_text(SITE_NAME)

        # A customer registers, sees the new warehouse with their code and registers a parcel.
        shopper = customer.new_page()
        shopper.goto("/auth/register")
        form = shopper.locator("#register-form")
        form.locator("#identifier").fill(mobile_number(request))
        form.locator("#password").fill(DEFAULT_PASSWORD)
        form.locator("#confirm").fill(DEFAULT_PASSWORD)
        form.locator("button[type=submit]").click()
        expect(shopper).to_have_url(re.compile(r"/$"))
        code = shopper.get_by_test_id("customer-code").inner_text().strip()
        address = shopper.get_by_test_id("warehouse-address")
        expect(address.get_by_test_id("recipient")).to_contain_text(f"飞鸟仓({code})")
        expect(shopper.get_by_test_id("service-phone")).to_contain_text("0755-88886666")
        shopper.goto("/parcels/new")
        form = shopper.locator("#parcel-form")
        form.locator("#tracking_no").fill(TRACKING_NO)
        form.locator("#contents").fill("蓝牙耳机")
        form.get_by_test_id("save").click()
        expect(shopper).to_have_url(re.compile(r"/parcels/\?status=expected$"))

        # The invited worker chooses a password and receives the parcel at the intake desk.
        desk = worker.new_page()
        desk.goto(invitation)
        form = desk.locator("#invitation-form")
        form.locator("#password").fill("warehouse day one")
        form.locator("#password_confirm").fill("warehouse day one")
        form.get_by_test_id("accept-invitation").click()
        expect(desk).to_have_url(re.compile(r"/ops/$"))
        desk.goto("/ops/intake")
        desk.locator("#scan-tracking-no").fill(TRACKING_NO)
        desk.keyboard.press("Enter")
        expect(desk.get_by_test_id("intake-match").get_by_test_id("customer-code")).to_have_text(
            code
        )
        receive = desk.get_by_test_id("receive-form")
        receive.locator("input[name=weight]").fill("1.25")
        receive.locator("input[name=photos]").set_input_files(photo)
        receive.get_by_test_id("receive").click()
        expect(desk).to_have_url(re.compile(r"/ops/intake$"))
        expect(desk.locator("#flash")).to_contain_text(TRACKING_NO)

        # The customer sees the parcel in stock.
        shopper.goto("/parcels/?status=received")
        parcel = shopper.get_by_test_id("parcel").filter(has_text=TRACKING_NO)
        expect(parcel.get_by_test_id("weight")).to_have_text("1.25 kg")
    finally:
        for context in (visitor, customer, worker):
            context.close()
    assert_no_console_errors(console_log)
