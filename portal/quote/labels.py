"""Words for the pricing service's codes: line labels, explanations, reasons and warnings."""

from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from portal.i18n import format_kg, format_yuan
from portal.services.pricing_types import (
    ChannelRates,
    LineCode,
    Notice,
    Quote,
    QuoteLine,
    Reason,
    WarningCode,
)

CATEGORY_LABELS = {
    "general": _l("General goods"),
    "battery_in_equipment": _l("Battery inside a device"),
    "battery_with_equipment": _l("Battery packed with a device"),
    "liquid": _l("Liquids"),
    "cosmetic": _l("Cosmetics"),
    "powder": _l("Powders"),
    "food": _l("Food"),
    "brand": _l("Branded goods"),
    "magnetic": _l("Magnetic goods"),
}

SERVICE_LEVEL_LABELS = {
    "express": _l("Express"),
    "standard": _l("Standard"),
    "economy": _l("Economy"),
}

LINE_LABELS = {
    LineCode.BASE: _l("Freight"),
    LineCode.REMOTE: _l("Remote area surcharge"),
    LineCode.SENSITIVE: _l("Sensitive goods surcharge"),
    LineCode.OVERSIZE: _l("Oversize surcharge"),
    LineCode.HANDLING: _l("Handling fee"),
    LineCode.FUEL: _l("Fuel surcharge"),
    LineCode.MEMBER_DISCOUNT: _l("Member discount"),
    LineCode.COUPON: _l("Coupon"),
    LineCode.INSURANCE: _l("Insurance"),
    LineCode.DUTIES: _l("Duties and taxes (estimate)"),
}

REASON_TEXTS = {
    Reason.NO_ZONE: _l("Does not deliver to this address."),
    Reason.CATEGORY_NOT_ALLOWED: _l("Does not carry this kind of goods."),
    Reason.OVER_MAX_WEIGHT: _l("Too heavy for this channel."),
    Reason.OVER_MAX_DIMENSION: _l("Too large for this channel."),
    Reason.REMOTE_NOT_SERVICEABLE: _l("Does not deliver to this remote area."),
    Reason.NO_RATE: _l("No price for this weight."),
}


def channel_name(channel: ChannelRates) -> str:
    return channel.name_zh if str(get_locale()).startswith("zh") else channel.name_en


class ListWords:
    """The offer list's words in one language, resolved once per process and language.

    A lazy string costs microseconds each time it is printed, and the list shows several for
    each of its dozens of offers; the catalogues do not change while the process runs."""

    def __init__(self, locale: str):
        self.locale = locale
        self.zh = locale.startswith("zh")
        self.service_levels = {code: str(text) for code, text in SERVICE_LEVEL_LABELS.items()}
        self.reasons = {code: str(text) for code, text in REASON_TEXTS.items()}
        self.cheapest = _("Cheapest")
        self.fastest = _("Fastest")
        self.price_details = _("Price details")
        self.show_details = _("Show the price details")
        self.ship = _("Ship with this")
        # Formats for the `format` filter; catalogue text, so Markup: `%` escapes the values.
        self.days = Markup(_("%(min)s–%(max)s days"))  # noqa: S704
        self.chargeable = Markup(_("chargeable %(kg)s kg"))  # noqa: S704

    def channel_name(self, channel: ChannelRates) -> str:
        return channel.name_zh if self.zh else channel.name_en


_list_words: dict[str, ListWords] = {}


def list_words() -> ListWords:
    """The offer list's words in the request's language."""
    locale = str(get_locale())
    words = _list_words.get(locale)
    if words is None:
        words = _list_words[locale] = ListWords(locale)
    return words


def yuan(amount_fen: int) -> str:
    return format_yuan(amount_fen)


def _pct(value: object) -> str:
    return f"{Decimal(str(value)).normalize():f}%"


def explain_line(line: QuoteLine) -> str:
    """How a line's amount was reached, in words and numbers."""
    f = line.fact
    if line.code == LineCode.BASE:
        text = _(
            "%(weight)s kg: first %(first)s kg %(first_price)s",
            weight=format_kg(f("weight_g")),
            first=format_kg(f("first_g")),
            first_price=yuan(f("first_price_fen")),
        )
        if f("units"):
            text += _(
                " + %(units)s × %(unit)s kg × %(unit_price)s",
                units=f("units"),
                unit=format_kg(f("unit_g")),
                unit_price=yuan(f("unit_price_fen")),
            )
        if f("parcel_fee_fen"):
            text += _(" + parcel fee %(fee)s", fee=yuan(f("parcel_fee_fen")))
        if f("min_charge_fen"):
            text += _("; minimum charge %(amount)s", amount=yuan(f("min_charge_fen")))
        return text
    if line.code in (LineCode.REMOTE, LineCode.SENSITIVE) and f("weight_g") is not None:
        return _(
            "%(rate)s/kg × %(weight)s kg, at least %(minimum)s",
            rate=yuan(f("per_kg_fen")),
            weight=format_kg(f("weight_g")),
            minimum=yuan(f("min_fen")),
        )
    if line.code in (LineCode.OVERSIZE, LineCode.HANDLING):
        return _("%(pieces)s piece(s)", pieces=f("pieces"))
    if line.code == LineCode.FUEL:
        return _("%(pct)s of %(basis)s", pct=_pct(f("percent")), basis=yuan(f("basis_fen")))
    if line.code == LineCode.MEMBER_DISCOUNT:
        return _("%(pct)s of the freight", pct=_pct(f("percent")))
    if line.code == LineCode.COUPON:
        return str(f("code"))
    if line.code == LineCode.INSURANCE:
        return _(
            "%(pct)s of %(insured)s insured",
            pct=_pct(f("percent")),
            insured=yuan(f("insured_fen")),
        )
    if line.code == LineCode.DUTIES:
        return _("%(pct)s of %(basis)s", pct=_pct(f("percent")), basis=yuan(f("basis_fen")))
    return ""


def warning_text(notice: Notice) -> str:
    f = notice.fact
    texts = {
        WarningCode.MIN_CHARGE_APPLIED: lambda: _(
            "The minimum charge of %(amount)s applies.", amount=yuan(f("amount_fen"))
        ),
        WarningCode.MIN_WEIGHT_APPLIED: lambda: _(
            "Charged at the minimum weight of %(weight)s kg.", weight=format_kg(f("weight_g"))
        ),
        WarningCode.COUPON_BELOW_THRESHOLD: lambda: _(
            "Coupon %(code)s needs freight of at least %(threshold)s.",
            code=f("coupon"),
            threshold=yuan(f("threshold_fen")),
        ),
        WarningCode.COUPON_CAPPED: lambda: _(
            "Coupon %(code)s is capped at %(cap)s.", code=f("coupon"), cap=yuan(f("cap_fen"))
        ),
        WarningCode.INSURANCE_NOT_OFFERED: lambda: _("This channel offers no insurance."),
        WarningCode.INSURANCE_NEEDS_VALUE: lambda: _("Enter a declared value to insure."),
        WarningCode.INSURANCE_CAPPED: lambda: _(
            "Insured up to %(amount)s only.", amount=yuan(f("max_fen"))
        ),
        WarningCode.DUTIES_ESTIMATED: lambda: _(
            "Duties are an estimate; customs decide the final amount."
        ),
    }
    return texts[notice.code]()


def weight_explanation(q: Quote) -> str:
    """How the chargeable weight was reached: actual vs volumetric, and the rounding step."""
    piece = q.pieces[0]
    step = format_kg(q.channel.rounding_step_g)
    if piece.volumetric_g is None:
        return _(
            "Actual %(actual)s kg, rounded up to %(step)s kg steps",
            actual=format_kg(piece.actual_g),
            step=step,
        )
    return _(
        "Actual %(actual)s kg, volumetric %(volumetric)s kg (÷%(divisor)s); "
        "the larger, rounded up to %(step)s kg steps",
        actual=format_kg(piece.actual_g),
        volumetric=format_kg(piece.volumetric_g),
        divisor=q.channel.volumetric_divisor,
        step=step,
    )
