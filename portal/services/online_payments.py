"""Online recharge through the payment gateway: the notification that credits a recharge, and
reconciling recharges whose notification never came by asking the gateway.

The browser's return page proves nothing; only a verified notification or a verified query
answer credits, and both go through recharges.credit_online, which credits once.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.gateways.alipay import AlipayClient, ForgedNotification, GatewayError
from portal.gateways.config import gateway_client
from portal.models import Recharge, User
from portal.services import audit, recharges
from portal.services.recharges import NotificationRefused

RECONCILE_WINDOW = timedelta(days=3)
MAX_RECONCILE = 200
DETAIL_FIELDS = ("app_id", "out_trade_no", "trade_no", "total_amount", "trade_status")


@dataclass(frozen=True)
class NotificationOutcome:
    """Whether to acknowledge the gateway, and whether this notification credited anything."""

    acknowledged: bool
    credited: bool = False
    reason: str = ""


@dataclass
class ReconcileSummary:
    checked: int = 0
    credited: int = 0
    unpaid: int = 0
    failed: int = 0
    credited_numbers: list[str] = field(default_factory=list)


def _printable(value: object, limit: int = 64) -> str:
    text = value if isinstance(value, str) else ""
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def _refuse(kind: str, reason: str, form: Mapping[str, str], remote_addr: str) -> None:
    detail = {"reason": _printable(reason, 200)}
    detail.update({name: _printable(form.get(name)) for name in DETAIL_FIELDS if form.get(name)})
    recharges.record_security_event(kind, detail, _printable(remote_addr, 45))


def _credit(recharge_no: str, trade_no: str, amount_fen: int) -> bool:
    """credit_online in a savepoint, so a refusal leaves the transaction usable."""
    try:
        with db.session.begin_nested():
            _recharge, credited = recharges.credit_online(recharge_no, trade_no, amount_fen)
    except IntegrityError:
        raise NotificationRefused("trade number already used by another recharge") from None
    return credited


def receive_notification(
    form: Mapping[str, str],
    remote_addr: str = "",
    client: AlipayClient | None = None,
    now: datetime | None = None,
) -> NotificationOutcome:
    """Verify a gateway notification and credit its recharge once; a forged or refused one is
    recorded as a security event and not acknowledged."""
    client = client or gateway_client()
    try:
        notification = client.verify_notification(form, now)
    except ForgedNotification as forged:
        _refuse("payment_notification_forged", forged.reason, form, remote_addr)
        return NotificationOutcome(False, reason=forged.reason)
    if not notification.paid:
        return NotificationOutcome(True, reason=f"not paid: {notification.trade_status}")
    try:
        credited = _credit(
            notification.out_trade_no, notification.trade_no, notification.amount_fen
        )
    except NotificationRefused as refused:
        reason = str(refused.message)
        _refuse("payment_notification_refused", reason, form, remote_addr)
        return NotificationOutcome(False, reason=reason)
    return NotificationOutcome(True, credited=credited)


def _pending(older_than: timedelta, now: datetime) -> list[Recharge]:
    return list(
        db.session.scalars(
            select(Recharge)
            .where(
                Recharge.method == "online",
                Recharge.status == "created",
                Recharge.created_at > now - RECONCILE_WINDOW,
                Recharge.created_at <= now - older_than,
            )
            .order_by(Recharge.id)
            .limit(MAX_RECONCILE)
        )
    )


def reconcile_pending(
    actor: User | None = None,
    older_than: timedelta = timedelta(minutes=5),
    client: AlipayClient | None = None,
    now: datetime | None = None,
) -> ReconcileSummary:
    """Ask the gateway about every online recharge still waiting (younger than 3 days, older
    than `older_than`) and credit those it reports paid with the same amount, once.

    A batch job, so it commits: the gateway is asked outside any database transaction (a slow
    gateway must not hold the write lock that notifications and payments wait for) and each
    credit is committed on its own. The caller commits the audit entry.
    """
    client = client or gateway_client()
    now = now or datetime.now(UTC)
    summary = ReconcileSummary()
    numbers = [recharge.recharge_no for recharge in _pending(older_than, now)]
    db.session.commit()
    for number in numbers:
        summary.checked += 1
        try:
            trade = client.query(number, now)
        except GatewayError:
            summary.failed += 1
            continue
        if trade is None or not trade.paid:
            summary.unpaid += 1
            continue
        try:
            credited = _credit(number, trade.trade_no, trade.amount_fen)
        except NotificationRefused as refused:
            summary.failed += 1
            answer = {"out_trade_no": number, "trade_no": trade.trade_no}
            _refuse("payment_query_refused", str(refused.message), answer, "")
            credited = False
        db.session.commit()
        if credited:
            summary.credited += 1
            summary.credited_numbers.append(number)
    if actor is not None:
        audit.record(actor, "recharge.reconcile", "recharge", "online", None, asdict(summary))
    return summary


def online_recharge(customer: User, recharge_no: str) -> Recharge:
    """One of the customer's online recharges by its number; RechargeNotFound otherwise."""
    recharge = db.session.scalar(
        select(Recharge).where(
            Recharge.recharge_no == recharge_no,
            Recharge.customer_id == customer.id,
            Recharge.method == "online",
        )
    )
    if recharge is None:
        raise recharges.RechargeNotFound(_l("No such recharge."))
    return recharge
