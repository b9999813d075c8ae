"""Manual balance adjustments by finance (调账): a credit or a debit with a mandatory reason,
posted once per form (its token is the idempotency key), told to the customer and audited."""

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import format_fen, format_yuan
from portal.models import LedgerAccount, LedgerTransaction, User
from portal.services import audit, ledger, notifications
from portal.services.amounts import parse_yuan
from portal.services.customer_admin import get_customer
from portal.services.errors import ValidationFailed
from portal.services.ledger import InsufficientFunds, Line
from portal.services.text import clean_line

MAX_ADJUSTMENT_FEN = 5_000_000  # ¥50,000
MAX_REASON = 200
DIRECTIONS = ("credit", "debit")
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
WALLET_LINK = "/wallet/"


@dataclass(frozen=True)
class Adjusted:
    transaction: LedgerTransaction
    amount_fen: int  # signed: positive credits the customer
    balance_fen: int
    posted_now: bool  # False when this form was already posted (a double submit)


def adjust_balance(
    actor: User,
    customer_id: int,
    direction: object,
    amount: object,
    reason: object,
    token: object,
) -> Adjusted:
    """Credit or debit a customer's balance with a reason; one posting per form token.

    Raises CustomerNotFound, ValidationFailed (direction, amount, reason, the token; a debit
    larger than the balance on "amount") or IdempotencyConflict (the token reused otherwise).
    """
    customer = get_customer(customer_id)
    if direction not in DIRECTIONS:
        raise ValidationFailed(_l("Choose credit or debit."), "direction")
    fen = parse_yuan(amount, "amount", MAX_ADJUSTMENT_FEN)
    text = clean_line(
        reason if isinstance(reason, str) else "",
        "reason",
        MAX_REASON,
        _l("Say why the balance is adjusted (the customer reads it)."),
    )
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise ValidationFailed(_l("This form has expired; open it again."), "form")
    signed = fen if direction == "credit" else -fen
    account = ledger.customer_balance(customer)
    # One adjustment of a customer at a time (PostgreSQL row lock; SQLite writes one by one), so
    # a double submit finds the first posting before deciding whether it is new.
    db.session.execute(
        select(LedgerAccount.id).where(LedgerAccount.id == account.id).with_for_update()
    )
    key = f"adjust:{token}"
    posted_now = ledger.find_transaction(key) is None
    before = ledger.balance_fen(customer)
    try:
        transaction = ledger.post(
            "adjustment",
            [Line(account, signed), Line(ledger.account("platform_adjustments"), -signed)],
            key,
            actor_id=actor.id,
            memo=text,
        )
    except InsufficientFunds:
        raise ValidationFailed(
            _l(
                "The balance is %(balance)s: a debit cannot exceed it.", balance=format_yuan(before)
            ),
            "amount",
        ) from None
    balance = ledger.balance_fen(customer)
    if posted_now:
        notifications.notify(
            customer.id,
            notifications.BALANCE_ADJUSTED,
            WALLET_LINK,
            amount=format_fen(signed),
            reason=text,
        )
        audit.record(
            actor,
            "balance.adjust",
            "customer",
            customer.id,
            {"balance_fen": before},
            {"balance_fen": balance, "amount_fen": signed, "transaction_id": transaction.id},
            text,
        )
    return Adjusted(transaction, signed, balance, posted_now)
