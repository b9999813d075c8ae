"""Chinese domestic couriers: their codes and names, tracking-number normalisation, and a guess
of the courier from the shape of a tracking number."""

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

# Free text given for an "other" courier is stored as it is, so it fits the column.
OTHER = "OTHER"
MAX_OTHER_NAME = 20
MIN_TRACKING_LENGTH = 6
MAX_TRACKING_LENGTH = 40

# Spaces and the dashes people (and phone keyboards) put inside a tracking number.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―]+")
_TRACKING_CHARS = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Courier:
    code: str
    name: object  # a lazily translated string
    patterns: tuple[re.Pattern, ...] = ()


def _p(*patterns: str) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in patterns)


# Checked in this order: a more specific shape comes before a broader one (STO's 77... numbers
# are also ZTO-shaped). The shapes are the usual ones, not guarantees: the customer can override.
COURIERS: tuple[Courier, ...] = (
    Courier("SF", _l("SF Express"), _p(r"SF[0-9]{12,13}")),
    Courier("JD", _l("JD Logistics"), _p(r"JD[A-Z0-9]{10,16}")),
    Courier("YTO", _l("YTO Express"), _p(r"YT[0-9]{13}")),
    Courier("JTEXPRESS", _l("J&T Express"), _p(r"JT[0-9]{13}")),
    Courier("DEPPON", _l("Deppon"), _p(r"DPK[0-9]{6,14}")),
    Courier("EMS", _l("EMS / China Post"), _p(r"E[A-Z][0-9]{9}CN", r"1[0-9]{12}")),
    Courier("STO", _l("STO Express"), _p(r"77[0-9]{11}")),
    Courier("ZTO", _l("ZTO Express"), _p(r"7[0-9]{11,14}")),
    Courier("YUNDA", _l("Yunda Express"), _p(r"[34][0-9]{12}", r"[34][0-9]{14}")),
    Courier("CAINIAO", _l("Cainiao")),
    Courier("DANNIAO", _l("Danniao")),
)
BY_CODE = {c.code: c for c in COURIERS}


def normalise_tracking_no(raw: str | None) -> str:
    """The tracking number as stored: full-width characters folded, spaces and dashes dropped,
    upper case. The result may still be invalid; check it with is_valid_tracking_no()."""
    if not raw or len(raw) > 4 * MAX_TRACKING_LENGTH:
        return raw or ""
    folded = unicodedata.normalize("NFKC", raw)
    compact = _SEPARATORS.sub("", folded)
    # Only ASCII letters are upper-cased: "ß".upper() would silently become "SS".
    return compact.upper() if _TRACKING_CHARS.fullmatch(compact) else compact


def is_valid_tracking_no(number: str) -> bool:
    return (
        MIN_TRACKING_LENGTH <= len(number) <= MAX_TRACKING_LENGTH
        and _TRACKING_CHARS.fullmatch(number) is not None
        and number == number.upper()
    )


def guess_courier(number: str) -> str | None:
    """The code of the courier whose numbers look like this (normalised) one, if any."""
    if not is_valid_tracking_no(number):
        return None
    for courier in COURIERS:
        if any(p.fullmatch(number) for p in courier.patterns):
            return courier.code
    return None


def courier_label(code: str) -> str:
    """A courier's name for display: the known name, else the text the customer typed."""
    if not code:
        return ""
    courier = BY_CODE.get(code)
    return str(courier.name) if courier else code
