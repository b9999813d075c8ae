"""The staff to-do dashboard: queue counts and daily trends by Beijing day, counted in SQL.

Each count and each series is one indexed query (by status, or over a time range); rows are
never loaded into Python, so the dashboard stays cheap with millions of parcels and orders.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Date, and_, cast, exists, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from portal.extensions import db
from portal.models import (
    Order,
    OrderEvent,
    OrderParcel,
    Parcel,
    ParcelClaim,
    Recharge,
    UnclaimedParcel,
    utcnow,
)
from portal.services.rate_cards import BUSINESS_ZONE

PERIODS = (7, 30)
QUEUE_ORDER_STATES = ("awaiting_payment", "paid", "shipped")


@dataclass(frozen=True)
class Counts:
    parcels_expected: int
    received_today: int
    unclaimed: int
    pending_claims: int
    ready_to_pack: int
    awaiting_payment: int
    paid: int
    shipped: int
    pending_recharges: int


@dataclass(frozen=True)
class Trends:
    """One value per Beijing day, oldest first, zero days included."""

    days: int
    orders_placed: list[tuple[date, int]]
    parcels_received: list[tuple[date, int]]
    revenue_fen: list[tuple[date, int]]


def beijing_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(BUSINESS_ZONE).date()


def start_of(day: date) -> datetime:
    """The instant a Beijing day starts (timezone-aware)."""
    return datetime.combine(day, time.min, BUSINESS_ZONE)


def beijing_day(column) -> ColumnElement:
    """The Beijing calendar day of a UTC timestamp column, in SQL (SQLite or PostgreSQL).

    SQLite stores naive UTC text, so the day is date(value, '+8 hours') (China has no summer
    time); PostgreSQL converts the timestamptz with timezone(). The zone is a literal, not a
    bound parameter, so the same expression can be repeated in GROUP BY.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        return func.date(column, literal_column("'+8 hours'"))
    return cast(func.timezone(literal_column("'Asia/Shanghai'"), column), Date)


def _count(model, *where) -> ColumnElement:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


def counts(now: datetime | None = None) -> Counts:
    """Every queue's size, in one statement of indexed counts."""
    today = beijing_today(now)
    waiting_parcel = exists().where(
        OrderParcel.order_id == Order.id,
        OrderParcel.released_at.is_(None),
        OrderParcel.parcel_id == Parcel.id,
        Parcel.received_at.is_(None),
    )
    row = db.session.execute(
        select(
            _count(Parcel, Parcel.status == "expected"),
            _count(
                Parcel,
                Parcel.status == "received",
                Parcel.received_at >= start_of(today),
                Parcel.received_at < start_of(today + timedelta(days=1)),
            ),
            _count(UnclaimedParcel, UnclaimedParcel.status == "unclaimed"),
            _count(ParcelClaim, ParcelClaim.status == "pending"),
            _count(Order, and_(Order.status == "pending_pack", ~waiting_parcel)),
            *(_count(Order, Order.status == status) for status in QUEUE_ORDER_STATES),
            _count(Recharge, Recharge.status == "submitted"),
        )
    ).one()
    return Counts(*row)


def _per_day(query, time_column, first: date, days: int) -> list[tuple[date, int]]:
    """(day, value) for each of `days` Beijing days from `first`, grouped in SQL.

    `query` selects the value; the day is added as the first column and grouped on.
    """
    day = beijing_day(time_column).label("day")
    rows = db.session.execute(
        query.add_columns(day)
        .where(
            time_column >= start_of(first),
            time_column < start_of(first + timedelta(days=days)),
        )
        .group_by(day)
    ).all()
    found = {(d if isinstance(d, date) else date.fromisoformat(d)): int(v or 0) for v, d in rows}
    return [
        (first + timedelta(days=i), found.get(first + timedelta(days=i), 0)) for i in range(days)
    ]


def trends(days: int, now: datetime | None = None) -> Trends:
    """Orders placed, parcels received and revenue (bills of orders paid) per day."""
    if days not in PERIODS:
        raise ValueError(f"unsupported period {days}")
    first = beijing_today(now) - timedelta(days=days - 1)
    return Trends(
        days=days,
        orders_placed=_per_day(
            select(func.count()).select_from(Order), Order.created_at, first, days
        ),
        parcels_received=_per_day(
            select(func.count()).select_from(Parcel), Parcel.received_at, first, days
        ),
        revenue_fen=_per_day(
            select(func.coalesce(func.sum(Order.bill_fen), 0))
            .select_from(OrderEvent)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(OrderEvent.to_status == "paid"),
            OrderEvent.created_at,
            first,
            days,
        ),
    )
