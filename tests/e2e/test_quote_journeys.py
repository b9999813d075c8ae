"""Browser journeys through the freight quote, on a desktop and a phone, on both databases.

The demo rate card is loaded into the live server's database and the business day is pinned, so
every price the page shows can be checked against the pricing service's own answer.
"""

import re
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from portal.cli import load_demo_data
from portal.extensions import db
from portal.quote.offers import countries_of, serving
from portal.services import rate_cards
from portal.services.postcodes import compact_postcode
from portal.services.pricing import quote_all
from portal.services.pricing_types import Destination, Piece, Quote, QuoteRequest
from tests.conftest import DEFAULT_PASSWORD
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, ConsoleLog, Viewport
from tests.e2e.test_journeys import (
    activate,
    assert_no_console_errors,
    assert_no_horizontal_scroll,
    mobile_number,
)

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai; the demo card is in force
# A weight per destination (some heavy enough to leave channels unavailable); other countries of
# the card get DEFAULT_WEIGHT. The US also gets a west-coast postcode and a size.
WEIGHTS = {
    "US": "2.35",
    "GB": "31",
    "CA": "0.8",
    "AU": "5",
    "JP": "1.2",
    "DE": "3.5",
    "FR": "0.45",
    "TW": "1.75",
    "KR": "10",
    "SG": "0.3",
    "NZ": "4",
    "MY": "2",
}
DEFAULT_WEIGHT = "1.5"
US_EXTRA = {"postcode": "90001", "length": "40", "width": "30", "height": "25"}
SIDES = ("length", "width", "height")
# Chromium logs every 4xx response; the quote page answers refused input with 422.
ALLOWED_422 = ("status of 422",)

# The offers in the results, as [[channel, total_fen], ...] and [[channel, reason], ...].
SHOWN_JS = """() => {
  const pick = (sel, key) => [...document.querySelectorAll('#quote-results ' + sel)]
      .map(e => [e.dataset.channel, e.dataset[key]]);
  return {available: pick('[data-testid=offer]', 'total'),
          unavailable: pick('[data-testid=unavailable]', 'reason')};
}"""
MATCHES_JS = "(want) => JSON.stringify((" + SHOWN_JS + ")()) === JSON.stringify(want)"


@pytest.fixture
def demo_card(app, monkeypatch):
    """The demo data (with the demo rate card) in the live server's database; the day pinned."""
    monkeypatch.setattr(rate_cards, "utcnow", lambda: NOW)
    rate_cards.clear_caches()  # the live server runs in a thread of this process
    with app.app_context():
        load_demo_data()
        db.session.commit()
    yield
    rate_cards.clear_caches()


@pytest.fixture
def nojs_page(browser, viewport: Viewport, live_server):
    context = browser.new_context(
        base_url=live_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        java_script_enabled=False,
        **viewport.context_options(),
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    yield context.new_page()
    context.close()


def card_countries(app) -> list[str]:
    with app.app_context():
        channels = rate_cards.channels_in_force(rate_cards.business_today())
        return sorted(set().union(*(countries_of(c) for c in channels)))


def all_channel_codes(app) -> set[str]:
    with app.app_context():
        return {c.code for c in rate_cards.channels_in_force(rate_cards.business_today())}


def expected_quotes(app, fields: dict[str, str]) -> list[Quote]:
    """The pricing service's answer for the form's fields, the request built as the form does."""
    with app.app_context():
        day = rate_cards.business_today()
        channels = rate_cards.channels_in_force(day)
        sides = tuple(int(fields[s]) for s in SIDES) if fields.get("length") else ()
        request = QuoteRequest(
            destination=Destination(
                fields["country"], "", compact_postcode(fields.get("postcode"))
            ),
            pieces=(Piece(int(Decimal(fields["weight"]) * 1000), *sides),),
            on=day,
            categories=frozenset({"general"}),
            declared_value_fen=0,
            insure=False,
        )
        return quote_all(serving(channels, fields["country"]), request)


def as_shown(quotes: list[Quote]) -> dict[str, list[list[str]]]:
    """What the page should show for these quotes, in the shape SHOWN_JS reads."""
    return {
        "available": [[q.channel.code, str(q.total_fen)] for q in quotes if q.available],
        "unavailable": [[q.channel.code, q.reason.value] for q in quotes if not q.available],
    }


def wait_for_offers(page: Page, quotes: list[Quote]) -> None:
    """Wait until the results show exactly these quotes; on time-out, fail with the difference."""
    want = as_shown(quotes)
    try:
        page.wait_for_function(MATCHES_JS, arg=want)
    except PlaywrightError:
        assert page.evaluate(SHOWN_JS) == want, f"results at {page.url}"
        raise


def money_fen(text: str) -> int:
    """The first "¥1,234.50" (or "¥-16.00") in the text, in fen."""
    match = re.search(r"¥\s*(-?[\d,]+\.\d{2})", text)
    assert match, f"no amount in {text!r}"
    return int(Decimal(match.group(1).replace(",", "")) * 100)


def check_price_details(page: Page, viewport: Viewport, q: Quote) -> None:
    """Open the offer's "费用明细" (they load then) and see each priced line with its amount,
    then the total."""
    offer = page.locator(f'[data-testid=offer][data-channel="{q.channel.code}"]')
    rows = offer.locator("tr[data-line]")
    expect(rows).to_have_count(0)
    activate(offer.locator("summary", has_text="费用明细"), viewport)
    expect(rows.first).to_be_visible()
    check_price_lines(offer, q)


def check_price_lines(offer, q: Quote) -> None:
    """The price details in the offer (or page) are the quote's lines and total."""
    expect(offer.get_by_test_id("weight-explanation")).not_to_be_empty()
    shown = [
        (row.get_attribute("data-line"), money_fen(row.locator("td.amount").inner_text()))
        for row in offer.locator("tr[data-line]").all()
    ]
    assert shown == [(line.code.value, line.amount_fen) for line in q.lines]
    total = offer.locator("tr.total td.amount")
    expect(total).to_be_visible()
    assert money_fen(total.inner_text()) == q.total_fen


def mark_document(page: Page) -> None:
    page.evaluate("window.__sameDocument = 'still here'")


def assert_same_document(page: Page) -> None:
    assert page.evaluate("window.__sameDocument") == "still here", "the page was reloaded"


# Countries whose results are also reloaded from the shared URL (the US one has every field).
RELOADED = {"US", "JP"}


def test_live_quote_for_every_channel_of_the_demo_card(
    page: Page, viewport: Viewport, app, demo_card, console_log: ConsoleLog
):
    countries = card_countries(app)
    assert {"US", "GB", "CA", "AU", "JP", "DE", "TW"} <= set(countries)
    form = page.locator("#quote-form")
    seen: set[str] = set()

    page.goto("/quote")
    for country in countries:
        fields = {"country": country, "weight": WEIGHTS.get(country, DEFAULT_WEIGHT)}
        if country == "US":
            fields.update(US_EXTRA)
        quotes = expected_quotes(app, fields)
        assert quotes, f"no channel serves {country}"
        assert any(q.available for q in quotes), f"nothing available for {fields}"
        mark_document(page)

        # Type the shipment; the weight last, so that only the finished form has offers.
        form.locator("#weight").fill("")
        form.locator("#country").select_option(country)
        for name in ("postcode", *SIDES):
            form.locator(f"#{name}").fill(fields.get(name, ""))
        form.locator("#weight").press_sequentially(fields["weight"])

        # The results refresh by themselves (nobody presses the button) and the URL follows.
        wait_for_offers(page, quotes)
        assert_same_document(page)
        expect(page).to_have_url(re.compile(rf"[?&]country={country}(&|$)"))
        weight = re.escape(fields["weight"])
        expect(page).to_have_url(re.compile(rf"[?&]weight={weight}(&|$)"))
        query = parse_qs(urlsplit(page.url).query)
        assert {k: v for k, v in query.items() if k in fields} == {
            k: [v] for k, v in fields.items()
        }
        first = next(q for q in quotes if q.available)
        expect(page.get_by_test_id("cheapest")).to_have_count(1)
        expect(page.locator("[data-testid=offer]").first.get_by_test_id("cheapest")).to_be_visible()

        if country in RELOADED:
            # The URL can be shared: loading it shows the same results with the form filled in.
            page.reload()
            wait_for_offers(page, quotes)
            expect(form.locator("#country")).to_have_value(country)
            expect(form.locator("#weight")).to_have_value(fields["weight"])
        check_price_details(page, viewport, first)
        seen.update(q.channel.code for q in quotes)

    assert seen == all_channel_codes(app), "some channels of the card were never quoted"
    assert_no_console_errors(console_log, allowed=ALLOWED_422)


def test_quote_without_javascript(nojs_page: Page, app, demo_card):
    page = nojs_page
    fields = {"country": "JP", "weight": "2.4"}
    page.goto("/quote")
    form = page.locator("#quote-form")
    form.locator("#country").select_option(fields["country"])
    form.locator("#weight").fill(fields["weight"])
    form.get_by_test_id("quote-submit").click()

    expect(page).to_have_url(re.compile(r"/quote\?.*weight=2\.4"))
    quotes = expected_quotes(app, fields)
    assert page.evaluate(SHOWN_JS) == as_shown(quotes)
    expect(page.get_by_test_id("offer").first).to_be_visible()
    expect(form.locator("#country")).to_have_value("JP")

    # The price details open as a page of their own, and lead back to the list.
    first = next(q for q in quotes if q.available)
    offer = page.locator(f'[data-testid=offer][data-channel="{first.channel.code}"]')
    offer.locator("summary").click()
    offer.get_by_test_id("details-link").click()
    expect(page).to_have_url(re.compile(rf"/quote/details/{re.escape(first.channel.code)}\?"))
    details = page.locator(f'[data-testid=offer][data-channel="{first.channel.code}"]')
    check_price_lines(details, first)
    page.get_by_test_id("back-to-quote").click()
    expect(page).to_have_url(re.compile(r"/quote\?.*weight=2\.4"))
    assert page.evaluate(SHOWN_JS) == as_shown(quotes)


def test_bad_weight_is_explained_beside_the_field(
    page: Page, viewport: Viewport, demo_card, console_log: ConsoleLog
):
    page.goto("/quote")
    mark_document(page)
    form = page.locator("#quote-form")
    form.locator("#country").select_option("US")
    form.locator("#weight").press_sequentially("abc")

    error = page.locator("#weight-error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(form.locator("#weight")).to_have_value("abc")
    results = page.locator("#quote-results")
    expect(results.get_by_role("alert")).to_be_visible()
    expect(results.get_by_test_id("offer")).to_have_count(0)
    expect(page.locator("#country-error")).to_be_empty()
    assert_same_document(page)

    # Pressing the button changes nothing, and a good weight brings the offers.
    activate(form.get_by_test_id("quote-submit"), viewport)
    expect(error).not_to_be_empty()
    form.locator("#weight").fill("1.5")
    expect(page.get_by_test_id("offer").first).to_be_visible()
    expect(error).to_be_empty()
    assert_no_console_errors(console_log, allowed=ALLOWED_422)


def test_ship_with_the_cheapest_offer_after_registering(
    page: Page, viewport: Viewport, app, demo_card, console_log: ConsoleLog, request
):
    fields = {"country": "GB", "weight": "3.2"}
    quotes = expected_quotes(app, fields)
    cheapest = next(q for q in quotes if q.available)

    page.goto("/quote?country=GB&weight=3.2")
    wait_for_offers(page, quotes)
    offer = page.locator("[data-testid=offer]", has=page.get_by_test_id("cheapest"))
    expect(offer).to_have_attribute("data-channel", cheapest.channel.code)
    activate(offer.get_by_test_id("ship"), viewport)

    # A visitor is asked to log in; they have no account yet, so they register.
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
    activate(page.locator("#login-form").get_by_role("link", name="注册"), viewport)
    expect(page).to_have_url(re.compile(r"/auth/register\?next="))
    form = page.locator("#register-form")
    form.get_by_label("手机号或邮箱").fill(mobile_number(request))
    form.get_by_label("密码", exact=True).fill(DEFAULT_PASSWORD)
    form.get_by_label("确认密码").fill(DEFAULT_PASSWORD)
    activate(form.get_by_role("button", name="注册"), viewport)

    # They land in the quick-order wizard, at its first step, with the offer they chose.
    expect(page).to_have_url(re.compile(r"^https?://[^/]+/orders/new\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["channel"] == [cheapest.channel.code]
    assert query["country"] == ["GB"] and query["weight"] == ["3.2"]
    expect(page.locator("#wizard")).to_have_attribute("data-step", "parcels")
    expect(page.get_by_test_id("preset")).to_contain_text(cheapest.channel.name_zh)
    # A new customer has no parcels yet: the wizard says so and offers to register one.
    expect(page.get_by_test_id("no-parcels")).to_be_visible()
    expect(page.get_by_test_id("parcel-choice")).to_have_count(0)
    register = page.locator("#wizard").get_by_role("link", name="包裹预报")
    expect(register).to_have_attribute("href", "/parcels/new")
    assert_no_horizontal_scroll(page, viewport)
    assert_no_console_errors(console_log)


def test_home_page_widget_opens_the_quote_with_results(
    page: Page, viewport: Viewport, app, demo_card, console_log: ConsoleLog
):
    page.goto("/")
    widget = page.locator("#quote-widget")
    expect(widget).to_be_visible()
    widget.get_by_label("目的地").select_option("CA")
    widget.get_by_label("重量").fill("1.25")
    activate(widget.get_by_test_id("widget-submit"), viewport)

    expect(page).to_have_url(re.compile(r"/quote\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["country"] == ["CA"] and query["weight"] == ["1.25"]
    wait_for_offers(page, expected_quotes(app, {"country": "CA", "weight": "1.25"}))
    expect(page.locator("#quote-form #country")).to_have_value("CA")
    assert_no_console_errors(console_log)


def test_quote_page_with_results_fits_the_screen(
    page: Page, viewport: Viewport, app, demo_card, console_log: ConsoleLog
):
    fields = {"country": "US", "weight": "2.35", **US_EXTRA}
    quotes = expected_quotes(app, fields)
    page.goto("/quote?" + "&".join(f"{k}={v}" for k, v in fields.items()))
    wait_for_offers(page, quotes)
    # Open every offer's details too (they load then): the tables of lines must fit as well.
    for summary in page.locator("[data-testid=offer] summary").all():
        summary.evaluate("s => s.parentElement.open = true")
    available = sum(1 for q in quotes if q.available)
    expect(page.locator("[data-testid=offer] tr.total")).to_have_count(available)
    assert_no_horizontal_scroll(page, viewport)

    # Reach the button from the keyboard: it comes into view clear of the phone's tab bar.
    submit = page.get_by_test_id("quote-submit")
    page.locator("#declared").focus()
    page.keyboard.press("Tab")  # the insurance box
    page.keyboard.press("Tab")
    expect(submit).to_be_focused()
    expect(submit).to_be_visible()
    expect(submit).to_be_in_viewport(ratio=0.99)
    on_top = submit.evaluate(
        """b => { const r = b.getBoundingClientRect();
                  const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                  return top === b || b.contains(top); }"""
    )
    assert on_top, "something (the tab bar?) covers the focused submit button"
    box = submit.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport.width
    assert_no_console_errors(console_log)
