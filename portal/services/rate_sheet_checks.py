"""Per-cell validators for rate sheets: each turns one raw cell into a stored value or raises."""

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from flask_babel import lazy_gettext as _l

from portal.models import GOODS_CATEGORIES

# A raw cell as the reader hands it over: floats were already turned into Decimals.
Cell = str | int | Decimal | bool | date | datetime | None
Parser = Callable[[Cell], Any]

COUNTRIES = frozenset(
    code
    for code in Locale("en").territories
    if len(code) == 2 and code.isalpha() and code.isupper()
)
MAX_KG = Decimal(1_000_000)
MAX_CNY = Decimal(1_000_000_000)
MAX_WHOLE = 1_000_000

_NUMBER = re.compile(r"[+-]?(\d{1,15}(\.\d{0,15})?|\.\d{1,15})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CODE = re.compile(r"[A-Za-z0-9_-]+")
_PREFIX_BODY = re.compile(r"[A-Z0-9]+")
_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)")
_EXACT = re.compile(r"[A-Za-z0-9 -]+")


class CellError(Exception):
    """The cell cannot be read as what its column holds; carries the user-facing message."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def is_blank(value: Cell) -> bool:
    """True for an empty cell."""
    return value is None or (isinstance(value, str) and not value.strip())


def required(parse: Parser) -> Parser:
    """Wrap a parser so that a blank cell is a problem."""

    def check(value: Cell) -> Any:
        if is_blank(value):
            raise CellError(_l("Required."))
        return parse(value)

    return check


def optional(parse: Parser) -> Parser:
    """Wrap a parser so that a blank cell gives None."""

    def check(value: Cell) -> Any:
        return None if is_blank(value) else parse(value)

    return check


def text(max_length: int) -> Parser:
    """Text of at most max_length characters, without control characters."""

    def parse(value: Cell) -> str:
        if isinstance(value, bool | date):
            raise CellError(_l("Must be text; format the cell as text."))
        result = format(value, "f") if isinstance(value, Decimal) else str(value).strip()
        if _CONTROL.search(result):
            raise CellError(_l("Must not contain control characters."))
        if len(result) > max_length:
            raise CellError(_l("Must be at most %(max)s characters.", max=max_length))
        return result

    return parse


def channel_code(value: Cell) -> str:
    """A channel code: letters, digits, - and _."""
    code = text(40)(value)
    if not _CODE.fullmatch(code):
        raise CellError(_l("Use only letters, digits, - and _."))
    return code


def _decimal(value: Cell) -> Decimal | None:
    """The exact number in a cell, or None when the cell holds no plain number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _scaled(value: Cell, places: int, message, limit: Decimal, positive: bool) -> int:
    """A non-negative number with at most `places` decimals, as an integer of its smallest unit."""
    number = _decimal(value)
    if number is None:
        raise CellError(message)
    scaled = number.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise CellError(message)
    if number < 0:
        raise CellError(_l("Must not be negative."))
    if positive and number == 0:
        raise CellError(_l("Must be greater than 0."))
    if number > limit:
        raise CellError(_l("Must be at most %(max)s.", max=limit))
    return int(scaled)


def kg(value: Cell) -> int:
    """A weight in kg with at most 3 decimals, as grams."""
    return _scaled(value, 3, _l("Must be a number of kg with at most 3 decimals."), MAX_KG, False)


def positive_kg(value: Cell) -> int:
    """A weight in kg greater than 0, as grams."""
    return _scaled(value, 3, _l("Must be a number of kg with at most 3 decimals."), MAX_KG, True)


def money(value: Cell) -> int:
    """An amount in CNY with at most 2 decimals, as fen."""
    return _scaled(
        value, 2, _l("Must be an amount in CNY with at most 2 decimals."), MAX_CNY, False
    )


def positive_money(value: Cell) -> int:
    """An amount in CNY greater than 0, as fen."""
    return _scaled(value, 2, _l("Must be an amount in CNY with at most 2 decimals."), MAX_CNY, True)


def percent(value: Cell) -> int:
    """A percentage from 0 to 100 with at most 2 decimals, as basis points."""
    message = _l("Must be a percentage from 0 to 100 with at most 2 decimals.")
    number = _decimal(value)
    if number is None or number < 0 or number > 100:
        raise CellError(message)
    return _scaled(value, 2, message, Decimal(100), False)


def whole(value: Cell) -> int:
    """A whole number of at least 1 (days, cm, a divisor)."""
    number = _decimal(value)
    if number is None or number != number.to_integral_value():
        raise CellError(_l("Must be a whole number."))
    if number < 1:
        raise CellError(_l("Must be at least 1."))
    if number > MAX_WHOLE:
        raise CellError(_l("Must be at most %(max)s.", max=MAX_WHOLE))
    return int(number)


def day(value: Cell) -> date:
    """A date: a date cell or text written YYYY-MM-DD."""
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise CellError(_l("Must be a date without a time of day."))
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CellError(_l("Must be a date written YYYY-MM-DD."))


def yes_no(value: Cell) -> bool:
    """yes / no (blank is no)."""
    if isinstance(value, bool):
        return value
    if is_blank(value):
        return False
    answer = value.strip().lower() if isinstance(value, str) else None
    if answer not in ("yes", "no"):
        raise CellError(_l("Must be yes or no."))
    return answer == "yes"


def choice(options: tuple[str, ...]) -> Parser:
    """One of a fixed set of lower-case words."""

    def parse(value: Cell) -> str:
        word = value.strip().lower() if isinstance(value, str) else None
        if word not in options:
            raise CellError(_l("Must be one of: %(options)s.", options=", ".join(options)))
        return word

    return parse


def country(value: Cell) -> str:
    """An ISO 3166 two-letter country code."""
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in COUNTRIES:
        raise CellError(_l("Unknown country; use an ISO 3166 two-letter code such as US."))
    return code


def categories(value: Cell) -> tuple[str, ...]:
    """A comma-separated list of goods categories, at least one, none twice."""
    raw = text(200)(value).replace("，", ",")
    codes = [c.strip().lower() for c in raw.split(",") if c.strip()]
    if not codes:
        raise CellError(_l("Required."))
    for code in codes:
        if code not in GOODS_CATEGORIES:
            raise CellError(_l("Unknown goods category: %(code)s.", code=code))
    if len(set(codes)) != len(codes):
        raise CellError(_l("A goods category is listed twice."))
    return tuple(codes)


def normalise_postcode(code: str) -> str:
    """Postcodes are compared upper-case without spaces and dashes."""
    return code.replace(" ", "").replace("-", "").upper()


def postcode(value: Cell) -> str:
    """A postcode pattern, normalised: exact `SW1A1AA`, prefix `995*`, range `96700-96899`."""
    raw = text(40)(value)
    if raw.endswith("*"):
        body = normalise_postcode(raw[:-1])
        if not _PREFIX_BODY.fullmatch(body):
            raise CellError(_l("A prefix is letters or digits followed by *, e.g. 995*."))
        return body + "*"
    bounds = _RANGE.fullmatch(raw)
    if bounds and len(bounds[1]) == len(bounds[2]):
        if int(bounds[1]) > int(bounds[2]):
            raise CellError(_l("The range must not start above its end."))
        return f"{bounds[1]}-{bounds[2]}"
    exact = normalise_postcode(raw)
    if not _EXACT.fullmatch(raw) or not exact:
        raise CellError(
            _l("Must be a postcode, a prefix such as 995* or a range such as 96700-96899.")
        )
    return exact


def area_key(country_code: str, region: str | None, pattern: str | None) -> tuple[str, str, str]:
    """What makes two areas the same: country, region ignoring case and spaces, postcode."""
    region_key = "".join((region or "").split()).casefold()
    return country_code, region_key, pattern or ""
