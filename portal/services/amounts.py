"""Amounts of money typed by people (recharges, refunds, adjustments), read into integer fen.

The one accepted format: ASCII digits with an optional point and at most two decimals, e.g.
100, 99.5 or 99.50; spaces around it are ignored. Everything else (commas, full-width digits,
signs, exponents, NaN, Infinity, a third decimal) is refused with a message, never guessed.
"""

import re

from flask_babel import lazy_gettext as _l

from portal.i18n import format_fen
from portal.services.errors import ValidationFailed

AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")


def parse_yuan(raw: object, field: str, max_fen: int) -> int:
    """A positive amount in yuan up to `max_fen`, as fen; raises ValidationFailed for the field."""
    text = raw.strip() if isinstance(raw, str) else ""
    match = AMOUNT.fullmatch(text) if text.isascii() else None
    if match is None:
        raise ValidationFailed(
            _l("Enter an amount in yuan with at most two decimals, e.g. 100 or 99.50."), field
        )
    whole, decimals = match.group(1), (match.group(2) or ".")[1:]
    fen = int(whole) * 100 + int(decimals.ljust(2, "0"))
    if not 0 < fen <= max_fen:
        raise ValidationFailed(
            _l("Enter an amount above 0 and up to ¥%(limit)s.", limit=format_fen(max_fen)), field
        )
    return fen


def plain_yuan(amount_fen: int) -> str:
    """Fen in the format parse_yuan reads, to fill an amount field: 1250 -> "12.50"."""
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"
