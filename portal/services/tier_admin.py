"""Staff defining and changing membership tiers (会员等级): price, length, freight discount and the
coupons a member gets each month. Every field is checked before anything is written."""

import re
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import CouponTemplate, MembershipTier, User
from portal.services import audit
from portal.services.amounts import parse_yuan
from portal.services.errors import FieldErrors, ValidationFailed

MAX_PRICE_FEN = 100_000_00
MAX_DAYS = 3650
MAX_DISCOUNT = Decimal(50)
MAX_MONTHLY_COUPONS = 10
PERCENT = re.compile(r"(0|[1-9][0-9]?)(\.[0-9]{1,2})?")
WHOLE = re.compile(r"0|[1-9][0-9]{0,5}")
SORT = re.compile(r"-?(0|[1-9][0-9]{0,5})")
FIELDS = (
    "name_zh",
    "name_en",
    "price",
    "duration_days",
    "discount_percent",
    "coupon_template_id",
    "monthly_coupons",
    "sort",
)


class InvalidTier(FieldErrors):
    """Some fields of a membership tier are not acceptable."""


@dataclass(frozen=True)
class TierInput:
    """The tier form as typed."""

    name_zh: str = ""
    name_en: str = ""
    price: str = ""
    duration_days: str = ""
    discount_percent: str = ""
    coupon_template_id: str = ""
    monthly_coupons: str = "0"
    sort: str = "0"
    is_active: bool = True


def tiers() -> list[MembershipTier]:
    """Every tier in the order customers see them."""
    return list(
        db.session.scalars(
            select(MembershipTier).order_by(
                MembershipTier.sort, MembershipTier.price_fen, MembershipTier.id
            )
        )
    )


def coupon_choices() -> list[CouponTemplate]:
    """The templates a tier may give monthly: the active ones, newest first."""
    return list(
        db.session.scalars(
            select(CouponTemplate)
            .where(CouponTemplate.is_active.is_(True))
            .order_by(CouponTemplate.id.desc())
        )
    )


def _name(raw: str, field: str, errors: dict) -> str:
    text = " ".join(raw.split())
    if not text or len(text) > 40:
        errors[field] = _l("Enter a name of 1 to 40 characters.")
    return text


def _whole(raw: str, pattern, field: str, low: int, high: int, errors: dict, message) -> int:
    text = raw.strip()
    if not text.isascii() or not pattern.fullmatch(text) or not low <= int(text) <= high:
        errors[field] = message
        return 0
    return int(text)


def _read(typed: TierInput, current: MembershipTier | None) -> dict:
    errors: dict[str, object] = {}
    values: dict[str, object] = {
        "name_zh": _name(typed.name_zh, "name_zh", errors),
        "name_en": _name(typed.name_en, "name_en", errors),
        "is_active": typed.is_active,
    }
    try:
        values["price_fen"] = parse_yuan(typed.price, "price", MAX_PRICE_FEN)
    except ValidationFailed as refused:
        errors["price"] = refused.message
    values["duration_days"] = _whole(
        typed.duration_days,
        WHOLE,
        "duration_days",
        1,
        MAX_DAYS,
        errors,
        _l("Enter a number of days from 1 to %(max)s.", max=MAX_DAYS),
    )
    text = typed.discount_percent.strip()
    if not text.isascii() or not PERCENT.fullmatch(text) or not 0 < Decimal(text) <= MAX_DISCOUNT:
        errors["discount_percent"] = _l(
            "Enter a percent above 0 and up to 50, at most two decimals."
        )
    else:
        values["discount_percent"] = Decimal(text)
    values["monthly_coupons"] = _whole(
        typed.monthly_coupons.strip() or "0",
        WHOLE,
        "monthly_coupons",
        0,
        MAX_MONTHLY_COUPONS,
        errors,
        _l("Enter a whole number from 0 to %(max)s.", max=MAX_MONTHLY_COUPONS),
    )
    values["sort"] = _whole(
        typed.sort.strip() or "0",
        SORT,
        "sort",
        -999_999,
        999_999,
        errors,
        _l("Enter a whole number, e.g. 10."),
    )
    values["coupon_template_id"] = _template_id(typed.coupon_template_id, current, errors)
    if (
        "monthly_coupons" not in errors
        and values["monthly_coupons"]
        and values["coupon_template_id"] is None
        and "coupon_template_id" not in errors
    ):
        errors["coupon_template_id"] = _l("Choose the coupon a member gets each month.")
    if errors:
        raise InvalidTier(errors)
    return values


def _template_id(raw: str, current: MembershipTier | None, errors: dict) -> int | None:
    text = raw.strip()
    if not text:
        return None
    template = (
        db.session.get(CouponTemplate, int(text))
        if re.fullmatch(r"[1-9][0-9]{0,8}", text)
        else None
    )
    # A tier may keep a template that was switched off since, but not be given a new one.
    keeps = (
        current is not None and template is not None and current.coupon_template_id == template.id
    )
    if template is None or not (template.is_active or keeps):
        errors["coupon_template_id"] = _l("Choose a coupon from the list.")
        return None
    return template.id


def create_tier(actor: User, typed: TierInput) -> MembershipTier:
    """Offer a new tier (audited); raises InvalidTier naming every bad field."""
    tier = MembershipTier(**_read(typed, None))
    db.session.add(tier)
    db.session.flush()
    audit.record(actor, "membership_tier.create", "membership_tier", tier.id, None, described(tier))
    return tier


def update_tier(actor: User, tier: MembershipTier, typed: TierInput) -> MembershipTier:
    """Change a tier (audited, before and after); periods already bought keep their price and
    end. Raises InvalidTier naming every bad field."""
    values = _read(typed, tier)
    before = described(tier)
    for name, value in values.items():
        setattr(tier, name, value)
    db.session.flush()
    audit.record(
        actor, "membership_tier.update", "membership_tier", tier.id, before, described(tier)
    )
    return tier


def described(tier: MembershipTier) -> dict:
    """The tier as the audit log keeps it."""
    return {
        "name_zh": tier.name_zh,
        "name_en": tier.name_en,
        "price_fen": tier.price_fen,
        "duration_days": tier.duration_days,
        "discount_percent": str(Decimal(tier.discount_percent).quantize(Decimal("0.01"))),
        "coupon_template_id": tier.coupon_template_id,
        "monthly_coupons": tier.monthly_coupons,
        "sort": tier.sort,
        "is_active": tier.is_active,
    }
