"""The public freight quote: the /quote page and its htmx fragment, "ship with this", the home
page widget and the `flask quote` command, all priced from the demo rate card."""

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from portal.cli import DEMO_RATE_CARD
from portal.extensions import db
from portal.services import rate_cards
from portal.services.pricing import quote
from portal.services.pricing_types import Destination, Piece, QuoteRequest
from portal.services.rate_sheets import import_rate_card
from tests.helpers import HTMX, login, post, soup

TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
US_BASIC = {"country": "US", "postcode": "10001", "weight": "1.2"}
EN = {"lang": "en"}


def _read(sheet: str) -> list[dict[str, str]]:
    with (DEMO_RATE_CARD / f"{sheet}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def demo_active_channels(country: str) -> set[str]:
    """The active channels of the demo card with a zone in the country, read from the CSV files."""
    zone_countries = {row["zone"]: row["country"] for row in _read("zones")}
    serving = {r["channel"] for r in _read("rates") if zone_countries[r["zone"]] == country}
    return {r["code"] for r in _read("channels") if r["active"] == "yes" and r["code"] in serving}


DEMO_COUNTRIES = {row["country"] for row in _read("zones")}


@pytest.fixture
def card(app, monkeypatch):
    """The demo rate card loaded, and the business day pinned to 2026-11-22."""
    monkeypatch.setattr(rate_cards, "utcnow", lambda: NOW)
    rate_cards.clear_caches()
    with app.app_context():
        import_rate_card(DEMO_RATE_CARD)
        db.session.commit()
    yield
    rate_cards.clear_caches()


def channels(app) -> dict:
    with app.app_context():
        return {c.code: c for c in rate_cards.channels_in_force(TODAY)}


def make_request(
    country="US",
    postcode="",
    weight_g=1200,
    dims=(),
    category="general",
    declared_fen=0,
    insure=False,
) -> QuoteRequest:
    return QuoteRequest(
        destination=Destination(country, "", postcode),
        pieces=(Piece(weight_g, *dims),),
        on=TODAY,
        categories=frozenset({category}),
        declared_value_fen=declared_fen,
        insure=insure,
    )


def get_quote(client, params: dict, htmx: bool = False):
    return client.get("/quote", query_string=params, headers=HTMX if htmx else {})


def money_fen(text: str) -> int:
    """ "¥1,234.50" or "¥-16.00" as fen."""
    return int(Decimal(text.strip().removeprefix("¥").replace(",", "")) * 100)


def offers_of(page) -> list:
    return page.select("[data-testid=offer]")


def unavailable_of(page) -> dict[str, str]:
    return {
        li["data-channel"]: li["data-reason"] for li in page.select("[data-testid=unavailable]")
    }


def offer(page, code: str):
    found = page.select(f'[data-testid=offer][data-channel="{code}"]')
    assert len(found) == 1, code
    return found[0]


def line_codes(node) -> list[str]:
    return [tr["data-line"] for tr in node.select("tr[data-line]")]


def price_details(client, page, code: str, htmx: bool = True):
    """An offer's price details, asked for as its <details> does when opened: its URL with the
    parameters of the list it is in (the inputs of #quote-params)."""
    details = offer(page, code).find(attrs={"data-testid": "details"})
    url = details["hx-get"]
    assert details["hx-include"] == "#quote-params"
    assert details.find(attrs={"data-testid": "details-link"})["formaction"] == url
    params = [(i["name"], i["value"]) for i in page.select("form#quote-params input")]
    response = client.get(url, query_string=params, headers=HTMX if htmx else {})
    assert response.status_code == 200, url
    return soup(response)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def test_quote_page_without_parameters_shows_the_form_and_a_hint(client, card):
    response = client.get("/quote")
    assert response.status_code == 200
    page = soup(response)
    assert page.find("html") is not None
    form = page.find("form", id="quote-form")
    assert form["method"] == "get"
    assert form["action"] == "/quote"
    assert form["hx-get"] == "/quote"
    assert form["hx-push-url"] == "true"
    assert form["hx-target"] == "#quote-results"
    results = page.find(id="quote-results")
    hint = results.find("p", class_="muted")
    assert hint is not None and hint.get_text(strip=True)
    assert not results.select("[data-testid=offer], [data-testid=unavailable]")
    assert not page.select("[aria-invalid]")
    assert all(not p.get_text(strip=True) for p in page.select("p.error"))
    options = {o["value"] for o in page.find("select", id="country").find_all("option")}
    assert DEMO_COUNTRIES | {""} == options


def test_quote_page_in_english_shows_the_hint_in_english(client, card):
    client.set_cookie("lang", "en")
    page = soup(client.get("/quote"))
    hint = page.find(id="quote-results").find("p", class_="muted").get_text(" ", strip=True)
    assert hint.startswith("Choose a destination")


def test_valid_query_lists_every_us_channel_once_priced_as_the_service_does(app, client, card):
    response = get_quote(client, US_BASIC)
    assert response.status_code == 200
    page = soup(response)
    offers = offers_of(page)
    shown = [o["data-channel"] for o in offers] + list(unavailable_of(page))
    assert sorted(shown) == sorted(demo_active_channels("US"))
    assert len(shown) == len(set(shown))
    assert "US-EXP-FEDEX-IE" not in shown  # inactive
    totals = [int(o["data-total"]) for o in offers]
    assert totals == sorted(totals)

    by_code = channels(app)
    request = make_request(postcode="10001")
    expected = {code: quote(by_code[code], request) for code in shown}
    for node in offers:
        q = expected[node["data-channel"]]
        assert q.available
        assert int(node["data-total"]) == q.total_fen
        assert money_fen(node.find(attrs={"data-testid": "price"}).get_text()) == q.total_fen
        assert not node.select("tr[data-line]")  # the details load when opened
        details = price_details(client, page, node["data-channel"])
        assert line_codes(details) == [line.code.value for line in q.lines]
        amounts = [money_fen(tr.find("td").get_text()) for tr in details.select("tr[data-line]")]
        assert amounts == [line.amount_fen for line in q.lines]
        assert sum(amounts) == q.total_fen
        assert money_fen(details.select_one("tr.total td").get_text()) == q.total_fen

    cheapest = page.select("[data-testid=cheapest]")
    assert len(cheapest) == 1
    assert cheapest[0].find_parent(attrs={"data-testid": "offer"}) is offers[0]
    assert int(offers[0]["data-total"]) == min(totals)
    fastest = page.select("[data-testid=fastest]")
    assert len(fastest) == 1
    fastest_code = fastest[0].find_parent(attrs={"data-testid": "offer"})["data-channel"]
    available = [expected[o["data-channel"]] for o in offers]
    lowest_max = min(q.transit_days[1] for q in available)
    assert expected[fastest_code].transit_days[1] == lowest_max
    assert fastest_code == "US-EXP-DHL"


def test_ship_link_opens_the_order_wizard_with_channel_country_and_weight(client, card):
    params = {**US_BASIC, "length": "10", "width": "20", "height": "30"}
    page = soup(get_quote(client, params))
    for node in offers_of(page):
        link = urlsplit(node.find("a", attrs={"data-testid": "ship"})["href"])
        assert link.path == "/orders/new"
        assert parse_qs(link.query) == {
            "channel": [node["data-channel"]],
            "country": [params["country"]],
            "weight": [params["weight"]],
        }


def test_battery_goods_leave_only_the_battery_line(app, client, card):
    page = soup(get_quote(client, {**US_BASIC, "category": "battery_in_equipment"}))
    reasons = unavailable_of(page)
    general_only = {
        r["code"] for r in _read("channels") if r["categories"] == "general"
    } & demo_active_channels("US")
    assert general_only <= set(reasons)
    assert {reasons[code] for code in general_only} == {"CATEGORY_NOT_ALLOWED"}
    assert [o["data-channel"] for o in offers_of(page)] == ["US-STD-BAT"]
    battery = offer(page, "US-STD-BAT")
    assert "SENSITIVE" in line_codes(price_details(client, page, "US-STD-BAT"))
    q = quote(
        channels(app)["US-STD-BAT"],
        make_request(postcode="10001", category="battery_in_equipment"),
    )
    assert int(battery["data-total"]) == q.total_fen
    # The reason is given in words.
    refused = page.select_one('[data-testid=unavailable][data-channel="US-EXP-DHL"]')
    assert refused.find("span", class_="muted").get_text(strip=True) == "不接收此类货物。"


def test_unavailable_reasons_are_words_in_english(client, card):
    client.set_cookie("lang", "en")
    page = soup(get_quote(client, {**US_BASIC, "category": "battery_in_equipment"}))
    refused = page.select_one('[data-testid=unavailable][data-channel="US-EXP-DHL"]')
    assert refused.find("span", class_="muted").get_text(strip=True) == (
        "Does not carry this kind of goods."
    )


def test_remote_postcode_refused_by_sea_and_surcharged_by_express(app, client, card):
    page = soup(get_quote(client, {"country": "US", "postcode": "99501", "weight": "1.2"}))
    assert unavailable_of(page).get("US-ECO-SEA") == "REMOTE_NOT_SERVICEABLE"
    by_code = channels(app)
    for code in ("US-EXP-DHL", "US-EXP-UPS", "US-EXP-FEDEX"):
        node = offer(page, code)
        assert "REMOTE" in line_codes(price_details(client, page, code))
        q = quote(by_code[code], make_request(postcode="99501"))
        assert int(node["data-total"]) == q.total_fen
    # The same express line without the remote postcode has no REMOTE line.
    plain = soup(get_quote(client, US_BASIC))
    assert "REMOTE" not in line_codes(price_details(client, plain, "US-EXP-DHL"))


def test_over_limit_weight_makes_some_lines_unavailable(app, client, card):
    page = soup(get_quote(client, {"country": "US", "postcode": "10001", "weight": "35"}))
    reasons = unavailable_of(page)
    assert reasons["US-STD-AIR"] == "OVER_MAX_WEIGHT"
    assert reasons["US-ECO-POST"] == "OVER_MAX_WEIGHT"
    assert "US-EXP-DHL" in {o["data-channel"] for o in offers_of(page)}


def test_volumetric_weight_counts_on_express_lines(app, client, card):
    client.set_cookie("lang", "en")
    params = {**US_BASIC, "length": "60", "width": "50", "height": "40"}
    page = soup(get_quote(client, params))
    node = offer(page, "US-EXP-DHL")
    details = price_details(client, page, "US-EXP-DHL")
    explanation = details.find(attrs={"data-testid": "weight-explanation"}).get_text(
        " ", strip=True
    )
    assert "volumetric 24.0 kg" in explanation  # 60 × 50 × 40 / 5000
    q = quote(channels(app)["US-EXP-DHL"], make_request(postcode="10001", dims=(60, 50, 40)))
    assert q.chargeable_g == 24_000
    assert int(node["data-total"]) == q.total_fen
    plain = soup(get_quote(client, US_BASIC))
    assert int(offer(plain, "US-EXP-DHL")["data-total"]) < q.total_fen


# ---------------------------------------------------------------------------------------------
# htmx
# ---------------------------------------------------------------------------------------------


def test_htmx_request_gets_the_results_fragment_only(client, card):
    response = get_quote(client, US_BASIC, htmx=True)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in response.get_data(as_text=True)
    page = soup(response)
    roots = [node for node in page.children if node.name]
    assert roots[0].name == "section" and roots[0]["id"] == "quote-results"
    assert page.find("form", id="quote-form") is None
    assert offers_of(page)
    full = get_quote(client, US_BASIC)
    assert "HX-Request" in full.headers["Vary"]


def test_invalid_input_in_a_fragment_comes_with_out_of_band_errors(client, card):
    client.set_cookie("lang", "en")
    response = get_quote(client, {"country": "US", "weight": "0"}, htmx=True)
    assert response.status_code == 422
    assert "<html" not in response.get_data(as_text=True)
    page = soup(response)
    assert page.find(id="quote-results") is not None
    weight = page.select_one("p#weight-error[hx-swap-oob]")
    assert weight.get_text(strip=True) == "The weight must be more than 0 kg."
    others = [p for p in page.select("p.error[hx-swap-oob]") if p["id"] != "weight-error"]
    assert {p["id"] for p in others} >= {"country-error", "postcode-error", "length-error"}
    assert all(not p.get_text(strip=True) for p in others)


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

M_WEIGHT_FORMAT = (
    "请以 kg 为单位填写重量，例如 1.25（最多 3 位小数）。",
    "Enter the weight in kg, e.g. 1.25 (at most 3 decimals).",
)
M_WEIGHT_ZERO = ("重量必须大于 0 kg。", "The weight must be more than 0 kg.")
M_WEIGHT_MAX = (
    "超过 1000 kg 的货物请联系客服单独报价。",
    "Parcels over 1000 kg need a freight quote from our staff.",
)
M_SIDE = ("请输入 1 至 300 之间的整数厘米。", "Whole centimetres from 1 to 300.")
M_SIDES = ("请填写长宽高三项，或全部留空。", "Give all three sides, or none.")
M_COUNTRY = ("暂不支持寄往该国家。", "We do not ship to this country yet.")
M_POSTCODE = ("邮编格式与所选国家不符。", "This postcode does not look right for the country.")
M_CATEGORY = ("请从列表中选择货物类型。", "Choose one of the listed kinds of goods.")
M_DECLARED = ("请输入 0 至 1,000,000 元之间的金额。", "Enter an amount in CNY from 0 to 1,000,000.")

BAD_INPUT = [
    ({"weight": "0"}, "weight", M_WEIGHT_ZERO),
    ({"weight": "-1"}, "weight", M_WEIGHT_ZERO),
    ({"weight": "abc"}, "weight", M_WEIGHT_FORMAT),
    ({"weight": "1.2345"}, "weight", M_WEIGHT_FORMAT),
    ({"weight": "1e3"}, "weight", M_WEIGHT_FORMAT),
    ({"weight": "2E0"}, "weight", M_WEIGHT_FORMAT),
    ({"weight": "+2"}, "weight", M_WEIGHT_FORMAT),
    ({"weight": "２"}, "weight", M_WEIGHT_FORMAT),
    ({"weight": "2000"}, "weight", M_WEIGHT_MAX),
    ({"length": "0", "width": "10", "height": "10"}, "length", M_SIDE),
    ({"length": "10", "width": "301", "height": "10"}, "width", M_SIDE),
    ({"length": "10", "width": "10", "height": "-5"}, "height", M_SIDE),
    ({"length": "10", "width": "10"}, "height", M_SIDES),
    ({"country": "XX"}, "country", M_COUNTRY),
    ({"postcode": "ABCDE"}, "postcode", M_POSTCODE),
    ({"category": "plutonium"}, "category", M_CATEGORY),
    ({"declared": "-1"}, "declared", M_DECLARED),
    ({"declared": "abc"}, "declared", M_DECLARED),
]


def assert_field_error(response, name: str, message: str) -> None:
    assert response.status_code == 422
    page = soup(response)
    assert page.find("html") is not None
    assert page.find(id=f"{name}-error").get_text(strip=True) == message
    assert page.find(id=name)["aria-invalid"] == "true"
    invalid = {node["id"] for node in page.select('[aria-invalid="true"]')}
    assert invalid == {name}
    assert not offers_of(page)
    assert page.find(id="quote-results").find(attrs={"role": "alert"}) is not None


def test_bad_input_is_explained_beside_the_field_in_both_languages(app, card):
    for changes, name, (zh, en) in BAD_INPUT:
        params = {**US_BASIC, **changes}
        assert_field_error(get_quote(app.test_client(), params), name, zh)
        english = app.test_client()
        english.set_cookie("lang", "en")
        assert_field_error(get_quote(english, params), name, en)


def test_a_query_without_weight_or_country_asks_for_them(client, card):
    client.set_cookie("lang", "en")
    page = soup(get_quote(client, {"postcode": "10001"}))
    assert page.find(id="country-error").get_text(strip=True) == "Choose the destination country."
    assert page.find(id="weight-error").get_text(strip=True) == M_WEIGHT_FORMAT[1]


# ---------------------------------------------------------------------------------------------
# Ship with this
# ---------------------------------------------------------------------------------------------


def ship_href(client, params: dict, code: str) -> str:
    page = soup(get_quote(client, params))
    return offer(page, code).find("a", attrs={"data-testid": "ship"})["href"]


def test_ship_asks_visitors_to_log_in_and_keeps_the_way_back(client, make_customer, card):
    account = make_customer()
    href = ship_href(client, US_BASIC, "US-EXP-UPS")
    response = client.get(href)
    assert response.status_code in (302, 303)
    login_url = urlsplit(response.headers["Location"])
    assert login_url.path == "/auth/login"
    (target,) = parse_qs(login_url.query)["next"]
    assert urlsplit(target).path == "/orders/new"
    assert parse_qs(urlsplit(target).query) == parse_qs(urlsplit(href).query)

    login_page = soup(client.get(response.headers["Location"]))
    register = next(
        a
        for a in login_page.find("form", id="login-form").find_all("a")
        if urlsplit(a["href"]).path == "/auth/register"
    )
    assert parse_qs(urlsplit(register["href"]).query)["next"] == [target]

    answer = post(client, f"/auth/login?{urlencode({'next': target})}", {
        "identifier": account.identifier,
        "password": account.password,
    })  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["Location"] == target


# ---------------------------------------------------------------------------------------------
# The home page widget
# ---------------------------------------------------------------------------------------------


def assert_widget(response) -> None:
    assert response.status_code == 200
    widget = soup(response).find(id="quote-widget")
    form = widget.find("form")
    assert form["action"] == "/quote"
    assert form.get("method", "get").lower() == "get"
    codes = {o["value"] for o in form.find("select", attrs={"name": "country"}).find_all("option")}
    assert {"US", "GB", "CA", "AU", "JP", "DE", "TW"} <= codes
    assert codes == DEMO_COUNTRIES
    assert form.find("input", attrs={"name": "weight"}) is not None


def test_landing_and_home_pages_carry_the_quote_widget(client, make_customer, card):
    assert_widget(client.get("/"))
    login(client, make_customer())
    response = client.get("/")
    assert soup(response).find(id="quote-widget") is not None
    assert_widget(response)


def test_widget_query_opens_the_quote_page_with_offers(client, card):
    page = soup(get_quote(client, {"country": "GB", "weight": "2"}))
    codes = {o["data-channel"] for o in offers_of(page)} | set(unavailable_of(page))
    assert codes == demo_active_channels("GB")


# ---------------------------------------------------------------------------------------------
# flask quote
# ---------------------------------------------------------------------------------------------

QUOTE_KEYS = {
    "channel",
    "available",
    "reason",
    "chargeable_weight_kg",
    "pieces",
    "lines",
    "total",
    "transit_days",
    "warnings",
}


def run_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["quote", *args])


def cli_quotes(app, *args: str) -> list[dict]:
    result = run_cli(app, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cli_prints_one_channel_in_the_documented_shape(app, card):
    args = ("--country", "US", "--postcode", "10001", "--weight", "1.2")
    (q,) = cli_quotes(app, *args, "--channel", "US-EXP-DHL")
    assert set(q) == QUOTE_KEYS
    assert q["channel"] == "US-EXP-DHL"
    assert q["available"] is True
    assert q["reason"] is None
    assert q["chargeable_weight_kg"] == "1.5"
    assert q["pieces"] == [{"actual_kg": "1.2", "volumetric_kg": "1.2", "chargeable_kg": "1.5"}]
    assert q["transit_days"] == [3, 6]
    assert [set(line) for line in q["lines"]] == [{"code", "label", "amount"}] * len(q["lines"])
    for text in [line["amount"] for line in q["lines"]] + [q["total"]]:
        assert Decimal(text).as_tuple().exponent == -2, text
    assert sum(Decimal(line["amount"]) for line in q["lines"]) == Decimal(q["total"])
    expected = quote(channels(app)["US-EXP-DHL"], make_request(postcode="10001"))
    assert [line["code"] for line in q["lines"]] == [line.code.value for line in expected.lines]
    assert Decimal(q["total"]) * 100 == expected.total_fen
    assert all(isinstance(w["code"], str) and w["message"] for w in q["warnings"])


CLI_VS_PAGE = [
    ({"country": "US", "postcode": "10001", "weight": "1.2"}, ()),
    (
        {"country": "US", "postcode": "10001", "weight": "1.2"},
        ("length", "width", "height"),
    ),
    ({"country": "US", "postcode": "99501", "weight": "3.4"}, ()),
    ({"country": "GB", "postcode": "SW1A 1AA", "weight": "2.25", "declared": "800"}, ()),
    ({"country": "US", "postcode": "90210", "weight": "0.6", "declared": "500"}, ("insure",)),
    ({"country": "TW", "city": "台北市", "weight": "1.5"}, ("battery",)),
]


def cli_args(params: dict, extras: tuple[str, ...]) -> tuple[dict, list[str]]:
    """The page's query and the same shipment as `flask quote` arguments."""
    params = dict(params)
    args = ["--country", params["country"], "--weight", params["weight"]]
    for name in ("postcode", "city", "declared"):
        if name in params:
            args += [f"--{name}", params[name]]
    if "length" in extras:
        params.update(length="60", width="50", height="40")
        args += ["--dims", "60x50x40"]
    if "insure" in extras:
        params["insure"] = "y"
        args.append("--insure")
    if "battery" in extras:
        params["category"] = "battery_in_equipment"
        args += ["--category", "battery_in_equipment"]
    return params, args


def test_cli_matches_the_quote_page(app, client, card):
    for params, extras in CLI_VS_PAGE:
        query, args = cli_args(params, extras)
        page = soup(get_quote(client, query))
        from_cli = {q["channel"]: q for q in cli_quotes(app, *args)}
        shown = {o["data-channel"]: o for o in offers_of(page)}
        assert shown, query
        assert set(from_cli) == set(shown) | set(unavailable_of(page))
        for code, node in shown.items():
            q = from_cli[code]
            assert q["available"] is True
            assert int(Decimal(q["total"]) * 100) == int(node["data-total"]), (query, code)
            details = price_details(client, page, code)
            assert [line["code"] for line in q["lines"]] == line_codes(details), (query, code)
            amounts = [
                money_fen(tr.find("td").get_text()) for tr in details.select("tr[data-line]")
            ]
            assert [int(Decimal(line["amount"]) * 100) for line in q["lines"]] == amounts
        for code, reason in unavailable_of(page).items():
            assert from_cli[code]["available"] is False
            assert from_cli[code]["reason"] == reason
            assert from_cli[code]["total"] is None
        # Sorted the same way: cheapest first, the unavailable last.
        assert [q["channel"] for q in from_cli.values()][: len(shown)] == list(shown)


def test_cli_prices_several_pieces(app, card):
    args = ("--country", "US", "--postcode", "10001", "--channel", "US-EXP-DHL")
    (q,) = cli_quotes(app, *args, "--weight", "7.2", "--weight", "3.1")
    assert q["chargeable_weight_kg"] == "11.0"
    assert [p["chargeable_kg"] for p in q["pieces"]] == ["7.5", "3.5"]
    request = QuoteRequest(
        destination=Destination("US", "", "10001"),
        pieces=(Piece(7200), Piece(3100)),
        on=TODAY,
    )
    assert Decimal(q["total"]) * 100 == quote(channels(app)["US-EXP-DHL"], request).total_fen
    with_dims = cli_quotes(
        app, *args, "--weight", "1", "--dims", "60x50x40", "--weight", "1", "--dims", "10x10x10"
    )
    assert [p["volumetric_kg"] for p in with_dims[0]["pieces"]] == ["24.0", "0.2"]


def test_cli_applies_member_discount_and_coupon(app, card):
    args = ("--country", "US", "--postcode", "10001", "--weight", "1.2", "--channel", "US-EXP-DHL")
    (plain,) = cli_quotes(app, *args)
    (q,) = cli_quotes(app, *args, "--member-pct", "10", "--coupon", "fixed:20:100")
    codes = [line["code"] for line in q["lines"]]
    assert {"MEMBER_DISCOUNT", "COUPON"} <= set(codes)
    assert codes.index("MEMBER_DISCOUNT") < codes.index("COUPON")
    lines = {line["code"]: Decimal(line["amount"]) for line in q["lines"]}
    assert lines["COUPON"] == Decimal("-20.00")
    assert lines["MEMBER_DISCOUNT"] < 0
    assert Decimal(q["total"]) < Decimal(plain["total"])
    assert sum(lines.values()) == Decimal(q["total"])


@pytest.mark.parametrize(
    "args",
    [
        ("--country", "XX", "--weight", "1"),
        ("--country", "US", "--weight", "0"),
        ("--country", "US", "--weight", "1", "--dims", "10x10"),
        ("--country", "US", "--weight", "1", "--weight", "2", "--dims", "10x10x10"),
        ("--country", "US", "--weight", "1", "--channel", "NOPE"),
        ("--country", "US", "--weight", "1", "--member-pct", "200"),
        ("--country", "US", "--weight", "1", "--coupon", "bogus"),
        ("--country", "US", "--weight", "1", "--dims", "0x10x10"),
        ("--country", "US", "--postcode", "ABCDE", "--weight", "1"),
    ],
    ids=[
        "country",
        "weight",
        "dims",
        "dims-count",
        "channel",
        "member",
        "coupon",
        "side",
        "postcode",
    ],
)
def test_cli_refuses_bad_arguments(app, card, args):
    result = run_cli(app, *args)
    assert result.exit_code == 2, result.output
    assert "Error" in result.output
    assert not result.output.lstrip().startswith("[")
