"""The public freight quote: every channel for a destination, live while the user types."""

from flask import Response, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import login_required

from portal.htmx import is_partial, page_or_partial
from portal.quote import bp, labels
from portal.quote.forms import QuoteForm
from portal.quote.fragment_cache import MAX_QUERY_BYTES, fragments
from portal.quote.offers import Offers, country_choices, serving
from portal.services import rate_cards
from portal.services.pricing import quote, quote_all

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
    cache_key = None
    if is_partial() and len(request.query_string) <= MAX_QUERY_BYTES:
        card_key = rate_cards.in_force_key(day)
        cache_key = (card_key, day, str(get_locale()), request.query_string)
        cached = fragments.get(cache_key)
        if cached is not None:
            return _fragment_response(*cached)
    channels = rate_cards.channels_in_force(day)
    form = QuoteForm(request.args, countries=country_choices(channels))
    offers, status = None, 200
    if any(request.args.get(name) for name in QUERY_FIELDS):
        if form.validate():
            wanted = serving(channels, form.country.data)
            offers = Offers(quote_all(wanted, form.to_request(day)))
        else:
            status = 422
    response = page_or_partial(
        "quote/index.html", "quote/_results.html", status, **_context(form, offers=offers)
    )
    if cache_key is not None:
        fragments.put(cache_key, response.get_data(), status)
    return response


def _fragment_response(body: bytes, status: int) -> Response:
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


@bp.route("/quote/ship")
@login_required
def ship():
    """Where "ship with this" leads until the order wizard exists: the chosen channel re-quoted."""
    if not request.args.get("channel"):
        carried = {name: request.args[name] for name in QUERY_FIELDS if request.args.get(name)}
        return redirect(url_for("quote.index", **carried))
    day = rate_cards.business_today()
    channels = rate_cards.channels_in_force(day)
    form = QuoteForm(request.args, countries=country_choices(channels))
    chosen = next((c for c in channels if c.code == request.args.get("channel")), None)
    if chosen is None or not form.validate():
        return render_template("quote/ship.html", **_context(form, offer=None)), 422
    offer = quote(chosen, form.to_request(day))
    country = next(c.label for c in form.country.choices if c.value == form.country.data)
    return render_template("quote/ship.html", **_context(form, offer=offer, country=country))
