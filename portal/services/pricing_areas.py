"""Matching a destination against zone areas: postcode patterns, regions, countries."""

import re

from portal.services.pricing_types import Area, Destination

_RANGE = re.compile(r"^(\d+)-(\d+)$")


def normalise_postcode(text: str) -> str:
    """Upper-case, without spaces and dashes: 'sw1a 1aa' -> 'SW1A1AA', '100-0001' -> '1000001'."""
    return re.sub(r"[\s\-]+", "", text or "").upper()


def normalise_region(text: str) -> str:
    """Regions and cities compare ignoring case and spaces."""
    return re.sub(r"\s+", "", text or "").casefold()


def postcode_score(pattern: str, postcode: str) -> tuple[int, int] | None:
    """How specifically a stored pattern matches a normalised postcode, or None.

    An exact code beats any prefix (longer prefixes first), which beats any range (narrower first).
    Ranges compare numbers of the same length, never strings.
    """
    if not postcode:
        return None
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return (1, len(prefix)) if postcode.startswith(prefix) else None
    bounds = _RANGE.match(pattern)
    if bounds:
        low, high = bounds.groups()
        if len(postcode) != len(low) or not postcode.isdigit():
            return None
        return (0, -(int(high) - int(low))) if int(low) <= int(postcode) <= int(high) else None
    return (2, 0) if pattern == postcode else None


def destination_postcode(destination: Destination) -> str:
    """The destination's postcode as zones list it: a US ZIP+4 counts as its five-digit ZIP."""
    code = normalise_postcode(destination.postcode)
    if destination.country == "US" and len(code) == 9 and code.isdigit():
        return code[:5]
    return code


def area_score(area: Area, destination: Destination) -> tuple[int, int, int] | None:
    """Specificity of an area for a destination (postcode > region > country), or None."""
    if area.country != destination.country:
        return None
    if area.region and area.region not in (
        normalise_region(destination.region),
        normalise_region(destination.city),
    ):
        return None
    if area.postcode:
        score = postcode_score(area.postcode, destination_postcode(destination))
        return None if score is None else (3, *score)
    return (2, 0, 0) if area.region else (1, 0, 0)


def best_score(areas: tuple[Area, ...], destination: Destination) -> tuple[int, int, int] | None:
    scores = [s for s in (area_score(a, destination) for a in areas) if s is not None]
    return max(scores) if scores else None
