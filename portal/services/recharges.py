"""Recharging a customer's balance (充值): by bank transfer or QR scan with a receipt that finance
reviews, or online through a payment gateway whose verified notification credits it.

Each credit is one ledger transaction under the key `recharge:<id>`, posted in the same database
transaction as the compare-and-set that moves the recharge out of its waiting state, so two
reviewers, a double click or a notification replayed at once credit it exactly once.
"""

import logging
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.i18n import format_fen
from portal.models import Recharge, SecurityEvent, User, utcnow
from portal.services import audit, ledger, notifications
from portal.services.codes import random_code
from portal.services.errors import DomainError, ValidationFailed
from portal.services.images import StoredImage
from portal.services.ledger import Line
from portal.services.rate_cards import BUSINESS_ZONE

MAX_RECHARGE_FEN = 5_000_000  # ¥50,000 per recharge
MAX_REASON = 200
SECURITY_EVENTS_PER_MINUTE = 20
log = logging.getLogger(__name__)
WALLET_LINK = "/wallet/"
# Where the money lands on the platform's side, by method.
PLATFORM_ACCOUNTS = {
    "bank_transfer": "platform_bank",
    "qr": "platform_gateway",
    "online": "platform_gateway",
}


class RechargeNotFound(DomainError):
    """No such recharge (or not the asker's)."""


class AlreadyReviewed(DomainError):
    """The recharge was approved or rejected meanwhile; nothing was changed."""


class OwnRecharge(DomainError):
    """Staff may not decide on a recharge of their own account (separation of duties)."""


class NotificationRefused(DomainError):
    """A gateway notification that must not credit anything (unknown recharge, wrong amount)."""


def new_recharge_no(now: datetime | None = None) -> str:
    day = (now or utcnow()).astimezone(BUSINESS_ZONE)
    return f"CZ{day:%y%m%d}{random_code(8)}"


def get_recharge(recharge_id: int, customer: User | None = None) -> Recharge:
    """A recharge by id; with a customer, only one of theirs."""
    recharge = db.session.get(Recharge, recharge_id)
    if recharge is None or (customer is not None and recharge.customer_id != customer.id):
        raise RechargeNotFound(_l("No such recharge."))
    return recharge


def _existing(customer: User, submit_token: str) -> Recharge | None:
    return db.session.scalar(
        select(Recharge).where(
            Recharge.customer_id == customer.id, Recharge.submit_token == submit_token
        )
    )


def submit_for_review(
    customer: User,
    method: str,
    amount_fen: int,
    receipt: StoredImage,
    submit_token: str,
    *,
    payer_name: str = "",
    qr_channel: str = "",
    note: str = "",
) -> tuple[Recharge, bool]:
    """Record a bank-transfer or QR recharge with its receipt, waiting for finance (待审核).

    Returns the recharge and whether it is new: the same submit token (a double click, a
    resubmitted form) returns the first one, and the caller discards the second receipt.
    """
    if method not in ("bank_transfer", "qr"):
        raise ValueError(f"{method!r} recharges are not reviewed")
    if not 0 < amount_fen <= MAX_RECHARGE_FEN:
        raise ValidationFailed(_l("Enter an amount above 0."), "amount")
    found = _existing(customer, submit_token)
    if found is not None:
        return found, False
    recharge = Recharge(
        recharge_no=new_recharge_no(),
        customer_id=customer.id,
        method=method,
        status="submitted",
        amount_fen=amount_fen,
        payer_name=payer_name,
        qr_channel=qr_channel,
        receipt_key=receipt.image_key,
        receipt_thumb_key=receipt.thumb_key,
        note=note,
        submit_token=submit_token,
    )
    try:
        with db.session.begin_nested():
            db.session.add(recharge)
    except IntegrityError:
        found = _existing(customer, submit_token)
        if found is None:
            raise
        return found, False
    return recharge, True


def _credit(recharge: Recharge, actor_id: int | None, external_id: str | None = None) -> None:
    transaction = ledger.post(
        "recharge",
        [
            Line(ledger.account(PLATFORM_ACCOUNTS[recharge.method]), -recharge.amount_fen),
            Line(ledger.account("customer_balance", recharge.customer_id), recharge.amount_fen),
        ],
        f"recharge:{recharge.id}",
        external_id=external_id,
        actor_id=actor_id,
        memo=recharge.recharge_no,
    )
    recharge.transaction_id = transaction.id
    recharge.credited_at = transaction.created_at
    db.session.flush()


def _decide(recharge_id: int, status: str, actor: User, reason: str = "") -> Recharge:
    """Compare-and-set submitted -> status; raises AlreadyReviewed when someone was quicker."""
    moved = db.session.execute(
        update(Recharge)
        .where(Recharge.id == recharge_id, Recharge.status == "submitted")
        .values(status=status, reviewer_id=actor.id, reviewed_at=utcnow(), reject_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise AlreadyReviewed(_l("This recharge has already been reviewed; nothing was changed."))
    recharge = db.session.get(Recharge, recharge_id)
    db.session.refresh(recharge)
    return recharge


def _reviewable_by(actor: User, recharge_id: int) -> None:
    if get_recharge(recharge_id).customer_id == actor.id:
        raise OwnRecharge(_l("You cannot review your own recharge; ask a colleague."))


def approve(actor: User, recharge_id: int) -> Recharge:
    """Approve a reviewed recharge: the balance is credited once, the customer told, audited."""
    _reviewable_by(actor, recharge_id)
    recharge = _decide(recharge_id, "approved", actor)
    _credit(recharge, actor.id)
    notifications.notify(
        recharge.customer_id,
        notifications.RECHARGE_APPROVED,
        WALLET_LINK,
        recharge_no=recharge.recharge_no,
        amount=format_fen(recharge.amount_fen),
    )
    audit.record(
        actor,
        "recharge.approve",
        "recharge",
        recharge.recharge_no,
        {"status": "submitted"},
        {"status": "approved", "amount_fen": recharge.amount_fen},
    )
    return recharge


def reject(actor: User, recharge_id: int, reason: str) -> Recharge:
    """Reject a recharge with a reason the customer reads; nothing is credited."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed(_l("Say why the recharge is rejected."), "reason")
    if len(reason) > MAX_REASON or not reason.isprintable():
        raise ValidationFailed(_l("At most 200 characters, without control characters."), "reason")
    _reviewable_by(actor, recharge_id)
    recharge = _decide(recharge_id, "rejected", actor, reason)
    notifications.notify(
        recharge.customer_id,
        notifications.RECHARGE_REJECTED,
        WALLET_LINK,
        recharge_no=recharge.recharge_no,
        amount=format_fen(recharge.amount_fen),
        reason=reason,
    )
    audit.record(
        actor,
        "recharge.reject",
        "recharge",
        recharge.recharge_no,
        {"status": "submitted"},
        {"status": "rejected"},
        reason,
    )
    return recharge


def start_online(customer: User, amount_fen: int) -> Recharge:
    """An online recharge waiting for the gateway (created); only its notification credits it."""
    if not 0 < amount_fen <= MAX_RECHARGE_FEN:
        raise ValidationFailed(_l("Enter an amount above 0."), "amount")
    recharge = Recharge(
        recharge_no=new_recharge_no(),
        customer_id=customer.id,
        method="online",
        status="created",
        amount_fen=amount_fen,
    )
    db.session.add(recharge)
    db.session.flush()
    return recharge


def credit_online(recharge_no: str, trade_no: str, amount_fen: int) -> tuple[Recharge, bool]:
    """Credit an online recharge the gateway says was paid (its signature already verified).

    Returns the recharge and whether this call credited it: a replayed notification, or two at
    once, find it paid and credit nothing. Raises NotificationRefused for an unknown recharge,
    a different amount or a second gateway transaction for one recharge.
    """
    recharge = db.session.scalar(select(Recharge).where(Recharge.recharge_no == recharge_no))
    if recharge is None or recharge.method != "online":
        raise NotificationRefused("unknown recharge")
    if recharge.amount_fen != amount_fen:
        raise NotificationRefused("amount differs")
    moved = db.session.execute(
        update(Recharge)
        .where(Recharge.id == recharge.id, Recharge.status == "created")
        .values(status="paid", gateway_trade_no=trade_no)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(recharge)
    if moved.rowcount != 1:
        if recharge.status == "paid" and recharge.gateway_trade_no == trade_no:
            return recharge, False
        raise NotificationRefused("recharge already paid by another transaction")
    _credit(recharge, None, external_id=f"gateway:{trade_no}")
    notifications.notify(
        recharge.customer_id,
        notifications.RECHARGE_PAID,
        WALLET_LINK,
        recharge_no=recharge.recharge_no,
        amount=format_fen(recharge.amount_fen),
    )
    return recharge, True


def record_security_event(kind: str, detail: dict, remote_addr: str = "") -> bool:
    """Keep a trace of something that looked like an attack (in the caller's transaction).

    An address past SECURITY_EVENTS_PER_MINUTE is only logged, so a flood of forged requests
    cannot fill the table; returns whether the event was stored.
    """
    address = remote_addr[:45]
    recent = db.session.scalar(
        select(func.count())
        .select_from(SecurityEvent)
        .where(
            SecurityEvent.remote_addr == address,
            SecurityEvent.created_at >= utcnow() - timedelta(minutes=1),
        )
    )
    if recent >= SECURITY_EVENTS_PER_MINUTE:
        log.warning("security event %s from %s not stored (flood): %s", kind, address, detail)
        return False
    db.session.add(SecurityEvent(kind=kind, detail=detail, remote_addr=address))
    db.session.flush()
    return True
