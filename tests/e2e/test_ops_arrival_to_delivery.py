"""One order from parcel arrival to delivery in the browser (desktop: staff work at desks): the
parcel is scanned in, the dashboard sends the packer to the queue, the order is packed, paid
(through the state machine until the wallet lands), shipped from the order's page, tracked and
delivered; the customer sees each step in their messages and on the order page."""

import re

import pytest
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import Order
from portal.services.order_states import CUSTOMER, transition
from tests.e2e.conftest import VIEWPORTS, ConsoleLog, Viewport
from tests.e2e.test_journeys import activate, assert_no_console_errors
from tests.e2e.test_ops_fulfilment_journeys import log_in, log_out
from tests.test_ops_packing import png
from tests.test_order_service import order_request, place

pytestmark = pytest.mark.e2e
DESKTOP = [v for v in VIEWPORTS if not v.is_mobile]
NUMBER = "SF3344556677889"


@pytest.mark.parametrize("viewport", DESKTOP, ids=[v.name for v in DESKTOP], indirect=True)
def test_an_order_goes_from_parcel_arrival_to_delivery(
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
    # The customer placed the order before the parcel reached the warehouse.
    parcel_id = make_parcel(customer.id, tracking_no=NUMBER, contents="运动鞋")
    order_id = place(app, customer, order_request([parcel_id], make_address(customer.id)))
    with app.app_context():
        number = db.session.get(Order, order_id).order_no

    # Intake: the scanner types the number and Enter; weight, size and a photo.
    log_in(page, staff)
    page.goto("/ops/intake")
    expect(page.locator("#scan-tracking-no")).to_be_focused()
    page.keyboard.type(NUMBER)
    page.keyboard.press("Enter")
    form = page.locator(f"#receive-{parcel_id}")
    expect(form.locator("input[name=weight]")).to_be_focused()
    form.locator("input[name=weight]").fill("1.8")
    form.locator("input[name=length]").fill("32")
    form.locator("input[name=width]").fill("22")
    form.locator("input[name=height]").fill("12")
    page.locator(f"#receive-{parcel_id}-photos").set_input_files(
        {"name": "parcel.png", "mimeType": "image/png", "buffer": png("orange")}
    )
    activate(form.get_by_test_id("receive"), viewport)
    expect(page.locator("#flash")).to_contain_text(NUMBER)

    # The dashboard counts the order as ready to pack and links to the queue.
    page.goto("/ops/")
    ready = page.get_by_test_id("count-ready_to_pack-link")
    expect(ready).to_contain_text("1")
    activate(ready, viewport)
    expect(page).to_have_url(re.compile(r"/ops/packing$"))
    row = page.locator(f'[data-testid="queue-order"][data-order-no="{number}"]')
    activate(row.get_by_test_id("pack-link"), viewport)
    page.locator("#box-1-weight").fill("2.05")
    page.locator("#box-1-length").fill("35")
    page.locator("#box-1-width").fill("25")
    page.locator("#box-1-height").fill("15")
    activate(page.get_by_test_id("pack-submit"), viewport)
    expect(page.locator("#flash")).to_contain_text(number)

    # Paid by the customer (the wallet comes with the next issue).
    with app.app_context():
        transition(db.session.get(Order, order_id), "paid", customer.id, CUSTOMER)
        db.session.commit()

    # Shipped from the order's own page, then a tracking event and delivery.
    page.goto(f"/ops/orders/{order_id}")
    actions = page.get_by_test_id("order-actions")
    actions.locator("#carrier").select_option("DHL")
    actions.locator("#tracking_no").fill("JD0001234567")
    actions.locator("#tracking_no").press("Enter")
    expect(page.locator("#flash")).to_contain_text("JD0001234567")
    page.goto(f"/ops/orders/{order_id}")
    add = page.get_by_test_id("tracking-add")
    add.get_by_test_id("event-time").fill("2026-11-25T09:15")
    add.get_by_test_id("event-place").fill("纽约")
    add.get_by_test_id("event-description").fill("已到达目的国")
    activate(add.get_by_test_id("tracking-submit"), viewport)
    expect(page.get_by_test_id("tracking-event")).to_have_count(1)
    activate(page.get_by_test_id("deliver"), viewport)
    expect(page.locator("#tracking-page")).to_have_attribute("data-status", "delivered")
    log_out(page)

    # The customer was told at each step and sees the whole story on the order page.
    log_in(page, customer)
    page.goto("/messages/")
    for text in (NUMBER, "打包", "出库", "签收"):
        expect(page.locator("#main")).to_contain_text(text)
    page.goto(f"/orders/{number}")
    expect(page.get_by_test_id("status")).to_have_text("已签收")
    expect(page.get_by_test_id("box")).to_have_count(1)
    expect(page.get_by_test_id("tracking-event")).to_contain_text("已到达目的国")
    assert_no_console_errors(console_log)
