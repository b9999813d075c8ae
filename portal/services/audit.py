"""Recording staff actions in the audit log, and searching it."""

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import AuditEntry, User
from portal.services.rate_cards import BUSINESS_ZONE

PER_PAGE = 50
MAX_QUERY = 60


def record(
    actor: User,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEntry:
    """Write one audit entry in the caller's transaction (flushed, not committed)."""
    entry = AuditEntry(
        actor_id=actor.id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        reason=reason,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass(frozen=True)
class AuditQuery:
    """Words to find in the action, entity or actor's login; days inclusive, in Beijing time."""

    q: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    page: int
    pages: int
    total: int


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, BUSINESS_ZONE)


def search(query: AuditQuery) -> AuditPage:
    """One page of matching entries, newest first, with their actors loaded."""
    conditions = []
    if query.q:
        actors = select(User.id).where(
            or_(User.phone.contains(query.q, autoescape=True), User.email.icontains(query.q))
        )
        conditions.append(
            or_(
                AuditEntry.action.icontains(query.q, autoescape=True),
                AuditEntry.entity_type.icontains(query.q, autoescape=True),
                AuditEntry.entity_id.icontains(query.q, autoescape=True),
                AuditEntry.actor_id.in_(actors),
            )
        )
    if query.since:
        conditions.append(AuditEntry.created_at >= _start_of(query.since))
    if query.until:
        conditions.append(AuditEntry.created_at < _start_of(query.until + timedelta(days=1)))
    total = db.session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(query.page, 1), pages)
    entries = db.session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .options(selectinload(AuditEntry.actor))
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    return AuditPage(list(entries), page, pages, total)
