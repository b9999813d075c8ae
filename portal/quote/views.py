"""The public freight quote: every channel for a destination, live while the user types."""

from decimal import Decimal
from urllib.parse import urlencode

from flask import Response, abort, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from portal.htmx import is_partial, page_or_partial
from portal.quote import bp, labels
from portal.quote.forms import QuoteForm
from portal.quote.fragment_cache import MAX_QUERY_BYTES, fragments
from portal.quote.offers import (
    Offers,
    code_in_url,
    country_choices,
    offers_html,
    refusal_rows,
    serving,
)
from portal.services import memberships, rate_cards
from portal.services.pricing import QuoteMemo

QUERY_FIELDS = (
    "country",
    "postcode",
    "city",
    "weight",
    "length",
    "width",
    "height",
    "category",
    "declared",
    "insure",
)
# The order wizard takes the channel, the country and the weight from a quote.
SHIP_FIELDS = ("country", "weight")

# Each worker remembers the quotes it priced: typing a declared value reprices only the
# channels that insure or charge duties (see QuoteMemo for why a remembered quote is right).
quotes = QuoteMemo()


def _carried() -> dict[str, str]:
    """The quote's parameters as given (the first value of each), to carry into links."""
    args = request.args
    return {name: args[name] for name in QUERY_FIELDS if args.get(name)}


def _ship_url(carried: dict[str, str]) -> str:
    """The order wizard's URL with the quote's country and weight, ending in "channel="."""
    query = urlencode({name: carried[name] for name in SHIP_FIELDS if name in carried})
    return url_for("orders.new") + "?" + (query + "&" if query else "") + "channel="


@bp.route("/quote")
def index():
    day = rate_cards.business_today()
    percent = _member_percent()
    cache_key = None
    if is_partial() and len(request.query_string) <= MAX_QUERY_BYTES:
        card_key = rate_cards.in_force_key(day)
        cache_key = (card_key, day, str(get_locale()), percent, request.query_string)
        cached = fragments.get(cache_key)
        if cached is not None:
            return _fragment_response(*cached)
    channels = rate_cards.channels_in_force(day)
    form = QuoteForm(request.args, countries=country_choices(channels))
    offers, status = None, 200
    if any(request.args.get(name) for name in QUERY_FIELDS):
        if form.validate():
            wanted = serving(channels, form.country.data)
            offers = Offers(quotes.quote_all(wanted, form.to_request(day, percent)))
        else:
            status = 422
    response = page_or_partial(
        "quote/index.html", "quote/_results.html", status, **_results_context(form, offers)
    )
    if cache_key is not None:
        fragments.put(cache_key, response.get_data(), status)
    return response


def _results_context(form: QuoteForm, offers: Offers | None) -> dict:
    """What the quote templates need: the form, the offers ready to print, the parameters
    their price details are asked with, and the field errors for a fragment."""
    context = {"form": form, "offers": offers, "oob_errors": _oob_errors(form)}
    if offers is not None:
        carried = _carried()
        words = labels.list_words()
        context.update(
            carried=carried,
            offers_html=offers_html(offers, words, _ship_url(carried)),
            refusals=refusal_rows(offers, words),
        )
    return context


def _oob_errors(form: QuoteForm) -> list[tuple[str, str]] | None:
    """For a fragment, (field id, its errors) of every field shown with an error line."""
    if not is_partial():
        return None
    shown = (f for f in form if f.type not in ("BooleanField", "CSRFTokenField"))
    return [(f.id, " ".join(str(e) for e in f.errors)) for f in shown]


@bp.route("/quote/details/<code>")
def details(code: str):
    """One channel's price details for the quote's parameters (the list loads them on demand)."""
    day = rate_cards.business_today()
    channels = rate_cards.channels_in_force(day)
    form = QuoteForm(request.args, countries=country_choices(channels))
    if not form.validate():
        if is_partial():
            refused = make_response(render_template("quote/_details_refused.html"), 422)
        else:
            # The quote page explains what is wrong beside each field.
            refused = redirect(url_for("quote.index", **_carried()), 303)
        refused.vary.add("HX-Request")
        return refused
    channel = next((c for c in serving(channels, form.country.data) if c.code == code), None)
    if channel is None:
        abort(404)
    (q,) = quotes.quote_all([channel], form.to_request(day, _member_percent()))
    carried = _carried()
    return page_or_partial(
        "quote/details.html",
        "quote/_details.html",
        q=q,
        labels=labels,
        ship_url=_ship_url(carried) + code_in_url(code),
        back_url=url_for("quote.index", **carried),
    )


def _member_percent() -> Decimal:
    """A signed-in member sees prices with their membership's discount."""
    if not current_user.is_authenticated:
        return Decimal(0)
    return memberships.member_percent(current_user.id)


def _fragment_response(body: bytes, status: int) -> Response:
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response
