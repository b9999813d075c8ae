"""Browser journeys on a desktop and a phone: register, copy the address, switch language, log out.

Each test runs on SQLite and PostgreSQL (the `app` fixture) and at 1280x800 and 375x812 (the
`viewport` fixture). People click what they can see: the top bar on a desktop, the bottom tab bar
on a phone (the top navigation is hidden below 768px).
"""

import re
import zlib

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import DEFAULT_PASSWORD
from tests.e2e.conftest import ConsoleLog, Viewport

pytestmark = pytest.mark.e2e

WAREHOUSE_PHONE = "0755-88886666"  # make_warehouse's default


def activate(locator: Locator, viewport: Viewport) -> None:
    """Tap on a phone, click on a desktop."""
    if viewport.is_mobile:
        locator.tap()
    else:
        locator.click()


def navigation(page: Page, viewport: Viewport) -> Locator:
    """The navigation visible at this width: the tab bar on a phone, the top bar otherwise."""
    return page.locator("nav.tabbar") if viewport.is_mobile else page.locator("header.topbar")


def mobile_number(request) -> str:
    """A valid mainland mobile number, different for each test."""
    return f"1391234{zlib.crc32(request.node.nodeid.encode()) % 10_000:04d}"


def assert_no_console_errors(console_log: ConsoleLog, allowed: tuple[str, ...] = ()) -> None:
    unexpected = [e for e in console_log.errors if not any(a in e for a in allowed)]
    assert unexpected == [], "errors in the browser console:\n" + "\n".join(unexpected)


def assert_no_horizontal_scroll(page: Page, viewport: Viewport) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport.width, f"{page.url} scrolls sideways: {width}px > {viewport.width}px"


def test_register_copy_address_switch_language_logout_and_login(
    page: Page, viewport: Viewport, make_warehouse, console_log: ConsoleLog, request
):
    make_warehouse()
    identifier = mobile_number(request)
    html = page.locator("html")

    # A visitor lands on the Chinese home page.
    page.goto("/")
    expect(html).to_have_attribute("lang", "zh-CN")
    nav = navigation(page, viewport)
    register_link = nav.get_by_role("link", name="注册", exact=True)
    expect(register_link).to_be_visible()

    # Register through the visible navigation.
    activate(register_link, viewport)
    expect(page).to_have_url(re.compile(r"/auth/register$"))
    form = page.locator("#register-form")
    form.get_by_label("手机号或邮箱").fill(identifier)
    form.get_by_label("密码", exact=True).fill(DEFAULT_PASSWORD)
    form.get_by_label("确认密码").fill(DEFAULT_PASSWORD)
    activate(form.get_by_role("button", name="注册"), viewport)

    # The home page shows the customer code and the warehouse address with the code in it.
    expect(page).to_have_url(re.compile(r"/$"))
    badge = page.get_by_test_id("customer-code")
    expect(badge).to_have_text(re.compile(r"^\s*[A-Z0-9]{4,}\s*$"))
    code = badge.inner_text().strip()
    card = page.get_by_test_id("warehouse-address")
    expect(card.get_by_test_id("recipient")).to_contain_text(f"({code})")

    # Copy the address for the shop.
    activate(card.get_by_role("button", name="复制地址"), viewport)
    expect(card.get_by_role("status")).to_contain_text("已复制")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert code in copied
    assert WAREHOUSE_PHONE in copied

    # Switch to English; the choice is kept for the user.
    activate(page.get_by_test_id("lang-en"), viewport)
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Copy address")).to_be_visible()
    page.reload()
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Copy address")).to_be_visible()

    # Log out: from the top bar on a desktop, from the account page on a phone.
    if viewport.is_mobile:
        expect(page.get_by_test_id("logout")).to_be_hidden()
        activate(nav.get_by_role("link", name="Me", exact=True), viewport)
        expect(page).to_have_url(re.compile(r"/account/$"))
        activate(page.locator("main").get_by_role("button", name="Log out"), viewport)
    else:
        activate(page.get_by_test_id("logout"), viewport)

    # The visitor sees the landing page, still in English.
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Buy in China, we ship it to you")).to_be_visible()
    expect(page.get_by_test_id("customer-code")).to_have_count(0)
    expect(html).to_have_attribute("lang", "en")

    # Log in again with the same credentials.
    activate(nav.get_by_role("link", name="Log in", exact=True), viewport)
    expect(page).to_have_url(re.compile(r"/auth/login$"))
    form = page.locator("#login-form")
    form.get_by_label("Mobile number or email").fill(identifier)
    form.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    activate(form.get_by_role("button", name="Log in"), viewport)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("customer-code")).to_have_text(code)
    expect(html).to_have_attribute("lang", "en")

    assert_no_console_errors(console_log)


def test_pages_fit_the_screen_and_show_the_right_navigation(
    page: Page, viewport: Viewport, make_warehouse, make_customer, console_log: ConsoleLog
):
    make_warehouse()
    account = make_customer()
    tabbar = page.locator("nav.tabbar")

    def check_layout() -> None:
        assert_no_horizontal_scroll(page, viewport)
        # The top navigation (links and the logout button) gives way to the tab bar on a phone.
        topnav = page.locator("header.topbar .topnav").all()
        assert topnav, "no top navigation"
        if viewport.is_mobile:
            expect(tabbar).to_be_visible()
            for part in topnav:
                expect(part).to_be_hidden()
        else:
            expect(tabbar).to_be_hidden()
            for part in topnav:
                expect(part).to_be_visible()

    page.goto("/")
    check_layout()
    page.goto("/auth/register")
    check_layout()

    page.goto("/auth/login")
    form = page.locator("#login-form")
    form.get_by_label("手机号或邮箱").fill(account.identifier)
    form.get_by_label("密码", exact=True).fill(account.password)
    activate(form.get_by_role("button", name="登录"), viewport)
    expect(page.get_by_test_id("customer-code")).to_have_text(account.customer_code)
    expect(page.get_by_test_id("warehouse-address")).to_be_visible()
    check_layout()

    assert_no_console_errors(console_log)


def test_invalid_registration_shows_the_error_beside_the_field_without_reload(
    page: Page, viewport: Viewport, console_log: ConsoleLog
):
    page.goto("/auth/register")
    page.evaluate("window.__sameDocument = 'still here'")
    form = page.locator("#register-form")
    form.get_by_label("手机号或邮箱").fill("12345")
    form.get_by_label("密码", exact=True).fill(DEFAULT_PASSWORD)
    form.get_by_label("确认密码").fill(DEFAULT_PASSWORD)
    activate(form.get_by_role("button", name="注册"), viewport)

    expect(page.locator("#identifier-error")).to_contain_text("有效的手机号")
    identifier = page.locator("#register-form").get_by_label("手机号或邮箱")
    expect(identifier).to_have_attribute("aria-invalid", "true")
    expect(identifier).to_have_value("12345")
    expect(page).to_have_url(re.compile(r"/auth/register$"))
    assert page.evaluate("window.__sameDocument") == "still here", "the page was reloaded"
    # Chromium logs every 4xx response; the 422 of the refused form is expected.
    assert_no_console_errors(console_log, allowed=("status of 422",))
