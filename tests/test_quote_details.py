"""One offer's price details, loaded when its <details> is opened (a page of their own without
JavaScript), and the caches behind the list, which never change what it says."""

from urllib.parse import parse_qs, urlsplit

import pytest

from portal.quote import views
from portal.quote.fragment_cache import fragments
from portal.quote.offers import offer_cache
from portal.services.pricing import quote
from tests.helpers import HTMX, soup
from tests.test_quote import (
    US_BASIC,
    card,  # noqa: F401 (the demo card fixture)
    channels,
    get_quote,
    line_codes,
    make_request,
    money_fen,
    offers_of,
    price_details,
)

pytestmark = pytest.mark.usefixtures("card")

INSURED = {**US_BASIC, "declared": "800", "insure": "y"}


def details_url(code: str) -> str:
    return f"/quote/details/{code}"


def test_the_list_carries_its_parameters_for_the_details(client):
    params = {**INSURED, "length": "40", "width": "30", "height": "20", "city": ""}
    page = soup(get_quote(client, params, htmx=True))
    form = page.select_one("form#quote-params")
    assert form.has_attr("hidden")
    carried = {i["name"]: i["value"] for i in form.select("input")}
    assert carried == {k: v for k, v in params.items() if v}
    for node in offers_of(page):
        details = node.find(attrs={"data-testid": "details"})
        assert details["hx-get"] == details_url(node["data-channel"])
        assert details["hx-trigger"] == "toggle once"
        button = details.find(attrs={"data-testid": "details-link"})
        assert button["form"] == "quote-params" and button["type"] == "submit"


def test_details_with_insurance_and_duties_are_the_services_quote(app, client):
    page = soup(get_quote(client, INSURED, htmx=True))
    by_code = channels(app)
    request = make_request(postcode="10001", declared_fen=80_000, insure=True)
    for node in offers_of(page):
        q = quote(by_code[node["data-channel"]], request)
        details = price_details(client, page, node["data-channel"])
        assert line_codes(details) == [line.code.value for line in q.lines]
        assert int(details.select_one("[data-testid=price-lines]")["data-total"]) == q.total_fen
        assert int(node["data-total"]) == q.total_fen
    ddp = line_codes(price_details(client, page, "US-DDP"))
    assert {"INSURANCE", "DUTIES"} <= set(ddp)


def test_without_javascript_the_details_are_a_page_that_leads_back(app, client):
    page = soup(get_quote(client, INSURED))
    assert page.find("html") is not None
    details = price_details(client, page, "US-EXP-DHL", htmx=False)
    assert details.find("html") is not None
    q = quote(
        channels(app)["US-EXP-DHL"],
        make_request(postcode="10001", declared_fen=80_000, insure=True),
    )
    shown = details.select_one('[data-testid=offer][data-channel="US-EXP-DHL"]')
    assert int(shown["data-total"]) == q.total_fen
    assert money_fen(shown.find(attrs={"data-testid": "price"}).get_text()) == q.total_fen
    assert line_codes(shown) == [line.code.value for line in q.lines]
    back = urlsplit(details.find(attrs={"data-testid": "back-to-quote"})["href"])
    assert back.path == "/quote"
    assert parse_qs(back.query) == {k: [v] for k, v in INSURED.items()}
    ship = urlsplit(shown.find(attrs={"data-testid": "ship"})["href"])
    assert ship.path == "/orders/new"
    assert parse_qs(ship.query) == {"channel": ["US-EXP-DHL"], "country": ["US"], "weight": ["1.2"]}


def test_details_of_a_channel_that_cannot_carry_the_shipment_say_why(client):
    params = {**US_BASIC, "category": "battery_in_equipment"}
    response = client.get(details_url("US-EXP-DHL"), query_string=params, headers=HTMX)
    assert response.status_code == 200
    refused = soup(response).find(attrs={"data-testid": "details-unavailable"})
    assert refused["data-reason"] == "CATEGORY_NOT_ALLOWED"
    assert refused.get_text(strip=True)


def test_details_with_refused_parameters(client):
    bad = {**US_BASIC, "weight": "0"}
    fragment = client.get(details_url("US-EXP-DHL"), query_string=bad, headers=HTMX)
    assert fragment.status_code == 422
    assert soup(fragment).find(attrs={"data-testid": "details-refused"}) is not None
    assert "HX-Request" in fragment.headers["Vary"]
    page = client.get(details_url("US-EXP-DHL"), query_string=bad)
    assert page.status_code == 303
    target = urlsplit(page.headers["Location"])
    assert target.path == "/quote" and parse_qs(target.query) == {k: [v] for k, v in bad.items()}
    assert client.get(page.headers["Location"]).status_code == 422


def test_details_of_an_unknown_inactive_or_elsewhere_channel_are_not_found(client):
    for code in ("NOPE", "US-EXP-FEDEX-IE", "GB-DDP", "us-exp-dhl"):
        for headers in (HTMX, {}):
            response = client.get(details_url(code), query_string=US_BASIC, headers=headers)
            assert response.status_code == 404, code


def clear_quote_caches() -> None:
    views.quotes.clear()
    offer_cache.clear()
    fragments.clear()


RUN = [
    US_BASIC,
    {**US_BASIC, "declared": "1"},
    {**US_BASIC, "declared": "2"},
    {**US_BASIC, "declared": "2", "insure": "y"},
    {**US_BASIC, "declared": "3", "insure": "y"},
    {**US_BASIC, "weight": "1.25"},
    {**US_BASIC, "weight": "1.25", "length": "60", "width": "50", "height": "40"},
    {**US_BASIC, "postcode": "99501"},
    {**US_BASIC, "category": "battery_in_equipment"},
    {"country": "GB", "weight": "2", "declared": "800"},
    {"country": "GB", "weight": "2", "declared": "900"},
]


def test_the_caches_never_change_what_the_list_says(app):
    """Every list the same as one rendered with cold caches, in both languages."""
    for lang in ("zh_CN", "en"):
        warm, cold = app.test_client(), app.test_client()
        warm.set_cookie("lang", lang)
        cold.set_cookie("lang", lang)
        for params in RUN + RUN[::-1]:
            for htmx in (True, False):
                remembered = get_quote(warm, params, htmx=htmx)
                clear_quote_caches()
                fresh = get_quote(cold, params, htmx=htmx)
                assert remembered.status_code == fresh.status_code == 200
                if htmx:
                    assert remembered.get_data() == fresh.get_data(), (lang, params)
                else:
                    results = [soup(r).find(id="quote-results") for r in (remembered, fresh)]
                    assert str(results[0]) == str(results[1]), (lang, params)
