"""Browser journeys of a customer, on a desktop and a phone, on both databases: registering
parcels (one, pasted, uploaded), the quick-order wizard from each of its entry points (a quote,
the home page, parcels ticked in the list) to a placed order, the address book and declaration
templates used from the wizard, and cancelling an order.

What a test is not about is seeded directly (the customer, parcels, an address, an order), so
each test clicks only through the part it checks.
"""

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select

from portal import demo_data
from portal.extensions import db
from portal.models import DeclarationTemplate, Parcel
from tests.e2e.conftest import ConsoleLog, Viewport
from tests.e2e.test_journeys import activate, assert_no_console_errors, assert_no_horizontal_scroll
from tests.e2e.test_orders_journeys import log_in
from tests.test_orders import CHANNEL, place

pytestmark = pytest.mark.e2e

# Chromium logs every 4xx response; forms answer refused input with 422.
ALLOWED_422 = ("status of 422",)
ENGLISH_NAMES = {"毛衣": "Sweater", "鞋子": "Shoes", "帽子": "Hat"}
ORDER_URL = re.compile(r"/orders/(JY[A-Z0-9]+)$")
# The wizard's step indicator, as the customer reads it.
STEP_NAMES = {
    "parcels": "包裹",
    "address": "收货地址",
    "channel": "渠道",
    "declaration": "申报信息",
    "options": "增值服务",
    "review": "确认订单",
}


@dataclass(frozen=True)
class Seeded:
    tracking_no: str
    contents: str
    id: int


@dataclass(frozen=True)
class Shop:
    account: object
    sweater: Seeded  # on its way (待入库), 0.8 kg estimated
    shoes: Seeded  # in stock (已入库), 1.2 kg measured
    hat: Seeded  # in stock, 1.2 kg measured
    address_id: int


@pytest.fixture
def shopper(app, demo_card, make_customer, make_parcel, make_address) -> Shop:
    """A customer with a parcel on its way, two in stock and a default US address; the demo
    rate card and packing services are loaded."""
    with app.app_context():
        demo_data.load_packing_services()
        db.session.commit()
    account = make_customer()

    def parcel(tracking_no: str, contents: str, **attrs) -> Seeded:
        id_ = make_parcel(account.id, tracking_no=tracking_no, contents=contents, **attrs)
        return Seeded(tracking_no, contents, id_)

    return Shop(
        account=account,
        sweater=parcel("SF1000000000011", "毛衣", declared_value_fen=12000, declared_weight_g=800),
        shoes=parcel("YT1000000000022", "鞋子", received=True, declared_value_fen=30000),
        hat=parcel("JT1000000000033", "帽子", received=True, declared_value_fen=5000),
        address_id=make_address(account.id, is_default=True),
    )


def parcel_count(app, customer_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Parcel).where(Parcel.customer_id == customer_id)
        )


# ---- the parcel list ---------------------------------------------------------------------------


def parcel_card(page: Page, tracking_no: str) -> Locator:
    return page.get_by_test_id("parcel").filter(has_text=tracking_no)


def open_tab(page: Page, viewport: Viewport, status: str) -> None:
    """Open a tab of the parcel list (by htmx, the URL follows)."""
    tab = page.locator(f'#parcel-list .parcel-tabs a[data-status="{status}"]')
    activate(tab, viewport)
    expect(page).to_have_url(re.compile(rf"/parcels/\?status={status}$"))
    expect(tab).to_have_attribute("aria-current", "page")


def check_counts(page: Page, **counts: int) -> None:
    for status, n in counts.items():
        expect(page.get_by_test_id(f"count-{status}")).to_have_text(str(n))


def check_unbound(page: Page, tracking_no: str) -> None:
    card = parcel_card(page, tracking_no)
    expect(card).to_be_visible()
    expect(card.get_by_test_id("bound")).to_have_count(0)
    expect(card.get_by_test_id("pick")).to_be_enabled()


# ---- the wizard --------------------------------------------------------------------------------


def expect_step(page: Page, viewport: Viewport, step: str) -> None:
    expect(page.locator("#wizard")).to_have_attribute("data-step", step)
    expect(page.locator('.wizard-steps li[aria-current="step"]')).to_have_text(STEP_NAMES[step])
    assert_no_horizontal_scroll(page, viewport)


def next_step(page: Page, viewport: Viewport, step: str) -> None:
    activate(page.get_by_test_id("wizard-next"), viewport)
    expect_step(page, viewport, step)
    expect(page.get_by_test_id("step-error")).to_have_count(0)


def tick_parcels(page: Page, viewport: Viewport, *parcels: Seeded) -> None:
    for p in parcels:
        box = (
            page.get_by_test_id("parcel-choice")
            .filter(has_text=p.tracking_no)
            .get_by_role("checkbox")
        )
        activate(box, viewport)
        expect(box).to_be_checked()


def fill_english_names(page: Page) -> None:
    """Each declaration line is prefilled from a parcel in Chinese; add the English name."""
    lines = page.get_by_test_id("declaration-line")
    expect(lines.first).to_be_visible()
    for line in lines.all():
        name_zh = line.get_by_label("中文品名").input_value()
        line.get_by_label("英文品名").fill(ENGLISH_NAMES[name_zh])


@dataclass(frozen=True)
class Placed:
    order_no: str
    channel_name: str
    estimate_fen: int


def walk_to_placed_order(
    page: Page,
    viewport: Viewport,
    parcels: list[Seeded],
    channel: str | None = None,
    weight: str | None = None,
    recipient: str | None = None,
) -> Placed:
    """From the parcels step (the parcels already ticked) through every step to the order page.

    With `channel`, the channel step must show it chosen already (preset by a quote); otherwise
    the first channel offered is chosen. With `weight`, the weight field must show it; with
    `recipient`, the address step must have that recipient's address chosen already. The demo
    packing service 加固包装 is added.
    """
    expect_step(page, viewport, "parcels")
    for p in parcels:
        box = page.get_by_test_id("parcel-choice").filter(has_text=p.tracking_no)
        expect(box.get_by_role("checkbox")).to_be_checked()

    next_step(page, viewport, "address")
    chosen_address = page.get_by_test_id("address-choice").filter(has=page.locator(":checked"))
    expect(chosen_address).to_have_count(1)
    if recipient is not None:
        expect(chosen_address).to_contain_text(recipient)

    next_step(page, viewport, "channel")
    if weight is not None:
        expect(page.locator("#wizard-form").get_by_label("预估总重量（kg）")).to_have_value(weight)
    if channel is None:
        choice = page.get_by_test_id("channel-choice").first
        activate(choice.get_by_role("radio"), viewport)
    else:
        choice = page.locator(f'[data-testid=channel-choice][data-channel="{channel}"]')
    expect(choice.get_by_role("radio")).to_be_checked()
    channel_name = choice.locator("strong").inner_text().strip()

    next_step(page, viewport, "declaration")
    fill_english_names(page)

    next_step(page, viewport, "options")
    service = (
        page.get_by_test_id("service-choice").filter(has_text="加固包装").get_by_role("checkbox")
    )
    activate(service, viewport)
    expect(service).to_be_checked()

    next_step(page, viewport, "review")
    review = page.get_by_test_id("review")
    for p in parcels:
        expect(review).to_contain_text(p.tracking_no)
    expect(review).to_contain_text(channel_name)
    expect(page.get_by_test_id("estimate").locator('[data-line="SERVICE"]')).to_contain_text(
        "加固包装"
    )
    estimate_fen = int(page.get_by_test_id("estimate-total").get_attribute("data-total"))

    activate(page.get_by_test_id("place-order"), viewport)
    expect(page).to_have_url(ORDER_URL)
    order_no = ORDER_URL.search(page.url).group(1)
    return Placed(order_no, channel_name, estimate_fen)


def check_order_page(page: Page, viewport: Viewport, placed: Placed, parcels: list[Seeded]):
    """The order page after placing: number, 代打包, its parcels, channel and estimate."""
    expect(page.locator("#flash")).to_contain_text(f"订单 {placed.order_no} 已提交")
    expect(page.get_by_test_id("order-no")).to_have_text(placed.order_no)
    expect(page.get_by_test_id("status")).to_have_text("代打包")
    expect(page.locator("#order")).to_have_attribute("data-status", "pending_pack")
    shown = page.locator("#order-parcels [data-testid=parcel]")
    expect(shown).to_have_count(len(parcels))
    for p in parcels:
        expect(shown.filter(has_text=p.tracking_no)).to_be_visible()
    expect(page.get_by_test_id("channel")).to_contain_text(placed.channel_name)
    estimate = page.locator("#order .order-facts [data-testid=estimate-total]")
    expect(estimate).to_have_text(f"¥{placed.estimate_fen / 100:,.2f}")
    expect(page.get_by_test_id("service")).to_contain_text("加固包装")
    assert_no_horizontal_scroll(page, viewport)


def check_parcels_bound(
    page: Page,
    viewport: Viewport,
    order_no: str,
    bound: list[Seeded],
    free_in_stock: list[Seeded],
) -> None:
    """The parcel list: the order's parcels in 已集运, bound to it; the others still free."""
    page.goto("/parcels/?status=consolidated")
    expect(page.locator('.parcel-tabs a[aria-current="page"]')).to_contain_text("已集运")
    check_counts(page, consolidated=len(bound))
    for p in bound:
        badge = parcel_card(page, p.tracking_no).get_by_test_id("bound")
        expect(badge).to_have_text(re.compile(rf"已绑定\s*·\s*{order_no}"))
        expect(parcel_card(page, p.tracking_no).get_by_test_id("pick")).to_have_count(0)
    expect(page.get_by_test_id("ship-selected")).to_have_count(0)
    assert_no_horizontal_scroll(page, viewport)
    if free_in_stock:
        page.goto("/parcels/?status=received")
        for p in free_in_stock:
            check_unbound(page, p.tracking_no)


# ---- registering parcels -----------------------------------------------------------------------


def test_register_a_parcel_and_find_it_among_the_expected(
    page: Page, viewport: Viewport, make_customer, make_parcel, console_log: ConsoleLog
):
    account = make_customer()
    make_parcel(account.id, tracking_no="YT1000000000099", contents="旧包裹")
    log_in(page, viewport, account)

    page.goto("/parcels/")
    check_counts(page, expected=1, received=0, consolidated=0)
    activate(page.get_by_test_id("register"), viewport)
    expect(page).to_have_url(re.compile(r"/parcels/new$"))
    assert_no_horizontal_scroll(page, viewport)

    form = page.locator("#parcel-form")
    form.get_by_label("快递单号").fill("sf 1234 5678 9012 3")
    # The courier is recognised from the number while it is typed.
    expect(form.locator("#courier-field")).to_contain_text("根据单号识别为：顺丰速运")
    expect(form.get_by_label("快递公司", exact=True)).to_have_value("SF")
    form.get_by_label("物品名称").fill("蓝牙耳机")
    form.get_by_label("物品价值（元）").fill("199")
    form.get_by_label("数量").fill("2")
    activate(form.get_by_test_id("save"), viewport)

    expect(page).to_have_url(re.compile(r"/parcels/\?status=expected$"))
    expect(page.locator("#flash")).to_contain_text("包裹 SF1234567890123 已预报")
    expect(page.locator('.parcel-tabs a[data-status="expected"]')).to_have_attribute(
        "aria-current", "page"
    )
    check_counts(page, expected=2, received=0, consolidated=0)
    expect(page.locator('.parcel-tabs a[data-status="expected"]')).to_contain_text("待入库")
    card = parcel_card(page, "SF1234567890123")
    expect(card).to_have_attribute("data-status", "expected")
    expect(card).to_contain_text("蓝牙耳机")
    expect(card).to_contain_text("×2")
    expect(card).to_contain_text("¥199.00")
    expect(card).to_contain_text("顺丰速运")
    expect(page.get_by_test_id("parcel")).to_have_count(2)
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log)


def test_bulk_paste_with_bad_rows_registers_nothing_then_the_corrected_list_registers_all(
    app, page: Page, viewport: Viewport, make_customer, make_parcel, console_log: ConsoleLog
):
    account = make_customer()
    make_parcel(account.id, tracking_no="YT1000000000099", contents="旧包裹")
    log_in(page, viewport, account)

    page.goto("/parcels/")
    activate(page.get_by_test_id("register-many"), viewport)
    expect(page).to_have_url(re.compile(r"/parcels/bulk$"))
    assert_no_horizontal_scroll(page, viewport)
    form = page.locator("#bulk-form")
    rows = form.get_by_label("快递单号，每行一个")
    rows.fill(
        "SF1000000000001,T恤,general,99\n"
        "YT1000000000002\n"
        "12345\n"
        "JT1000000000003,口红,nonsense,50\n"
        "SF1000000000001\n"
        "YT1000000000099\n"
    )
    activate(form.get_by_test_id("save"), viewport)

    # Every bad row is reported beside its number; the good rows are not registered either.
    errors = page.locator("#row-errors li")
    expect(errors).to_have_count(4)
    expect(page.locator("#bulk-form [role=alert]")).to_contain_text(
        "未预报任何包裹，请修改以下各行："
    )
    by_row = {li.get_attribute("data-row"): li.inner_text() for li in errors.all()}
    assert sorted(by_row) == ["3", "4", "5", "6"], by_row
    assert by_row["3"].startswith("第 3 行：快递单号应为 6 至 40 位字母或数字"), by_row
    assert by_row["4"].startswith("第 4 行：请从列表中选择货物类型"), by_row
    assert by_row["5"].startswith("第 5 行：与第 1 行的快递单号重复"), by_row
    assert by_row["6"].startswith("第 6 行：你已预报过这个快递单号"), by_row
    expect(page).to_have_url(re.compile(r"/parcels/bulk$"))
    expect(page.locator("#bulk-form").get_by_label("快递单号，每行一个")).to_have_value(
        re.compile("^SF1000000000001,T恤")
    )
    assert parcel_count(app, account.id) == 1
    assert_no_horizontal_scroll(page, viewport)

    # The corrected list registers every row at once.
    rows = page.locator("#bulk-form").get_by_label("快递单号，每行一个")
    rows.fill("SF1000000000001,T恤,general,99\nYT1000000000002\nJT1000000000003,口红,cosmetic,50")
    activate(page.locator("#bulk-form").get_by_test_id("save"), viewport)
    expect(page).to_have_url(re.compile(r"/parcels/\?status=expected$"))
    expect(page.locator("#flash")).to_contain_text("已预报 3 个包裹")
    check_counts(page, expected=4)
    for number in ("SF1000000000001", "YT1000000000002", "JT1000000000003"):
        expect(parcel_card(page, number)).to_be_visible()
    expect(parcel_card(page, "JT1000000000003")).to_contain_text("口红")
    expect(parcel_card(page, "JT1000000000003")).to_contain_text("¥50.00")
    assert_no_console_errors(console_log, allowed=ALLOWED_422)


def test_bulk_upload_of_a_csv_file_registers_its_rows(
    page: Page, viewport: Viewport, make_customer, console_log: ConsoleLog
):
    account = make_customer()
    log_in(page, viewport, account)
    page.goto("/parcels/bulk")
    csv = (
        "tracking_no,contents,category,declared_value\r\n"
        "SF2000000000001,T恤 3件,general,199.00\r\n"
        "YT2000000000002,口红,cosmetic,89.50\r\n"
    )
    form = page.locator("#bulk-form")
    form.get_by_label("或上传 CSV / XLSX 文件").set_input_files(
        {"name": "parcels.csv", "mimeType": "text/csv", "buffer": ("\ufeff" + csv).encode()}
    )
    activate(form.get_by_test_id("save"), viewport)

    expect(page).to_have_url(re.compile(r"/parcels/\?status=expected$"))
    expect(page.locator("#flash")).to_contain_text("已预报 2 个包裹")
    check_counts(page, expected=2, received=0, consolidated=0)
    expect(parcel_card(page, "SF2000000000001")).to_contain_text("T恤 3件")
    expect(parcel_card(page, "SF2000000000001")).to_contain_text("¥199.00")
    expect(parcel_card(page, "YT2000000000002")).to_contain_text("口红")
    expect(parcel_card(page, "YT2000000000002")).to_contain_text("¥89.50")
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log)


# ---- the quick-order wizard, from each entry point ---------------------------------------------


def test_quick_order_from_a_quote_with_the_channel_and_destination_preset(
    page: Page, viewport: Viewport, shopper: Shop, make_address, console_log: ConsoleLog
):
    # Besides the default address in Los Angeles, one in London.
    make_address(
        shopper.account.id,
        recipient_name="Han Meimei",
        phone="+442079460958",
        country="GB",
        region="",
        city="London",
        postcode="NW16XE",
        line1="221B Baker Street",
    )
    log_in(page, viewport, shopper.account)
    # The sweater (0.8 kg) and the shoes (1.2 kg) to London.
    page.goto("/quote?country=GB&weight=2")
    offer = page.locator("[data-testid=offer]", has=page.get_by_test_id("cheapest"))
    expect(offer).to_be_visible()
    channel = offer.get_attribute("data-channel")
    channel_name = offer.locator("strong").first.inner_text()
    activate(offer.get_by_test_id("ship"), viewport)

    expect(page).to_have_url(re.compile(r"/orders/new\?.*country=GB"))
    expect_step(page, viewport, "parcels")
    expect(page.get_by_test_id("preset")).to_contain_text(channel_name)
    tick_parcels(page, viewport, shopper.sweater, shopper.shoes)

    # The London address (the quote's country, not the default address) is chosen already, and
    # the channel step shows the quote's weight and channel chosen.
    placed = walk_to_placed_order(
        page,
        viewport,
        [shopper.sweater, shopper.shoes],
        channel=channel,
        weight="2",
        recipient="Han Meimei",
    )
    check_order_page(page, viewport, placed, [shopper.sweater, shopper.shoes])
    expect(page.locator("#order-address")).to_contain_text("Han Meimei")
    expect(page.locator("#order-address").get_by_test_id("country")).to_have_text("英国")
    check_parcels_bound(
        page, viewport, placed.order_no, [shopper.sweater, shopper.shoes], [shopper.hat]
    )
    assert_no_console_errors(console_log)


def test_quick_order_from_the_home_page(
    page: Page, viewport: Viewport, shopper: Shop, console_log: ConsoleLog
):
    log_in(page, viewport, shopper.account)
    activate(page.get_by_test_id("quick-order"), viewport)
    expect(page).to_have_url(re.compile(r"/orders/new$"))
    expect_step(page, viewport, "parcels")
    expect(page.get_by_test_id("parcel-choice")).to_have_count(3)
    expect(page.get_by_test_id("preset")).to_have_count(0)
    tick_parcels(page, viewport, shopper.sweater, shopper.hat)

    placed = walk_to_placed_order(page, viewport, [shopper.sweater, shopper.hat])
    check_order_page(page, viewport, placed, [shopper.sweater, shopper.hat])
    check_parcels_bound(
        page, viewport, placed.order_no, [shopper.sweater, shopper.hat], [shopper.shoes]
    )
    assert_no_console_errors(console_log)


def test_quick_order_from_parcels_ticked_in_the_list(
    page: Page, viewport: Viewport, shopper: Shop, console_log: ConsoleLog
):
    log_in(page, viewport, shopper.account)
    page.goto("/parcels/")
    open_tab(page, viewport, "received")
    check_counts(page, expected=1, received=2, consolidated=0)
    for p in (shopper.shoes, shopper.hat):
        box = parcel_card(page, p.tracking_no).get_by_test_id("pick")
        activate(box, viewport)
        expect(box).to_be_checked()
    assert_no_horizontal_scroll(page, viewport)
    activate(page.get_by_test_id("ship-selected"), viewport)

    expect(page).to_have_url(re.compile(r"/orders/new\?parcel=\d+&parcel=\d+$"))
    placed = walk_to_placed_order(page, viewport, [shopper.shoes, shopper.hat])
    check_order_page(page, viewport, placed, [shopper.shoes, shopper.hat])
    check_parcels_bound(page, viewport, placed.order_no, [shopper.shoes, shopper.hat], [])
    page.goto("/parcels/")
    check_counts(page, expected=1, received=0, consolidated=2)
    check_unbound(page, shopper.sweater.tracking_no)
    assert_no_console_errors(console_log)


# ---- the address book and declaration templates, used from the wizard --------------------------


def test_a_new_address_and_a_saved_declaration_used_in_the_wizard(
    page: Page, viewport: Viewport, shopper: Shop, console_log: ConsoleLog
):
    log_in(page, viewport, shopper.account)

    # A London address in the address book, beside the default one in Los Angeles.
    page.goto("/addresses/")
    expect(page.get_by_test_id("address")).to_have_count(1)
    activate(page.get_by_test_id("add-address"), viewport)
    expect(page).to_have_url(re.compile(r"/addresses/new$"))
    form = page.locator("#address-form")
    form.get_by_label("国家 / 地区").select_option("GB")
    form.get_by_label("收件人姓名").fill("Han Meimei")
    form.get_by_label("电话").fill("+44 20 7946 0958")
    form.get_by_label("街道地址").fill("221B Baker Street")
    form.get_by_label("城市").fill("London")
    form.get_by_label("邮编").fill("NW1 6XE")
    assert_no_horizontal_scroll(page, viewport)
    activate(form.get_by_test_id("save"), viewport)
    expect(page).to_have_url(re.compile(r"/addresses/$"))
    london = page.get_by_test_id("address").filter(has_text="Han Meimei")
    expect(london.get_by_test_id("address-lines")).to_contain_text("221B Baker Street")
    expect(london.get_by_test_id("address-lines")).to_contain_text("英国")
    expect(page.get_by_test_id("address")).to_have_count(2)

    # A declaration template.
    page.goto("/declarations/")
    activate(page.get_by_test_id("add-template"), viewport)
    expect(page).to_have_url(re.compile(r"/declarations/new$"))
    form = page.locator("#declaration-form")
    form.get_by_label("中文品名").fill("蓝牙耳机")
    form.get_by_label("英文品名").fill("Bluetooth earphones")
    form.get_by_label("数量").fill("2")
    form.get_by_label("单价（元）").fill("88.50")
    form.get_by_label("HS 编码（选填）").fill("8518.30")
    activate(form.get_by_test_id("save"), viewport)
    expect(page).to_have_url(re.compile(r"/declarations/$"))
    template = page.get_by_test_id("declaration").filter(has_text="蓝牙耳机")
    expect(template.get_by_test_id("amounts")).to_contain_text("2 × ¥88.50 = ¥177.00")
    assert_no_horizontal_scroll(page, viewport)

    # The wizard: the shoes to London, declared with the saved template.
    page.goto("/orders/new")
    tick_parcels(page, viewport, shopper.shoes)
    next_step(page, viewport, "address")
    expect(page.get_by_test_id("address-choice")).to_have_count(2)
    choice = page.get_by_test_id("address-choice").filter(has_text="Han Meimei")
    activate(choice.get_by_role("radio"), viewport)
    expect(choice.get_by_role("radio")).to_be_checked()

    next_step(page, viewport, "channel")
    expect(page.locator("#wizard-form legend")).to_contain_text("GB")
    first = page.get_by_test_id("channel-choice").first
    activate(first.get_by_role("radio"), viewport)
    expect(first).to_have_attribute("data-channel", re.compile("^GB-"))

    next_step(page, viewport, "declaration")
    # The line prefilled from the parcel is replaced by the saved declaration.
    lines = page.get_by_test_id("declaration-line")
    expect(lines).to_have_count(1)
    expect(lines.first.get_by_label("中文品名")).to_have_value("鞋子")
    use = page.get_by_test_id("use-template").filter(has_text="蓝牙耳机")
    expect(use).to_be_hidden()
    activate(page.locator("details.templates summary", has_text="使用常用申报"), viewport)
    activate(use, viewport)
    expect(lines).to_have_count(2)
    expect(lines.nth(1).get_by_label("中文品名")).to_have_value("蓝牙耳机")
    activate(lines.first.get_by_test_id("remove-line"), viewport)
    expect(lines).to_have_count(1)
    line = lines.first
    expect(line.get_by_label("中文品名")).to_have_value("蓝牙耳机")
    expect(line.get_by_label("英文品名")).to_have_value("Bluetooth earphones")
    expect(line.get_by_label("数量")).to_have_value("2")
    expect(line.get_by_label("单价（元）")).to_have_value("88.50")
    assert_no_horizontal_scroll(page, viewport)

    next_step(page, viewport, "options")
    next_step(page, viewport, "review")
    expect(page.get_by_test_id("review")).to_contain_text("Han Meimei")
    expect(page.get_by_test_id("review").get_by_test_id("declared-total")).to_have_text("¥177.00")
    activate(page.get_by_test_id("place-order"), viewport)
    expect(page).to_have_url(ORDER_URL)

    # The order keeps the address and the declaration lines.
    expect(page.get_by_test_id("status")).to_have_text("代打包")
    address = page.locator("#order-address")
    expect(address).to_contain_text("Han Meimei")
    expect(address).to_contain_text("221B Baker Street")
    expect(address).to_contain_text("London")
    expect(address.get_by_test_id("country")).to_have_text("英国")
    declared = page.locator("#order-declaration [data-testid=declaration-line]")
    expect(declared).to_have_count(1)
    expect(declared).to_contain_text("蓝牙耳机 / Bluetooth earphones")
    expect(declared).to_contain_text("2 × ¥88.50")
    expect(declared).to_contain_text("¥177.00")
    expect(page.locator("#order-declaration").get_by_test_id("declared-total")).to_have_text(
        "¥177.00"
    )
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log)


def test_removing_the_only_declaration_line_leaves_the_saved_declarations_to_choose_from(
    app, page: Page, viewport: Viewport, shopper: Shop, console_log: ConsoleLog
):
    with app.app_context():
        db.session.add(
            DeclarationTemplate(
                customer_id=shopper.account.id,
                name_zh="衣服",
                name_en="Clothes",
                category="general",
                quantity=1,
                unit_value_fen=10000,
            )
        )
        db.session.commit()
    log_in(page, viewport, shopper.account)
    # The declaration step of a draft whose earlier steps are done (each step is a URL).
    page.goto(
        f"/orders/new?step=declaration&parcel={shopper.shoes.id}&address={shopper.address_id}"
        f"&weight=1.2&channel={CHANNEL}"
    )
    expect_step(page, viewport, "declaration")
    lines = page.get_by_test_id("declaration-line")
    expect(lines).to_have_count(1)
    expect(lines.first.get_by_label("中文品名")).to_have_value("鞋子")

    # The customer removes the prefilled line: it is gone, and the saved declarations are
    # offered (their list opens by itself when there is no line).
    activate(lines.first.get_by_test_id("remove-line"), viewport)
    expect(lines).to_have_count(0)
    use = page.get_by_test_id("use-template").filter(has_text="衣服")
    expect(use).to_be_visible()
    activate(use, viewport)
    expect(lines).to_have_count(1)
    expect(lines.first.get_by_label("英文品名")).to_have_value("Clothes")
    next_step(page, viewport, "options")
    assert_no_console_errors(console_log)


# ---- cancelling --------------------------------------------------------------------------------


def test_cancel_an_order_and_its_parcels_are_back_unbound(
    app, page: Page, viewport: Viewport, shopper: Shop, console_log: ConsoleLog
):
    order_no = place(
        app,
        shopper.account,
        [shopper.sweater.id, shopper.shoes.id],
        shopper.address_id,
        services=(),
    )
    log_in(page, viewport, shopper.account)
    page.goto("/parcels/")
    check_counts(page, expected=0, received=1, consolidated=2)

    page.goto(f"/orders/{order_no}")
    expect(page.get_by_test_id("status")).to_have_text("代打包")
    confirm = page.get_by_test_id("confirm-cancel")
    expect(confirm).to_be_hidden()
    activate(page.get_by_test_id("cancel"), viewport)
    expect(page.locator("#cancel-form")).to_contain_text(f"取消订单 {order_no}")
    expect(confirm).to_be_visible()
    page.locator("#cancel-form").get_by_label("取消原因（选填）").fill("地址填错了")
    assert_no_horizontal_scroll(page, viewport)
    activate(confirm, viewport)

    expect(page.get_by_test_id("status")).to_have_text("已取消")
    expect(page.locator("#order")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("cancelled-note")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text(f"订单 {order_no} 已取消")
    expect(page.get_by_test_id("cancel")).to_have_count(0)
    expect(page.locator("#order-history")).to_contain_text("地址填错了")
    assert_no_horizontal_scroll(page, viewport)

    # The parcels are back in their tabs, free to be shipped again.
    page.goto("/parcels/")
    check_counts(page, expected=1, received=2, consolidated=0)
    check_unbound(page, shopper.sweater.tracking_no)
    open_tab(page, viewport, "received")
    check_unbound(page, shopper.shoes.tracking_no)
    check_unbound(page, shopper.hat.tracking_no)
    open_tab(page, viewport, "consolidated")
    expect(page.get_by_test_id("empty")).to_be_visible()
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log)
