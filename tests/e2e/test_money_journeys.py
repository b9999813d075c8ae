"""The whole journey with money, in the browser, on a desktop and a phone (the customer's screen;
staff work at a desktop in their own browser window): register → register a parcel → staff scan
it in → quick order → staff pack → the order page names the shortfall → recharge by bank
transfer with a receipt → finance approves → pay → staff ship → tracking → delivered. And an
online recharge through the gateway simulator, credited by its notification, never by the
browser's return."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from portal import demo_data
from portal.extensions import db
from portal.models import Order, Parcel, PaymentSettings, User
from portal.services import ledger
from tests.conftest import DEFAULT_PASSWORD
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, ConsoleLog, Viewport
from tests.e2e.test_customer_journeys import Seeded, walk_to_placed_order
from tests.e2e.test_journeys import (
    activate,
    assert_no_console_errors,
    assert_no_horizontal_scroll,
    mobile_number,
)
from tests.e2e.test_ops_fulfilment_journeys import log_in as staff_log_in
from tests.test_ops_packing import png

pytestmark = pytest.mark.e2e
NUMBER = "SF5566778899001"
# Chromium logs every 4xx response; none is expected in these journeys.
ALLOWED: tuple[str, ...] = ()


@pytest.fixture
def staff_page(browser: Browser, live_server):
    """A desktop window for the staff, beside the customer's."""
    context = browser.new_context(
        base_url=live_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def configure_finance(app) -> None:
    with app.app_context():
        db.session.add(PaymentSettings(**demo_data.DEMO_BANK))
        demo_data.load_packing_services()
        db.session.commit()


def register(page: Page, viewport: Viewport, identifier: str) -> None:
    page.goto("/auth/register")
    form = page.locator("#register-form")
    form.get_by_label("手机号或邮箱").fill(identifier)
    form.get_by_label("密码", exact=True).fill(DEFAULT_PASSWORD)
    form.get_by_label("确认密码").fill(DEFAULT_PASSWORD)
    activate(form.get_by_role("button", name="注册"), viewport)
    expect(page).to_have_url(re.compile(r"/$"))


def register_parcel(page: Page, viewport: Viewport) -> None:
    page.goto("/parcels/new")
    form = page.locator("#parcel-form")
    form.get_by_label("快递单号").fill(NUMBER)
    form.get_by_label("物品名称").fill("毛衣")
    form.get_by_label("物品价值（元）").fill("199")
    form.get_by_label("数量").fill("1")
    activate(form.get_by_test_id("save"), viewport)
    expect(page.locator("#flash")).to_contain_text(NUMBER)


def scan_in(staff: Page, parcel_id: int) -> None:
    staff.goto("/ops/intake")
    # Chromium focuses an autofocus field at its next rendering step, which can come after
    # the load event; keys typed before it would be lost, as a scanner's would.
    expect(staff.locator("#scan-tracking-no")).to_be_focused()
    staff.keyboard.type(NUMBER)
    staff.keyboard.press("Enter")
    form = staff.locator(f"#receive-{parcel_id}")
    form.locator("input[name=weight]").fill("1.2")
    staff.locator(f"#receive-{parcel_id}-photos").set_input_files(
        {"name": "parcel.png", "mimeType": "image/png", "buffer": png("orange")}
    )
    form.get_by_test_id("receive").click()
    expect(staff.locator("#flash")).to_contain_text(NUMBER)


def pack(staff: Page, order_no: str) -> None:
    staff.goto("/ops/packing")
    row = staff.locator(f'[data-testid="queue-order"][data-order-no="{order_no}"]')
    row.get_by_test_id("pack-link").click()
    for field, value in (("weight", "1.35"), ("length", "30"), ("width", "20"), ("height", "15")):
        staff.locator(f"#box-1-{field}").fill(value)
    staff.get_by_test_id("pack-submit").click()
    expect(staff.locator("#flash")).to_contain_text(order_no)


def ship_track_deliver(staff: Page, order_id: int) -> None:
    staff.goto(f"/ops/orders/{order_id}")
    actions = staff.get_by_test_id("order-actions")
    actions.locator("#carrier").select_option("DHL")
    actions.locator("#tracking_no").fill("JD0009876543")
    actions.locator("#tracking_no").press("Enter")
    expect(staff.locator("#flash")).to_contain_text("JD0009876543")
    staff.goto(f"/ops/orders/{order_id}")
    add = staff.get_by_test_id("tracking-add")
    add.get_by_test_id("event-time").fill("2026-11-25T09:15")
    add.get_by_test_id("event-place").fill("洛杉矶")
    add.get_by_test_id("event-description").fill("已到达目的国")
    add.get_by_test_id("tracking-submit").click()
    expect(staff.get_by_test_id("tracking-event")).to_have_count(1)
    staff.get_by_test_id("deliver").click()
    expect(staff.locator("#tracking-page")).to_have_attribute("data-status", "delivered")


def test_from_registration_to_delivery_paying_with_a_bank_transfer(
    app,
    page: Page,
    staff_page: Page,
    viewport: Viewport,
    demo_card,
    make_staff,
    make_address,
    console_log: ConsoleLog,
    request,
):
    configure_finance(app)
    staff = make_staff("warehouse", "finance")
    identifier = mobile_number(request)

    # The customer registers and pre-registers a parcel.
    register(page, viewport, identifier)
    register_parcel(page, viewport)
    with app.app_context():
        customer = db.session.scalar(select(User).where(User.phone == "+86" + identifier))
        customer_id = customer.id
        parcel_id = db.session.scalar(select(Parcel.id).where(Parcel.customer_id == customer_id))
    make_address(customer_id, is_default=True)

    # The warehouse scans it in.
    staff_log_in(staff_page, staff)
    scan_in(staff_page, parcel_id)

    # Quick order from the parcel list.
    page.goto("/parcels/?status=received")
    pick = page.get_by_test_id("parcel").filter(has_text=NUMBER).get_by_test_id("pick")
    activate(pick, viewport)
    activate(page.get_by_test_id("ship-selected"), viewport)
    placed = walk_to_placed_order(page, viewport, [Seeded(NUMBER, "毛衣", parcel_id)])
    with app.app_context():
        order_id = db.session.scalar(select(Order.id).where(Order.order_no == placed.order_no))

    # The warehouse packs it: the bill is set and the customer must pay.
    pack(staff_page, placed.order_no)
    page.goto(f"/orders/{placed.order_no}")
    expect(page.locator("#order")).to_have_attribute("data-status", "awaiting_payment")
    panel = page.get_by_test_id("pay-panel")
    expect(panel.get_by_test_id("pay-balance")).to_have_attribute("data-fen", "0")
    shortfall = panel.get_by_test_id("pay-shortfall")
    expect(shortfall).to_be_visible()
    bill_fen = int(shortfall.get_attribute("data-fen"))
    assert bill_fen > 0
    assert_no_horizontal_scroll(page, viewport)

    # The shortfall opens the recharge page with the amount prefilled; bank transfer.
    activate(panel.get_by_test_id("recharge-link"), viewport)
    expect(page).to_have_url(re.compile(r"/recharge/\?amount="))
    assert_no_horizontal_scroll(page, viewport)
    activate(page.locator('[data-method="bank_transfer"] a.btn'), viewport)
    expect(page).to_have_url(re.compile(r"/recharge/bank"))
    expect(page.get_by_test_id("account-no")).to_have_text(demo_data.DEMO_BANK["account_no"])
    form = page.locator("#bank-form")
    yuan = f"{bill_fen // 100}.{bill_fen % 100:02d}"
    expect(form.locator("#amount")).to_have_value(yuan)
    form.locator("#payer_name").fill("王芳")
    form.locator("#receipt").set_input_files(
        {"name": "receipt.png", "mimeType": "image/png", "buffer": png("green")}
    )
    assert_no_horizontal_scroll(page, viewport)
    activate(form.get_by_test_id("send-recharge"), viewport)
    expect(page).to_have_url(re.compile(r"/recharge/\d+$"))
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "submitted")
    recharge_id = re.search(r"/recharge/(\d+)$", page.url).group(1)

    # Finance sees the receipt in the queue and approves it.
    staff_page.goto("/ops/recharges")
    row = staff_page.locator(f'[data-testid="recharge-row"][data-recharge-id="{recharge_id}"]')
    expect(row.locator("img")).to_be_visible()
    row.get_by_test_id("approve").click()
    expect(row).to_have_count(0)

    # The customer is credited and pays.
    page.goto(f"/recharge/{recharge_id}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "approved")
    page.goto(f"/orders/{placed.order_no}")
    expect(panel.get_by_test_id("pay-balance")).to_have_attribute("data-fen", str(bill_fen))
    activate(panel.get_by_test_id("pay-button"), viewport)
    expect(page.locator("#order")).to_have_attribute("data-status", "paid")
    with app.app_context():
        assert ledger.balance_fen(db.session.get(User, customer_id)) == 0

    # The warehouse ships it, adds a tracking event and marks it delivered.
    ship_track_deliver(staff_page, order_id)

    # The customer sees it delivered, with the tracking and the payment in the wallet.
    page.goto(f"/orders/{placed.order_no}")
    expect(page.locator("#order")).to_have_attribute("data-status", "delivered")
    expect(page.get_by_test_id("tracking-event")).to_contain_text("已到达目的国")
    page.goto("/wallet/")
    expect(page.get_by_test_id("entry")).to_have_count(2)
    expect(page.get_by_test_id("entry-order")).to_have_text(placed.order_no)
    expect(page.get_by_test_id("entry-recharge")).to_have_count(1)
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log, ALLOWED)


def test_an_online_recharge_through_the_gateway_simulator(
    app, page: Page, viewport: Viewport, make_customer, console_log: ConsoleLog
):
    app.config["GATEWAY_SIMULATOR_AUTODELIVER"] = True  # the simulator calls back by itself
    account = make_customer()
    page.goto("/auth/login")
    form = page.locator("#login-form")
    form.get_by_label("手机号或邮箱").fill(account.identifier)
    form.get_by_label("密码").fill(account.password)
    activate(form.get_by_role("button", name="登录"), viewport)
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto("/recharge/")
    activate(page.locator('[data-method="online"] a.btn'), viewport)
    expect(page).to_have_url(re.compile(r"/recharge/online"))
    page.get_by_test_id("online-amount").fill("88.80")
    assert_no_horizontal_scroll(page, viewport)
    activate(page.get_by_test_id("online-submit"), viewport)

    # The gateway's pay page (the simulator standing in for Alipay).
    expect(page).to_have_url(re.compile(r"/simulator/gateway\.do\?"))
    expect(page.get_by_test_id("simulator-amount")).to_have_attribute("data-fen", "8880")
    assert_no_horizontal_scroll(page, viewport)
    activate(page.get_by_test_id("simulator-pay"), viewport)

    # Back on the portal: confirmed only when the signed notification has arrived.
    expect(page).to_have_url(re.compile(r"/recharge/online/CZ[0-9A-Z]+"))
    expect(page.get_by_test_id("online-status")).to_have_attribute("data-status", "paid")
    expect(page.get_by_test_id("online-credited")).to_be_visible()
    page.goto("/wallet/")
    expect(page.get_by_test_id("balance")).to_have_attribute("data-fen", "8880")
    with app.app_context():
        assert ledger.balance_fen(db.session.get(User, account.id)) == 8_880
    assert_no_console_errors(console_log, ALLOWED)
