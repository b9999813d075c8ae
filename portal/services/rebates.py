"""Invite rebates (邀请返利): posted to the inviter when an invitee's order is paid, taken back in
proportion when it is refunded, and withdrawn by the inviter into their spendable balance.

All money moves through the ledger between `platform_rebates` and the inviter's accounts. A
rebate is posted in the payment's own database transaction under the key `rebate:<order>` and a
UNIQUE (order, inviter) row, so however often a payment is replayed it earns one rebate.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal.extensions import db
from portal.i18n import format_fen
from portal.models import (
    LedgerAccount,
    LedgerTransaction,
    Order,
    RebateRule,
    ReferralRebate,
    User,
)
from portal.models.base import utcnow
from portal.services import ledger, notifications
from portal.services.errors import DomainError, ValidationFailed
from portal.services.ledger import IdempotencyConflict, InsufficientFunds, Line
from portal.services.rebate_rules import current_rule

# Without a rule staff have set, rebates are off and withdrawals start at ¥1.
DEFAULT_MIN_WITHDRAW_FEN = 100


class BelowMinimum(DomainError):
    """The withdrawal is less than the rule's minimum."""


def min_withdraw_fen() -> int:
    rule = current_rule()
    return rule.min_withdraw_fen if rule else DEFAULT_MIN_WITHDRAW_FEN


def _round(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rebate_fen(basis_fen: int, percent: Decimal) -> int:
    """percent % of basis_fen, rounded half up to the fen."""
    return _round(Decimal(basis_fen) * Decimal(percent) / 100)


def _earns(invitee: User, rule: RebateRule | None) -> bool:
    if rule is None or rule.percent <= 0:
        return False
    if rule.duration_days is None:
        return True
    return utcnow() < invitee.created_at + timedelta(days=rule.duration_days)


def post_for_payment(invitee: User, order: Order) -> ReferralRebate | None:
    """The inviter's rebate for a just-paid order, if the rule gives one (same transaction)."""
    inviter_id = invitee.referred_by_id
    rule = current_rule()
    if inviter_id is None or not order.paid_fen or not _earns(invitee, rule):
        return None
    amount = rebate_fen(order.paid_fen, rule.percent)
    if amount <= 0:
        return None
    existing = db.session.scalar(
        select(ReferralRebate).where(
            ReferralRebate.order_id == order.id, ReferralRebate.inviter_id == inviter_id
        )
    )
    if existing is not None:
        return existing
    posted = ledger.post(
        "rebate",
        [
            Line(ledger.account("platform_rebates"), -amount),
            Line(ledger.account("customer_rebate", inviter_id), amount),
        ],
        f"rebate:{order.id}",
        order_id=order.id,
        memo=order.order_no,
    )
    row = ReferralRebate(
        order_id=order.id,
        inviter_id=inviter_id,
        invitee_id=invitee.id,
        basis_fen=order.paid_fen,
        percent=rule.percent,
        amount_fen=amount,
        reversed_fen=0,
        transaction_id=posted.id,
    )
    db.session.add(row)
    db.session.flush()
    notifications.notify(
        inviter_id, notifications.REBATE_EARNED, "/promo/", amount=format_fen(amount)
    )
    return row


def reverse_for_refund(order: Order, refund: LedgerTransaction) -> int:
    """Take back the share of the order's rebate that its refunds now cover; returns the fen.

    The target is round_half_up(rebate × refunded / paid), so partial refunds add up to the
    whole rebate exactly. The money comes from the inviter's rebate balance first and then from
    their balance; what they have already spent elsewhere is not recovered (the refund itself
    never fails for it) and a later refund tries again. Call it with the order row locked.
    """
    row = db.session.scalar(
        select(ReferralRebate).where(ReferralRebate.order_id == order.id).with_for_update()
    )
    if row is None or not order.paid_fen:
        return 0
    share = Decimal(min(order.refunded_fen, order.paid_fen)) / order.paid_fen
    wanted = _round(row.amount_fen * share) - row.reversed_fen
    if wanted <= 0:
        return 0
    rebate_account = ledger.account("customer_rebate", row.inviter_id)
    balance_account = ledger.account("customer_balance", row.inviter_id)
    # Read the balances under a lock, so a withdrawal at the same moment cannot empty them
    # between this read and the posting (PostgreSQL; SQLite writers queue anyway).
    db.session.execute(
        select(LedgerAccount)
        .where(LedgerAccount.id.in_((rebate_account.id, balance_account.id)))
        .order_by(LedgerAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    from_rebate = min(wanted, max(rebate_account.balance_fen, 0))
    from_balance = min(wanted - from_rebate, max(balance_account.balance_fen, 0))
    taken = from_rebate + from_balance
    if taken <= 0:
        return 0
    lines = [Line(ledger.account("platform_rebates"), taken)]
    lines += [Line(rebate_account, -from_rebate)] if from_rebate else []
    lines += [Line(balance_account, -from_balance)] if from_balance else []
    ledger.post(
        "rebate_reversal",
        lines,
        f"rebate-reversal:{refund.id}",
        order_id=order.id,
        memo=order.order_no,
    )
    db.session.execute(
        update(ReferralRebate)
        .where(ReferralRebate.id == row.id)
        .values(reversed_fen=ReferralRebate.reversed_fen + taken)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(row)
    return taken


def rebate_balance_fen(customer: User) -> int:
    """The customer's rebate balance (0 before their first rebate)."""
    code = ledger.account_code("customer_rebate", customer.id)
    value = db.session.scalar(select(LedgerAccount.balance_fen).where(LedgerAccount.code == code))
    return value or 0


def withdraw(customer: User, amount_fen: int, key: str) -> LedgerTransaction:
    """Move rebate money into the customer's spendable balance; the same key returns the first.

    Raises BelowMinimum, ValidationFailed (more than the rebate balance) or IdempotencyConflict.
    """
    idempotency_key = f"withdraw:{customer.id}:{key}"
    done = ledger.find_transaction(idempotency_key)
    if done is not None:
        if done.kind != "withdrawal" or _credited(done) != amount_fen:
            raise IdempotencyConflict(_l("This request was already used for something else."))
        return done
    minimum = min_withdraw_fen()
    if amount_fen < minimum:
        raise BelowMinimum(
            _l("You can withdraw from ¥%(amount)s.", amount=format_fen(minimum)), "amount"
        )
    try:
        return ledger.post(
            "withdrawal",
            [
                Line(ledger.account("customer_rebate", customer.id), -amount_fen),
                Line(ledger.customer_balance(customer), amount_fen),
            ],
            idempotency_key,
            actor_id=customer.id,
        )
    except InsufficientFunds:
        raise ValidationFailed(
            _l(
                "Your rebate balance is ¥%(amount)s.",
                amount=format_fen(rebate_balance_fen(customer)),
            ),
            "amount",
        ) from None


def _credited(posted: LedgerTransaction) -> int:
    return sum(entry.amount_fen for entry in posted.entries if entry.amount_fen > 0)
