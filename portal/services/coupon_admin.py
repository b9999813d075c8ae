"""Staff defining coupon templates (优惠券模板), seeing how many were issued, held and used, and
issuing coupons to customers by their customer codes.

Every field of the template form is checked before anything is written; a refused form raises
InvalidTemplate naming each bad field, so the page can show every message at once.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import Coupon, CouponTemplate, User, UserRole, utcnow
from portal.services import audit, coupons
from portal.services.amounts import parse_yuan
from portal.services.coupons import CouponRefused
from portal.services.errors import FieldErrors, ValidationFailed
from portal.services.rate_cards import BUSINESS_ZONE

MAX_VALUE_FEN = 10_000_00
MAX_THRESHOLD_FEN = 1_000_000_00
MAX_DAYS = 3650
MAX_TOTAL_LIMIT = 10_000_000
MAX_PER_CUSTOMER = 100
MAX_CODES = 500
MAX_SEGMENT = 5000
PERCENT = re.compile(r"(0|[1-9][0-9]{0,2})(\.[0-9]{1,2})?")
WHOLE = re.compile(r"[1-9][0-9]{0,7}")
CHANNEL = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,39}")
COUNTRY = re.compile(r"[A-Z]{2}")
REDEEM_CODE = re.compile(r"[A-Z0-9]{4,30}")
SEPARATORS = re.compile(r"[\s,，]+")
FIELDS = (
    "name_zh",
    "name_en",
    "kind",
    "value",
    "threshold",
    "cap",
    "channels",
    "countries",
    "valid_days",
    "valid_from",
    "valid_until",
    "total_limit",
    "per_customer_limit",
    "redeem_code",
)
CHECKBOXES = ("claimable", "for_new_customers", "is_active")


class InvalidTemplate(FieldErrors):
    """Some fields of a coupon template are not acceptable."""


@dataclass(frozen=True)
class TemplateInput:
    """The template form as typed: text fields as strings, checkboxes as booleans."""

    name_zh: str = ""
    name_en: str = ""
    kind: str = "fixed"
    value: str = ""
    threshold: str = ""
    cap: str = ""
    channels: str = ""
    countries: str = ""
    valid_days: str = ""
    valid_from: str = ""
    valid_until: str = ""
    total_limit: str = ""
    per_customer_limit: str = "1"
    redeem_code: str = ""
    claimable: bool = False
    for_new_customers: bool = False
    is_active: bool = True


# ---- reading the form --------------------------------------------------------------------------


def _name(raw: str, field: str, errors: dict) -> str:
    text = " ".join(raw.split())
    if not text or len(text) > 60:
        errors[field] = _l("Enter a name of 1 to 60 characters.")
    return text


def _yuan(raw: str, field: str, max_fen: int, errors: dict, allow_zero: bool = False) -> int:
    text = raw.strip()
    if allow_zero and text in ("", "0", "0.0", "0.00"):
        return 0
    try:
        return parse_yuan(text, field, max_fen)
    except ValidationFailed as refused:
        errors[field] = refused.message
        return 0


def _percent(raw: str, errors: dict) -> Decimal:
    text = raw.strip()
    if not text.isascii() or not PERCENT.fullmatch(text) or not 0 < Decimal(text) <= 100:
        errors["value"] = _l("Enter a percent above 0 and up to 100, at most two decimals.")
        return Decimal(0)
    return Decimal(text)


def _whole(raw: str, field: str, low: int, high: int, errors: dict, message) -> int | None:
    text = raw.strip()
    if not text:
        return None
    if not text.isascii() or not WHOLE.fullmatch(text) or not low <= int(text) <= high:
        errors[field] = message
        return None
    return int(text)


def _codes(raw: str, pattern: re.Pattern, field: str, limit: int, errors: dict, message) -> str:
    codes = list(dict.fromkeys(c for c in SEPARATORS.split(raw.strip().upper()) if c))
    joined = ",".join(codes)
    if any(not c.isascii() or not pattern.fullmatch(c) for c in codes) or len(joined) > limit:
        errors[field] = message
        return ""
    return joined


def _day(raw: str, field: str, errors: dict) -> date | None:
    text = raw.strip()
    if not text:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = _l("Enter a date as YYYY-MM-DD, e.g. 2026-12-31.")
        return None


def _validity(typed: TemplateInput, errors: dict):
    """(valid_days, valid_from, valid_until): either a number of days after issue or a window
    whose end is the end of that day in Beijing."""
    days = _whole(
        typed.valid_days,
        "valid_days",
        1,
        MAX_DAYS,
        errors,
        _l("Enter a number of days from 1 to %(max)s.", max=MAX_DAYS),
    )
    first = _day(typed.valid_from, "valid_from", errors)
    last = _day(typed.valid_until, "valid_until", errors)
    if any(f in errors for f in ("valid_days", "valid_from", "valid_until")):
        return None, None, None
    if days is None and last is None:
        errors["valid_days"] = _l("Enter a number of days after issue, or an end date.")
        return None, None, None
    if days is not None and (last is not None or first is not None):
        errors["valid_days"] = _l("Enter either a number of days or dates, not both.")
        return None, None, None
    if days is not None:
        return days, None, None
    starts = datetime.combine(first, time.min, BUSINESS_ZONE) if first else None
    ends = datetime.combine(last, time(23, 59, 59), BUSINESS_ZONE)
    if ends <= utcnow():
        errors["valid_until"] = _l("This day has passed; enter a later one.")
    elif starts is not None and starts >= ends:
        errors["valid_until"] = _l("The end date must not be before the start date.")
    return None, starts, ends


def _redeem_code(raw: str, errors: dict) -> str | None:
    code = "".join(raw.split()).upper()
    if not code:
        return None
    if not code.isascii() or not REDEEM_CODE.fullmatch(code):
        errors["redeem_code"] = _l("Use 4 to 30 letters A–Z and digits, or leave it empty.")
        return None
    if _code_taken(code):
        errors["redeem_code"] = _l("Another coupon already has this code; choose another.")
        return None
    return code


def _code_taken(code: str) -> bool:
    return (
        db.session.scalar(select(CouponTemplate.id).where(CouponTemplate.redeem_code == code))
        is not None
    )


def _read(typed: TemplateInput) -> dict:
    """The template's column values; raises InvalidTemplate naming every bad field."""
    errors: dict[str, object] = {}
    values: dict[str, object] = {
        "name_zh": _name(typed.name_zh, "name_zh", errors),
        "name_en": _name(typed.name_en, "name_en", errors),
        "kind": typed.kind,
        "value_fen": 0,
        "percent": Decimal(0),
        "cap_fen": None,
    }
    if typed.kind == "fixed":
        values["value_fen"] = _yuan(typed.value, "value", MAX_VALUE_FEN, errors)
        if typed.cap.strip():
            errors["cap"] = _l("A cap applies only to percent coupons; leave it empty.")
    elif typed.kind == "percent":
        values["percent"] = _percent(typed.value, errors)
        if typed.cap.strip():
            values["cap_fen"] = _yuan(typed.cap, "cap", MAX_VALUE_FEN, errors)
    else:
        errors["kind"] = _l("Choose an amount off or a percent off.")
    values["threshold_fen"] = _yuan(
        typed.threshold, "threshold", MAX_THRESHOLD_FEN, errors, allow_zero=True
    )
    values["channels"] = _codes(
        typed.channels,
        CHANNEL,
        "channels",
        400,
        errors,
        _l("Enter channel codes such as US-EXP-DHL, separated by commas or spaces."),
    )
    values["countries"] = _codes(
        typed.countries,
        COUNTRY,
        "countries",
        200,
        errors,
        _l("Enter two-letter country codes such as US or GB, separated by commas or spaces."),
    )
    days, starts, ends = _validity(typed, errors)
    values.update(valid_days=days, valid_from=starts, valid_until=ends)
    values["total_limit"] = _whole(
        typed.total_limit,
        "total_limit",
        1,
        MAX_TOTAL_LIMIT,
        errors,
        _l("Enter a whole number above 0, or leave it empty for no limit."),
    )
    per_customer = typed.per_customer_limit.strip() or "1"
    values["per_customer_limit"] = _whole(
        per_customer,
        "per_customer_limit",
        1,
        MAX_PER_CUSTOMER,
        errors,
        _l("Enter a whole number from 1 to %(max)s.", max=MAX_PER_CUSTOMER),
    )
    values["redeem_code"] = _redeem_code(typed.redeem_code, errors)
    if errors:
        raise InvalidTemplate(errors)
    values.update(
        claimable=typed.claimable,
        for_new_customers=typed.for_new_customers,
        is_active=typed.is_active,
    )
    return values


def create_template(actor: User, typed: TemplateInput) -> CouponTemplate:
    """Define a coupon template (audited); raises InvalidTemplate naming every bad field."""
    values = _read(typed)
    template = CouponTemplate(created_by_id=actor.id, issued_count=0, **values)
    try:
        with db.session.begin_nested():
            db.session.add(template)
    except IntegrityError:
        # Another template took the same redeem code a moment ago.
        raise InvalidTemplate(
            {"redeem_code": _l("Another coupon already has this code; choose another.")}
        ) from None
    audit.record(
        actor, "coupon_template.create", "coupon_template", template.id, None, described(template)
    )
    return template


def set_active(actor: User, template: CouponTemplate, active: bool) -> None:
    """Stop issuing a template's coupons, or start again (audited). Coupons already issued
    stay usable, and a tier's monthly coupons are still given: the tier promised them."""
    if template.is_active == active:
        return
    audit.record(
        actor,
        "coupon_template.activate" if active else "coupon_template.deactivate",
        "coupon_template",
        template.id,
        {"is_active": template.is_active},
        {"is_active": active},
    )
    template.is_active = active


def described(template: CouponTemplate) -> dict:
    """The template as the audit log keeps it."""
    return {
        "name_zh": template.name_zh,
        "name_en": template.name_en,
        "kind": template.kind,
        "value_fen": template.value_fen,
        "percent": str(template.percent),
        "threshold_fen": template.threshold_fen,
        "cap_fen": template.cap_fen,
        "channels": template.channels,
        "countries": template.countries,
        "valid_days": template.valid_days,
        "valid_from": template.valid_from.isoformat() if template.valid_from else None,
        "valid_until": template.valid_until.isoformat() if template.valid_until else None,
        "total_limit": template.total_limit,
        "per_customer_limit": template.per_customer_limit,
        "claimable": template.claimable,
        "for_new_customers": template.for_new_customers,
        "redeem_code": template.redeem_code,
        "is_active": template.is_active,
    }


# ---- the list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    issued: int = 0
    used: int = 0
    held: int = 0  # held by a live order, not yet used


def templates() -> list[CouponTemplate]:
    """Every template, newest first."""
    return list(db.session.scalars(select(CouponTemplate).order_by(CouponTemplate.id.desc())))


def template_counts() -> dict[int, Counts]:
    """Per template id: coupons issued, used by a paid order, and held by a live order."""
    held = case((Coupon.holding_order_id.is_not(None) & Coupon.used_order_id.is_(None), 1), else_=0)
    rows = db.session.execute(
        select(
            Coupon.template_id,
            func.count(),
            func.count(Coupon.used_order_id),
            func.coalesce(func.sum(held), 0),
        ).group_by(Coupon.template_id)
    )
    return {t: Counts(int(i), int(u), int(h)) for t, i, u, h in rows}


# ---- issuing to customers ----------------------------------------------------------------------


def _parse_codes(raw: str) -> list[str]:
    codes = list(dict.fromkeys(c for c in SEPARATORS.split(raw.strip().upper()) if c))
    if not codes:
        raise ValidationFailed(_l("Enter at least one customer code."), "codes")
    if len(codes) > MAX_CODES:
        raise ValidationFailed(
            _l("Enter at most %(max)s customer codes at a time.", max=MAX_CODES), "codes"
        )
    return codes


def active_customer_codes() -> list[str]:
    """The codes of every customer (not staff) whose account is not disabled, oldest first;
    raises ValidationFailed when there are more than one request should issue to."""
    codes = list(
        db.session.scalars(
            select(User.customer_code)
            .where(User.is_disabled.is_(False), User.id.not_in(select(UserRole.user_id)))
            .order_by(User.id)
            .limit(MAX_SEGMENT + 1)
        )
    )
    if len(codes) > MAX_SEGMENT:
        raise ValidationFailed(
            _l(
                "There are more than %(max)s active customers; issue by codes instead.",
                max=MAX_SEGMENT,
            ),
            "codes",
        )
    return codes


def issue_to_customers(
    actor: User, template: CouponTemplate, raw_codes: str, all_active: bool = False
) -> tuple[int, list[tuple[str, object]]]:
    """Give one coupon of the template to each customer whose code is listed (one per line or
    comma), or with all_active to every active customer; returns (coupons issued,
    [(code, why refused)]). Raises ValidationFailed (field "codes") for an empty list or one
    longer than 500. The batch is audited."""
    codes = active_customer_codes() if all_active else _parse_codes(raw_codes)
    staff = select(UserRole.user_id)
    found = {
        u.customer_code: u
        for u in db.session.scalars(
            select(User).where(User.customer_code.in_(codes), User.id.not_in(staff))
        )
    }
    issued, refused = 0, []
    for code in codes:
        customer = found.get(code)
        if customer is None:
            refused.append((code, _l("No customer has this code.")))
            continue
        if customer.is_disabled:
            refused.append((code, _l("This customer's account is disabled.")))
            continue
        if coupons.count_held(template, customer)[1] >= template.per_customer_limit:
            refused.append((code, _l("Already has as many of this coupon as one customer may.")))
            continue
        try:
            coupons.issue(template, customer, "staff", issued_by=actor)
        except CouponRefused as err:
            refused.append((code, err.message))
            continue
        issued += 1
    audit.record(
        actor,
        "coupon_template.issue",
        "coupon_template",
        template.id,
        None,
        {
            "segment": "all_active" if all_active else "codes",
            "issued": issued,
            "refused": [code for code, _ in refused],
        },
    )
    return issued, refused
