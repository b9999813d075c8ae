"""The public freight quote: every channel for a destination, live while the user types."""

from decimal import Decimal

from flask import Response, make_response, request
from flask_babel import get_locale
from flask_login import current_user

from portal.htmx import is_partial, page_or_partial
from portal.quote import bp, labels
from portal.quote.forms import QuoteForm
from portal.quote.fragment_cache import MAX_QUERY_BYTES, fragments
from portal.quote.offers import Offers, country_choices, serving
from portal.services import memberships, rate_cards
from portal.services.pricing import quote_all

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


def _context(form: QuoteForm, **extra) -> dict:
    """What the quote templates need: the form, the words for codes, the parameters to carry."""
    carried = {name: request.args[name] for name in QUERY_FIELDS if request.args.get(name)}
    return {
        "form": form,
        "labels": labels,
        "ship_params": carried,
        "oob_errors": is_partial(),
        **extra,
    }


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
            offers = Offers(quote_all(wanted, form.to_request(day, percent)))
        else:
            status = 422
    response = page_or_partial(
        "quote/index.html", "quote/_results.html", status, **_context(form, offers=offers)
    )
    if cache_key is not None:
        fragments.put(cache_key, response.get_data(), status)
    return response


def _member_percent() -> Decimal:
    """A signed-in member sees prices with their membership's discount."""
    if not current_user.is_authenticated:
        return Decimal(0)
    return memberships.member_percent(current_user.id)


def _fragment_response(body: bytes, status: int) -> Response:
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response
