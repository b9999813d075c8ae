"""Browser journey of an order through the warehouse (desktop only: staff work at desks):
packing it with a box photo, the customer seeing the bill and the box, shipping it by scanning
its number, a tracking event, delivery, and the customer seeing 已签收 and the timeline."""

import re

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import Order
from portal.services.order_states import CUSTOMER, transition
from tests.e2e.conftest import VIEWPORTS, ConsoleLog, Viewport
from tests.e2e.test_journeys import activate, assert_no_console_errors
from tests.test_ops_packing import png
from tests.test_order_service import order_request, place

pytestmark = pytest.mark.e2e
DESKTOP = [v for v in VIEWPORTS if not v.is_mobile]


def log_in(page: Page, account) -> None:
    page.goto("/auth/login")
    form = page.locator("#login-form")
    form.get_by_label("手机号或邮箱").fill(account.identifier)
    form.get_by_label("密码").fill(account.password)
    form.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/$"))


def log_out(page: Page) -> None:
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("logout")).to_have_count(0)


@pytest.mark.parametrize("viewport", DESKTOP, ids=[v.name for v in DESKTOP], indirect=True)
def test_an_order_is_packed_shipped_tracked_and_delivered(
    app,
    page: Page,
    viewport: Viewport,
    demo_card,
    make_customer,
    make_staff,
    make_address,
    make_parcel,
    tmp_path,
    console_log: ConsoleLog,
):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    customer, staff = make_customer(), make_staff("warehouse")
    parcel = make_parcel(customer.id, received=True, contents="鞋子")
    order_id = place(app, customer, order_request([parcel], make_address(customer.id)))
    with app.app_context():
        number = db.session.get(Order, order_id).order_no

    # The packer finds the order in the queue and packs it into one box with a photo.
    log_in(page, staff)
    page.goto("/ops/packing")
    row = page.locator(f'[data-testid="queue-order"][data-order-no="{number}"]')
    activate(row.get_by_test_id("pack-link"), viewport)
    expect(page.get_by_test_id("order-no")).to_have_text(number)
    page.locator("#box-1-weight").fill("1.35")
    page.locator("#box-1-length").fill("30")
    page.locator("#box-1-width").fill("20")
    page.locator("#box-1-height").fill("15")
    page.locator("#box-1-photo").set_input_files(
        {"name": "box.png", "mimeType": "image/png", "buffer": png("orange")}
    )
    activate(page.get_by_test_id("pack-submit"), viewport)
    expect(page).to_have_url(re.compile(r"/ops/packing$"))
    expect(page.locator("#flash")).to_contain_text(number)
    expect(row).to_have_count(0)
    log_out(page)

    # The customer sees the bill and the box with its photo, and pays.
    log_in(page, customer)
    page.goto(f"/orders/{number}")
    expect(page.get_by_test_id("bill-total")).to_be_visible()
    box = page.get_by_test_id("box")
    expect(box).to_have_count(1)
    expect(box.get_by_test_id("box-weight")).to_have_text("1.35 kg")
    photo = box.locator("img")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0")
    with app.app_context():
        transition(db.session.get(Order, order_id), "paid", customer.id, CUSTOMER)
        db.session.commit()
    log_out(page)

    # The shipping desk: scan the order number, scan the outbound number.
    log_in(page, staff)
    page.goto("/ops/shipping")
    scan = page.locator("#order_no")
    expect(scan).to_be_focused()
    scan.fill(number)
    scan.press("Enter")
    expect(page.get_by_test_id("ship-form")).to_be_visible()
    page.locator("#carrier").select_option("DHL")
    outbound = page.locator("#tracking_no")
    expect(outbound).to_be_focused()
    outbound.fill("1234 5678 90")
    outbound.press("Enter")
    expect(page).to_have_url(re.compile(r"/ops/shipping$"))
    expect(page.locator("#flash")).to_contain_text("1234567890")
    expect(page.get_by_test_id("paid-order")).to_have_count(0)

    # A tracking event, then delivery.
    page.goto(f"/ops/orders/{order_id}/tracking")
    page.locator("#occurred_at").fill("2025-01-02T10:30")
    page.locator("#place").fill("洛杉矶")
    page.locator("#description").fill("派送中")
    activate(page.get_by_test_id("tracking-submit"), viewport)
    expect(page.get_by_test_id("tracking-event")).to_have_count(1)
    activate(page.get_by_test_id("deliver"), viewport)
    expect(page.locator("#tracking-page")).to_have_attribute("data-status", "delivered")
    log_out(page)

    # The customer sees 已签收 and the timeline.
    log_in(page, customer)
    page.goto(f"/orders/{number}")
    expect(page.get_by_test_id("status")).to_have_text("已签收")
    event = page.get_by_test_id("tracking-event")
    expect(event).to_have_count(1)
    expect(event).to_contain_text("派送中")
    expect(event).to_contain_text("洛杉矶")
    assert_no_console_errors(console_log)
