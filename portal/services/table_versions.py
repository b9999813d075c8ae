"""Write counters per table, bumped by the transaction that writes, just before it commits.

A cached page remembers the counters of the tables it read; when they are unchanged, nothing it
showed can have changed. Every INSERT, UPDATE and DELETE that goes through the engine is noted
on its connection (ORM flushes, bulk statements and text SQL alike); the session's commit then
adds one to the counter of each table written, in the same transaction, so a reader sees the
new rows and the new counter together. The counters are taken last and in name order, right
before COMMIT: a transaction holds them for no longer than its commit and waits for nothing
after taking them, so they cannot deadlock.

Writes made outside the app's sessions (a `psql` session, a restored backup) are not counted:
restart the app after such a change, and cached pages also expire after PAGE_CACHE_SECONDS.
"""

import re

from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portal.models import TableVersion

TABLE = TableVersion.__tablename__
WRITTEN = "portal_tables_written"
CONNECTION = "portal_connection"
READ_ALL = f"SELECT name, version FROM {TABLE}"  # noqa: S608 - our own table name
WRITE_SQL = re.compile(
    r"^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE
)


def install(engine: Engine) -> None:
    """Note the tables each connection writes, and forget them when its transaction ends."""

    @event.listens_for(engine, "after_cursor_execute")
    def _note_write(conn, _cursor, statement, _parameters, context, _executemany):
        name = _written_table(statement, context)
        if name is not None and name != TABLE:
            conn.info.setdefault(WRITTEN, set()).add(name)

    @event.listens_for(engine, "commit")
    def _committed(conn):
        conn.info.pop(WRITTEN, None)

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn):
        if not conn.invalidated:  # a lost connection takes its notes with it
            conn.info.pop(WRITTEN, None)

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record):
        record.info.pop(WRITTEN, None)


def _written_table(statement: str, context) -> str | None:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        table = getattr(getattr(context.compiled, "statement", None), "table", None)
        if table is not None and getattr(table, "name", None):
            return table.name
    match = WRITE_SQL.match(statement)
    return match.group(1).lower() if match else None


@event.listens_for(Session, "after_begin")
def _remember_connection(session: Session, _transaction, connection) -> None:
    session.info[CONNECTION] = connection


@event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    # Also called when a savepoint is released: count only the outermost commit.
    if session.get_nested_transaction() is not None:
        return
    session.flush()
    connection = session.info.pop(CONNECTION, None)
    written = connection.info.pop(WRITTEN, None) if connection is not None else None
    if written:
        bump(connection, sorted(written))


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(CONNECTION, None)


def bump(connection, names: list[str]) -> None:
    """Add one to each table's counter (creating it at 1): one statement, rows in the given
    order, which is the order PostgreSQL locks them in."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(TableVersion).values([{"name": name, "version": 1} for name in names])
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[TableVersion.name],
            set_={"version": TableVersion.version + 1},
        )
    )


def read(session: Session) -> dict[str, int]:
    """Every table's counter; a table never written has none (read it as 0)."""
    # Plain SQL: this runs on every cached page, and the compiled form costs twice the query.
    return dict(session.connection().exec_driver_sql(READ_ALL).all())
