"""WeChat login in the browser through the stand-in: on a phone inside WeChat (MicroMessenger
user agent) the 公众号 authorization, on a desktop the QR login; the first login makes the
account and offers to add the mobile number, a later login finds it."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import ExternalLogin, User
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, ConsoleLog, Viewport
from tests.e2e.test_journeys import activate, assert_no_console_errors, assert_no_horizontal_scroll
from tests.test_wechat_protocol import DESKTOP_UA, WECHAT_UA

pytestmark = pytest.mark.e2e


@pytest.fixture
def wechat_page(browser: Browser, live_server, viewport: Viewport, console_log: ConsoleLog):
    """WeChat's own browser on the phone, an ordinary browser on the desktop."""
    context = browser.new_context(
        base_url=live_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        user_agent=WECHAT_UA if viewport.is_mobile else DESKTOP_UA,
        **viewport.context_options(),
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and console_log.errors.append(m.text))
    page.on("pageerror", lambda exc: console_log.errors.append(f"pageerror: {exc}"))
    yield page
    context.close()


def test_wechat_login_makes_the_account_then_finds_it(
    app, wechat_page: Page, viewport: Viewport, console_log: ConsoleLog
):
    page = wechat_page
    flow = "mp" if viewport.is_mobile else "qr"

    # The login page offers WeChat: one tap inside WeChat, the QR login on a desktop.
    page.goto("/auth/login")
    button = page.get_by_test_id("wechat-login")
    expect(button).to_have_attribute("data-flow", flow)
    assert_no_horizontal_scroll(page, viewport)
    activate(button, viewport)

    # WeChat's page (the stand-in) for a new test user: Allow.
    expect(page.get_by_test_id("wechat-simulator-page")).to_have_attribute("data-flow", flow)
    assert_no_horizontal_scroll(page, viewport)
    activate(page.get_by_test_id("wechat-sim-allow"), viewport)

    # Back on the portal with a new account: the mobile number may be added later.
    expect(page.get_by_test_id("phone-prompt")).to_be_visible()
    assert_no_horizontal_scroll(page, viewport)
    activate(page.get_by_test_id("phone-skip"), viewport)
    expect(page).to_have_url(re.compile(r"/parcels/$"))
    assert_no_horizontal_scroll(page, viewport)
    with app.app_context():
        user = db.session.scalar(select(User))
        link = db.session.scalar(select(ExternalLogin))
        assert (link.user_id, user.phone, user.password_hash) == (user.id, None, None)

    # The account page shows the WeChat link and offers a mobile number and a password.
    page.goto("/account/")
    expect(page.get_by_test_id("login-method-wechat")).to_have_attribute("data-present", "yes")
    expect(page.get_by_test_id("add-phone")).to_be_visible()
    assert_no_horizontal_scroll(page, viewport)

    # Another day (the cookies are gone): the same WeChat user finds the same account.
    page.context.clear_cookies()
    page.goto("/auth/login?next=/orders/")
    activate(page.get_by_test_id("wechat-login"), viewport)
    activate(page.get_by_test_id("wechat-sim-pick").first, viewport)
    expect(page).to_have_url(re.compile(r"/orders/$"))
    with app.app_context():
        assert db.session.scalar(select(User.id)) == user.id
        assert len(db.session.scalars(select(User)).all()) == 1
    assert_no_console_errors(console_log)
