"""The invite-rebate rule staff set (返利规则): what percent of an invitee's paid orders their
inviter earns, for how many days after the invitee registered, and the smallest withdrawal.

Saving adds a row rather than changing one, so the rule each rebate was earned under stays on
record; the newest row is in force.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import LedgerAccount, RebateRule, ReferralRebate, User
from portal.services import audit
from portal.services.amounts import parse_yuan
from portal.services.errors import FieldErrors, ValidationFailed

MAX_PERCENT = Decimal(50)
MAX_DAYS = 3650
MAX_MIN_WITHDRAW_FEN = 100_000_00
PERCENT = re.compile(r"(0|[1-9][0-9]?)(\.[0-9]{1,2})?")
DAYS = re.compile(r"[1-9][0-9]{0,3}")


class InvalidRule(FieldErrors):
    """Some fields of a rebate rule are not acceptable."""


@dataclass(frozen=True)
class RuleInput:
    """The rule form as typed: percent, days (blank for no limit) and the minimum in yuan."""

    percent: str
    duration_days: str
    min_withdraw: str


def current_rule() -> RebateRule | None:
    """The rule in force: the newest one staff saved (None before the first)."""
    return db.session.scalar(select(RebateRule).order_by(RebateRule.id.desc()).limit(1))


def _percent(raw: str, errors: dict) -> Decimal | None:
    text = (raw or "").strip()
    if not text.isascii() or not PERCENT.fullmatch(text) or Decimal(text) > MAX_PERCENT:
        errors["percent"] = _l("Enter a percent from 0 to 50, at most two decimals.")
        return None
    return Decimal(text)


def _days(raw: str, errors: dict) -> int | None:
    text = (raw or "").strip()
    if not text:
        return None
    if not text.isascii() or not DAYS.fullmatch(text) or int(text) > MAX_DAYS:
        errors["duration_days"] = _l(
            "Enter a number of days from 1 to %(max)s, or leave it empty.", max=MAX_DAYS
        )
        return None
    return int(text)


def _min_withdraw(raw: str, errors: dict) -> int | None:
    try:
        fen = parse_yuan(raw, "min_withdraw", MAX_MIN_WITHDRAW_FEN)
    except ValidationFailed as refused:
        errors["min_withdraw"] = refused.message
        return None
    if fen < 100:
        errors["min_withdraw"] = _l("The smallest withdrawal is at least ¥1.00.")
        return None
    return fen


def save_rule(actor: User, typed: RuleInput) -> RebateRule:
    """Put a new rule in force (audited); raises InvalidRule naming every bad field."""
    errors: dict[str, object] = {}
    percent = _percent(typed.percent, errors)
    days = _days(typed.duration_days, errors)
    minimum = _min_withdraw(typed.min_withdraw, errors)
    if errors:
        raise InvalidRule(errors)
    before = current_rule()
    rule = RebateRule(
        percent=percent, duration_days=days, min_withdraw_fen=minimum, created_by_id=actor.id
    )
    db.session.add(rule)
    db.session.flush()
    audit.record(
        actor,
        "rebate_rule.save",
        "rebate_rule",
        rule.id,
        _described(before) if before else None,
        _described(rule),
    )
    return rule


def _described(rule: RebateRule) -> dict:
    return {
        "percent": str(rule.percent),
        "duration_days": rule.duration_days,
        "min_withdraw_fen": rule.min_withdraw_fen,
    }


@dataclass(frozen=True)
class Overview:
    """What the rule screen shows besides the form: past rules and the programme's totals."""

    history: list[RebateRule]
    rebates: int
    earned_fen: int
    reversed_fen: int
    outstanding_fen: int  # in customers' rebate balances, not yet withdrawn


def overview(history: int = 10) -> Overview:
    rules = list(
        db.session.scalars(select(RebateRule).order_by(RebateRule.id.desc()).limit(history))
    )
    count, earned, reversed_ = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(ReferralRebate.amount_fen), 0),
            func.coalesce(func.sum(ReferralRebate.reversed_fen), 0),
        ).select_from(ReferralRebate)
    ).one()
    outstanding = db.session.scalar(
        select(func.coalesce(func.sum(LedgerAccount.balance_fen), 0)).where(
            LedgerAccount.kind == "customer_rebate"
        )
    )
    return Overview(rules, count, int(earned), int(reversed_), int(outstanding))
