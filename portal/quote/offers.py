"""The quote results as the page shows them: channels for a country, cheapest and fastest."""

from babel import Locale
from flask_babel import get_locale

from portal.services.pricing_types import ChannelRates, Quote


def countries_of(channel: ChannelRates) -> set[str]:
    return {area.country for zone in channel.zones for area in zone.areas}


def serving(channels: tuple[ChannelRates, ...], country: str) -> list[ChannelRates]:
    """The channels with a zone in the country (others would only say 'does not deliver')."""
    return [c for c in channels if country in countries_of(c)]


def country_choices(channels: tuple[ChannelRates, ...]) -> list[tuple[str, str]]:
    """(code, name in the user's language) of every country some channel serves, by name."""
    names = Locale.parse(str(get_locale())).territories
    codes = set().union(*(countries_of(c) for c in channels)) if channels else set()
    return sorted(((code, names.get(code, code)) for code in codes), key=lambda c: c[1])


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
