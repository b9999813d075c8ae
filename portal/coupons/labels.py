"""How coupons and tiers read on the page: names in the reader's language, what they give,
the Beijing date they end."""

from datetime import datetime
from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _

from portal.i18n import format_yuan
from portal.models import CouponTemplate
from portal.orders.labels import country_name
from portal.services.rate_cards import BUSINESS_ZONE


def local_name(thing) -> str:
    """name_zh for a Chinese reader, name_en for anyone else (coupon templates and tiers)."""
    return thing.name_zh if str(get_locale()).startswith("zh") else thing.name_en


def percent_text(percent: Decimal) -> str:
    """12.50 -> "12.5", 10.00 -> "10"."""
    text = f"{percent:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def beijing_day(moment: datetime) -> str:
    return f"{moment.astimezone(BUSINESS_ZONE):%Y-%m-%d}"


def gives(template: CouponTemplate) -> str:
    """¥10.00 off, or 20% off (up to ¥30.00)."""
    if template.kind == "fixed":
        return _("%(amount)s off", amount=format_yuan(template.value_fen))
    if template.cap_fen:
        return _(
            "%(percent)s%% off, up to %(cap)s",
            percent=percent_text(template.percent),
            cap=format_yuan(template.cap_fen),
        )
    return _("%(percent)s%% off", percent=percent_text(template.percent))


def threshold(template: CouponTemplate) -> str:
    """满¥X可用."""
    if template.threshold_fen > 0:
        return _(
            "Orders with at least %(amount)s freight", amount=format_yuan(template.threshold_fen)
        )
    return _("Any order")


def limits(template: CouponTemplate) -> list[str]:
    """The channels and destinations it is limited to, if any, in words."""
    lines = []
    if template.channel_list:
        lines.append(_("Channels: %(channels)s", channels=", ".join(template.channel_list)))
    if template.country_list:
        names = ", ".join(country_name(code) for code in template.country_list)
        lines.append(_("Destinations: %(countries)s", countries=names))
    return lines


HELPERS = {
    "local_name": local_name,
    "percent_text": percent_text,
    "beijing_day": beijing_day,
    "coupon_gives": gives,
    "coupon_threshold": threshold,
    "coupon_limits": limits,
}
