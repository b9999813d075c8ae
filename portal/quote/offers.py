"""The quote results as the page shows them: channels for a country, cheapest and fastest."""

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote as url_quote

from babel import Locale
from flask import get_template_attribute, request, url_for
from flask_babel import get_locale
from markupsafe import Markup

from portal.quote.labels import ListWords
from portal.services.pricing_types import ChannelRates, Quote


def countries_of(channel: ChannelRates) -> frozenset[str]:
    return channel.countries


def serving(channels: tuple[ChannelRates, ...], country: str) -> list[ChannelRates]:
    """The channels with a zone in the country (others would only say 'does not deliver')."""
    return [c for c in channels if country in countries_of(c)]


def country_choices(channels: tuple[ChannelRates, ...]) -> list[tuple[str, str]]:
    """(code, name in the user's language) of every country some channel serves, by name."""
    codes = frozenset().union(*(countries_of(c) for c in channels))
    return list(_named_countries(str(get_locale()), codes))


@lru_cache(maxsize=64)
def _named_countries(locale: str, codes: frozenset[str]) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(locale).territories
    return tuple(sorted(((code, names.get(code, code)) for code in codes), key=lambda c: c[1]))


class Offers:
    """The quotes split into available and unavailable, with the cheapest and fastest marked."""

    def __init__(self, quotes: list[Quote]):
        self.quotes = quotes
        self.available = [q for q in quotes if q.available]
        self.unavailable = [q for q in quotes if not q.available]
        self.cheapest = self.available[0].channel.code if self.available else None
        fastest = min(
            self.available, key=lambda q: (q.transit_days[::-1], q.total_fen), default=None
        )
        self.fastest = fastest.channel.code if fastest else None


class RefusalRow(NamedTuple):
    """One channel that cannot carry the shipment, with the reason in words."""

    code: str
    reason: str
    name: str
    text: str


@lru_cache(maxsize=1024)
def code_in_url(code: str) -> str:
    """A channel code as a query-string value."""
    return url_quote(code, safe="")


class OfferLinks(NamedTuple):
    """What every offer of one list shares: the words of its language (one ListWords per
    language), the root of the app's URLs and the order link without its last value, the
    channel's code."""

    words: ListWords
    script_root: str
    ship: str


class ChannelHtml:
    """Rendered HTML by key, each entry kept with the channel it shows (a small LRU).

    Channels are told apart by identity: an entry keeps its channel, so a remembered id always
    belongs to the same living object, whose fields are frozen."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._entries: OrderedDict[tuple, tuple[ChannelRates, Markup]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, channel: ChannelRates) -> Markup | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or hit[0] is not channel:
                return None
            self._entries.move_to_end(key)
            return hit[1]

    def put(self, key: tuple, channel: ChannelRates, html: Markup) -> None:
        with self._lock:
            self._entries[key] = (channel, html)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class OfferCache:
    """Each offer of the list (quote/_offer.html) rendered once, then reused: while a customer
    types most offers stay as they were, and an offer's links and buttons stay when its
    price changes.

    The keys hold everything the macros print: the list's OfferLinks (the words, the URLs'
    root, the order link) and the channel (its code, names and service level; the URL of its
    details) for both parts; the total, the transit days, the chargeable weight and the two
    badges for the whole offer."""

    def __init__(self, size: int = 4096):
        self.offers = ChannelHtml(size)
        self.actions = ChannelHtml(size)

    def offer(self, links: OfferLinks, q: Quote, badges: tuple[bool, bool]) -> Markup:
        """The offer's <li>; `badges` are (cheapest, fastest)."""
        channel = q.channel
        key = (links, id(channel), q.total_fen, q.transit_days, q.chargeable_g, badges)
        html = self.offers.get(key, channel)
        if html is None:
            html = _render_offer(links, q, badges, self._actions(links, channel))
            self.offers.put(key, channel, html)
        return html

    def _actions(self, links: OfferLinks, channel: ChannelRates) -> Markup:
        """The part of an offer that only depends on its channel: its details and order link."""
        key = (links, id(channel))
        html = self.actions.get(key, channel)
        if html is None:
            details = url_for("quote.details", code=channel.code)
            ship = links.ship + code_in_url(channel.code)
            html = get_template_attribute("quote/_offer.html", "actions")(
                links.words, details, ship
            )
            self.actions.put(key, channel, html)
        return html

    def clear(self) -> None:
        self.offers.clear()
        self.actions.clear()


def _render_offer(
    links: OfferLinks, q: Quote, badges: tuple[bool, bool], actions: Markup
) -> Markup:
    channel, words = q.channel, links.words
    return get_template_attribute("quote/_offer.html", "offer")(
        words,
        channel.code,
        words.channel_name(channel),
        words.service_levels.get(channel.service_level, ""),
        q.total_fen,
        q.transit_days,
        q.chargeable_g,
        *badges,
        actions,
    )


offer_cache = OfferCache()


def offers_html(offers: Offers, words: ListWords, ship: str) -> Markup:
    """The available offers, cheapest first, as the list's items; `ship` is the order link
    without its last value, the channel's code ("...&channel=")."""
    links = OfferLinks(words, request.script_root, ship)
    cheapest, fastest = offers.cheapest, offers.fastest
    items = [
        offer_cache.offer(links, q, (q.channel.code == cheapest, q.channel.code == fastest))
        for q in offers.available
    ]
    return Markup("\n".join(items))  # noqa: S704 - every item is rendered Markup


def refusal_rows(offers: Offers, words: ListWords) -> list[RefusalRow]:
    """The channels that cannot carry the shipment, as rows for the list."""
    return [
        RefusalRow(
            q.channel.code, q.reason.value, words.channel_name(q.channel), words.reasons[q.reason]
        )
        for q in offers.unavailable
    ]
