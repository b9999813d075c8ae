"""The quote results as the page shows them: channels for a country, cheapest and fastest."""

from dataclasses import dataclass

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


@dataclass
class Offers:
    quotes: list[Quote]

    @property
    def available(self) -> list[Quote]:
        return [q for q in self.quotes if q.available]

    @property
    def unavailable(self) -> list[Quote]:
        return [q for q in self.quotes if not q.available]

    @property
    def cheapest(self) -> str | None:
        return self.available[0].channel.code if self.available else None

    @property
    def fastest(self) -> str | None:
        if not self.available:
            return None
        best = min(
            self.available, key=lambda q: (q.transit_days[1], q.transit_days[0], q.total_fen)
        )
        return best.channel.code
