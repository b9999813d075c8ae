"""What the customer's parcel list reads: tab counts, search, the free-storage countdown and
one page of parcels with the order each is bound to."""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from portal.cached_blocks import columns_of
from portal.extensions import db
from portal.models import PARCEL_STATES, Order, OrderParcel, Parcel, User
from portal.models import base as model_base
from portal.services import couriers
from portal.services.parcels import UNBOUND_STATES, any_order_link

PER_PAGE = 20
MAX_SEARCH = 100
_SEARCHABLE_NUMBER = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class StorageClock:
    """The free-storage countdown of a parcel in stock."""

    days_left: int
    warning_days: int

    @property
    def overdue(self) -> bool:
        return self.days_left <= 0

    @property
    def overdue_days(self) -> int:
        return 1 - self.days_left

    @property
    def expiring(self) -> bool:
        return 0 < self.days_left <= self.warning_days


def storage_settings() -> tuple[int, int]:
    """(free storage days, warning days) from the configuration."""
    config = current_app.config
    return int(config["FREE_STORAGE_DAYS"]), int(config["STORAGE_WARNING_DAYS"])


def storage_clock(
    received_at: datetime, now: datetime, free_days: int, warning_days: int
) -> StorageClock:
    """Days of free storage left: free_days minus the whole days (24 h) since it was received.

    Day 1 is the day of receipt: received 29.5 days ago leaves 1 day; 30 days ago, it is overdue.
    """
    elapsed = max((now - received_at) // timedelta(days=1), 0)
    return StorageClock(free_days - elapsed, warning_days)


def _expiring_cutoff(now: datetime) -> datetime:
    """Parcels received at or before this moment have at most the warning days left."""
    free_days, warning_days = storage_settings()
    return now - timedelta(days=free_days - warning_days)


def search_filters(q: str) -> list:
    """Conditions matching the customer's search in the tracking number or the contents."""
    if not q:
        return []
    conditions = [Parcel.contents.icontains(q, autoescape=True)]
    number = couriers.normalise_tracking_no(q).upper()
    if _SEARCHABLE_NUMBER.fullmatch(number):
        conditions.append(Parcel.tracking_no.contains(number, autoescape=True))
    return [or_(*conditions)]


def count_by_status(customer: User, q: str = "") -> dict[str, int]:
    """How many parcels the customer has in each state (matching the search), in one query."""
    counts = dict.fromkeys(PARCEL_STATES, 0)
    rows = db.session.execute(
        select(Parcel.status, func.count())
        .where(Parcel.customer_id == customer.id, *search_filters(q))
        .group_by(Parcel.status)
    )
    counts.update({status: n for status, n in rows})
    return counts


def count_expiring(customer: User, q: str = "") -> int:
    """How many of the customer's received parcels have at most the warning days left (or none)."""
    return db.session.scalar(
        select(func.count())
        .select_from(Parcel)
        .where(
            Parcel.customer_id == customer.id,
            Parcel.status == "received",
            Parcel.received_at <= _expiring_cutoff(model_base.utcnow()),
            *search_filters(q),
        )
    )


@dataclass(frozen=True)
class ParcelQuery:
    """What the parcel list shows: a tab, a search, the "storage ending" filter, a page."""

    status: str = "expected"
    q: str = ""
    expiring: bool = False
    page: int = 1


@dataclass(frozen=True)
class ParcelRow:
    parcel: Parcel
    order_no: str | None
    clock: StorageClock | None
    # Was in an order (cancelled since): kept as that order's record, so it cannot be deleted.
    had_order: bool = False

    @property
    def bound(self) -> bool:
        return self.order_no is not None or self.parcel.status not in UNBOUND_STATES

    @property
    def deletable(self) -> bool:
        return not self.bound and not self.had_order

    def cache_key(self) -> tuple:
        """Everything the parcel's card shows, for `{% cached %}` (portal/cached_blocks.py)."""
        photos = tuple(photo.id for photo in self.parcel.photos)
        return (columns_of(self.parcel), photos, self.order_no, self.had_order, self.clock)


@dataclass(frozen=True)
class ParcelList:
    query: ParcelQuery
    counts: dict[str, int]
    expiring_count: int | None
    rows: list[ParcelRow]
    page: int
    pages: int
    total: int
    # The next moment the page would read differently with nothing written: a storage day ends.
    changes_at: datetime | None = None


def list_parcels(customer: User, query: ParcelQuery, per_page: int = PER_PAGE) -> ParcelList:
    """One page of the customer's parcels in a tab, newest first, with the tab counts.

    A fixed number of queries whatever the page holds: the grouped counts, the "storage ending"
    count on the received tab, the page (with the live order number joined) and its photos.
    """
    status = query.status if query.status in PARCEL_STATES else "expected"
    expiring = query.expiring and status == "received"
    now = model_base.utcnow()
    counts = count_by_status(customer, query.q)
    expiring_count = count_expiring(customer, query.q) if status == "received" else None
    total = expiring_count if expiring else counts[status]
    pages = max(1, math.ceil(total / per_page))
    page = min(max(query.page, 1), pages)

    statement = (
        select(Parcel, Order.order_no, any_order_link())
        .outerjoin(
            OrderParcel,
            and_(OrderParcel.parcel_id == Parcel.id, OrderParcel.released_at.is_(None)),
        )
        .outerjoin(Order, Order.id == OrderParcel.order_id)
        .where(Parcel.customer_id == customer.id, Parcel.status == status, *search_filters(query.q))
        .options(selectinload(Parcel.photos))
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    if expiring:
        statement = statement.where(Parcel.received_at <= _expiring_cutoff(now)).order_by(
            Parcel.received_at, Parcel.id
        )
    else:
        statement = statement.order_by(Parcel.created_at.desc(), Parcel.id.desc())

    free_days, warning_days = storage_settings()
    rows = []
    for parcel, order_no, had_order in db.session.execute(statement):
        clock = None
        if parcel.status == "received" and parcel.received_at is not None:
            clock = storage_clock(parcel.received_at, now, free_days, warning_days)
        rows.append(ParcelRow(parcel, order_no, clock, bool(had_order)))
    ticks = [_next_storage_day(row.parcel.received_at, now) for row in rows if row.clock]
    if status == "received":
        ticks.append(_next_expiring(customer, query.q, now))
    return ParcelList(
        query=ParcelQuery(status, query.q, expiring, page),
        counts=counts,
        expiring_count=expiring_count,
        rows=rows,
        page=page,
        pages=pages,
        total=total,
        changes_at=min((t for t in ticks if t is not None), default=None),
    )


def _next_storage_day(received_at: datetime, now: datetime) -> datetime:
    """When the parcel's storage clock next loses a day."""
    elapsed = max((now - received_at) // timedelta(days=1), 0)
    return received_at + timedelta(days=elapsed + 1)


def _next_expiring(customer: User, q: str, now: datetime) -> datetime | None:
    """When the next received parcel joins the "storage ending" count."""
    first = db.session.scalar(
        select(func.min(Parcel.received_at)).where(
            Parcel.customer_id == customer.id,
            Parcel.status == "received",
            Parcel.received_at > _expiring_cutoff(now),
            *search_filters(q),
        )
    )
    if first is None:
        return None
    free_days, warning_days = storage_settings()
    return first + timedelta(days=free_days - warning_days)
