"""Declarative base, naming convention and column types shared by every model."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The largest id an INTEGER column holds: a bigger one names nothing (and PostgreSQL would raise
# an error comparing it), so services treat it as "not found".
MAX_ID = 2**31 - 1


def is_id(value: int) -> bool:
    """Whether an integer can be a row id (1 to MAX_ID)."""
    return 0 < value <= MAX_ID


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (tests monkeypatch this for clocks)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    PostgreSQL keeps the zone (timestamptz); SQLite has none, so values are stored as naive UTC.
    Naive datetimes are refused so that local times can never be stored by mistake.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use portal.models.base.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The SQL of a CHECK that a column holds one of the given strings."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
