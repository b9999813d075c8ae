"""Postcode formats of the countries we ship to (checked after normalising case and spaces)."""

import re

# Patterns apply to the upper-cased code with spaces removed; dashes are kept where they are usual.
POSTCODE_FORMATS: dict[str, re.Pattern[str]] = {
    "US": re.compile(r"^\d{5}(-?\d{4})?$"),
    "CA": re.compile(r"^[A-Z]\d[A-Z]\d[A-Z]\d$"),
    "GB": re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}$"),
    "AU": re.compile(r"^\d{4}$"),
    "NZ": re.compile(r"^\d{4}$"),
    "JP": re.compile(r"^\d{3}-?\d{4}$"),
    "DE": re.compile(r"^\d{5}$"),
    "FR": re.compile(r"^\d{5}$"),
    "TW": re.compile(r"^\d{3}(\d{2,3})?$"),
    "KR": re.compile(r"^\d{5}$"),
    "SG": re.compile(r"^\d{6}$"),
    "MY": re.compile(r"^\d{5}$"),
}


def compact_postcode(text: str) -> str:
    return re.sub(r"\s+", "", text or "").upper()


def is_valid_postcode(country: str, text: str) -> bool:
    """True when the code fits the country's format; countries without a known format accept any
    code of letters, digits and dashes."""
    code = compact_postcode(text)
    pattern = POSTCODE_FORMATS.get(country)
    if pattern is None:
        return bool(re.fullmatch(r"[A-Z\d\-]{2,12}", code))
    return bool(pattern.fullmatch(code))
