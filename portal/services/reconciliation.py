"""The daily reconciliation (日对账) of one Beijing day: recharges by method from the recharge
table, payments, refunds and adjustments from the ledger, the ledger's own totals by kind as a
cross-check, and the day's security events. Every figure is a grouped SQL query over one day."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from portal.extensions import db
from portal.models import LedgerAccount, LedgerEntry, LedgerTransaction, Recharge, SecurityEvent
from portal.models.ledger import CUSTOMER_ACCOUNT_KINDS, TRANSACTION_KINDS
from portal.models.recharge import RECHARGE_METHODS
from portal.services.errors import ValidationFailed
from portal.services.ops_dashboard import beijing_today, start_of

DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_YEAR, LAST_YEAR = 2000, 2999
LATEST_EVENTS = 5


@dataclass(frozen=True)
class MethodLine:
    """Recharges of one method: credited that day (count, sum), submitted and rejected that day."""

    method: str
    credited: int = 0
    credited_fen: int = 0
    submitted: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class KindLine:
    """Ledger transactions of one kind that day, by their net effect on customers' money."""

    kind: str
    count: int = 0
    credits: int = 0
    credit_fen: int = 0
    debits: int = 0
    debit_fen: int = 0


@dataclass(frozen=True)
class DayReport:
    day: date
    methods: list[MethodLine]
    ledger: dict[str, KindLine]
    security_events: int
    latest_events: list[SecurityEvent]

    @property
    def recharged(self) -> MethodLine:
        """All methods together."""
        return MethodLine(
            "all",
            sum(m.credited for m in self.methods),
            sum(m.credited_fen for m in self.methods),
            sum(m.submitted for m in self.methods),
            sum(m.rejected for m in self.methods),
        )

    @property
    def recharges_match(self) -> bool:
        """Whether the recharge table and the ledger agree on the day's recharge credits."""
        ledger = self.ledger["recharge"]
        total = self.recharged
        return (ledger.count, ledger.credit_fen) == (total.credited, total.credited_fen)


def parse_day(raw: str | None) -> date:
    """A day written YYYY-MM-DD (today in Beijing when empty); raises ValidationFailed ("day")."""
    text = (raw or "").strip()
    if not text:
        return beijing_today()
    try:
        day = date.fromisoformat(text) if DAY.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValidationFailed(_l("Enter a date as YYYY-MM-DD."), "day")
    return day


def _within(column, day: date):
    return and_(column >= start_of(day), column < start_of(day + timedelta(days=1)))


def _recharges(day: date) -> list[MethodLine]:
    credited = _within(Recharge.credited_at, day)
    submitted = _within(Recharge.created_at, day)
    rejected = and_(Recharge.status == "rejected", _within(Recharge.reviewed_at, day))
    rows = db.session.execute(
        select(
            Recharge.method,
            func.count().filter(credited),
            func.sum(case((credited, Recharge.amount_fen), else_=0)),
            func.count().filter(submitted),
            func.count().filter(rejected),
        )
        .where(or_(credited, submitted, rejected))
        .group_by(Recharge.method)
    ).all()
    found = {row[0]: MethodLine(row[0], *(int(v or 0) for v in row[1:])) for row in rows}
    return [found.get(method, MethodLine(method)) for method in RECHARGE_METHODS]


def _ledger(day: date) -> dict[str, KindLine]:
    """Per kind: each transaction's net on customer accounts, then counted and summed."""
    net = (
        select(
            LedgerTransaction.kind.label("kind"),
            func.sum(LedgerEntry.amount_fen).label("net"),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(
            LedgerAccount.kind.in_(CUSTOMER_ACCOUNT_KINDS),
            _within(LedgerTransaction.created_at, day),
        )
        .group_by(LedgerTransaction.id, LedgerTransaction.kind)
        .subquery()
    )
    rows = db.session.execute(
        select(
            net.c.kind,
            func.count(),
            func.count().filter(net.c.net > 0),
            func.sum(case((net.c.net > 0, net.c.net), else_=0)),
            func.count().filter(net.c.net < 0),
            func.sum(case((net.c.net < 0, -net.c.net), else_=0)),
        ).group_by(net.c.kind)
    ).all()
    found = {row[0]: KindLine(row[0], *(int(v or 0) for v in row[1:])) for row in rows}
    return {kind: found.get(kind, KindLine(kind)) for kind in TRANSACTION_KINDS}


def day_report(day: date) -> DayReport:
    """Everything finance reconciles for one Beijing day, in four queries."""
    in_day = _within(SecurityEvent.created_at, day)
    events = db.session.scalar(select(func.count()).select_from(SecurityEvent).where(in_day))
    latest = db.session.scalars(
        select(SecurityEvent)
        .where(in_day)
        .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
        .limit(LATEST_EVENTS)
    )
    return DayReport(day, _recharges(day), _ledger(day), events, list(latest))
