"""Matching a destination against zone areas: postcode patterns, regions, countries.

A destination is normalised once (`Place`) and a list of areas is indexed by country with its
postcode patterns parsed once (`AreaIndex`), so pricing many channels for one request does not
normalise or parse anything again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.services.pricing_types import Area, Destination

Score = tuple[int, int, int]
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_DASHES_AND_SPACES = re.compile(r"[\s\-]+")
_SPACES = re.compile(r"\s+")


def normalise_postcode(text: str) -> str:
    """Upper-case, without spaces and dashes: 'sw1a 1aa' -> 'SW1A1AA', '100-0001' -> '1000001'."""
    return _DASHES_AND_SPACES.sub("", text or "").upper()


def normalise_region(text: str) -> str:
    """Regions and cities compare ignoring case and spaces."""
    return _SPACES.sub("", text or "").casefold()


def postcode_score(pattern: str, postcode: str) -> tuple[int, int] | None:
    """How specifically a stored pattern matches a normalised postcode, or None.

    An exact code beats any prefix (longer prefixes first), which beats any range (narrower first).
    Ranges compare numbers of the same length, never strings.
    """
    return postcode_matcher(pattern)(postcode)


def postcode_matcher(pattern: str) -> Callable[[str], tuple[int, int] | None]:
    """`postcode_score` with the pattern parsed once: a function of the normalised postcode."""
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        found = (1, len(prefix))
        return lambda postcode: found if postcode and postcode.startswith(prefix) else None
    bounds = _RANGE.match(pattern)
    if bounds:
        low, high = bounds.groups()
        size, low_n, high_n = len(low), int(low), int(high)
        found = (0, -(high_n - low_n))
        return lambda postcode: (
            found
            if len(postcode) == size and postcode.isdigit() and low_n <= int(postcode) <= high_n
            else None
        )
    return lambda postcode: (2, 0) if postcode and pattern == postcode else None


@dataclass(frozen=True)
class Place:
    """A destination normalised for matching: its country, region and city, and its postcode."""

    country: str
    regions: tuple[str, str]
    postcode: str


def place_of(destination: Destination) -> Place:
    regions = (normalise_region(destination.region), normalise_region(destination.city))
    return Place(destination.country, regions, destination_postcode(destination))


def destination_postcode(destination: Destination) -> str:
    """The destination's postcode as zones list it: a US ZIP+4 counts as its five-digit ZIP."""
    code = normalise_postcode(destination.postcode)
    if destination.country == "US" and len(code) == 9 and code.isdigit():
        return code[:5]
    return code


def area_score(area: Area, destination: Destination) -> Score | None:
    """Specificity of an area for a destination (postcode > region > country), or None."""
    return AreaIndex((area,)).best_score(place_of(destination))


class AreaIndex:
    """Areas by country, each with its region and parsed postcode pattern, for `best_score`."""

    def __init__(self, areas: Iterable[Area]):
        self._by_country: dict[str, list[tuple[str, Callable | None]]] = {}
        for area in areas:
            matcher = postcode_matcher(area.postcode) if area.postcode else None
            self._by_country.setdefault(area.country, []).append((area.region, matcher))

    def best_score(self, place: Place) -> Score | None:
        """The most specific score of any area for the place, or None when none matches."""
        best = None
        for region, matcher in self._by_country.get(place.country, ()):
            if region and region not in place.regions:
                continue
            if matcher is not None:
                found = matcher(place.postcode)
                if found is None:
                    continue
                score = (3, *found)
            else:
                score = (2, 0, 0) if region else (1, 0, 0)
            if best is None or score > best:
                best = score
        return best


def best_score(areas: tuple[Area, ...], destination: Destination) -> Score | None:
    """The most specific score of any of the areas for a destination, or None."""
    return AreaIndex(areas).best_score(place_of(destination))
