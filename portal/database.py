"""Engine settings for SQLite (embedded default) and PostgreSQL (production).

SQLite: WAL, foreign keys on every connection, a busy timeout, and write transactions opened
with BEGIN IMMEDIATE so that two writers queue instead of failing with "database is locked"
when a read lock is upgraded. Requests with a safe method (GET, HEAD, OPTIONS) open deferred
transactions so readers never wait for writers.
PostgreSQL: a connection idle in the pool for a while is pinged before use (a restarted
server's dead connections are replaced, not handed to a request), and statement/lock timeouts
make a stuck query fail fast.
"""

import contextvars
import functools
import os
import time
from collections.abc import Callable

from flask import Flask, request
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url

_read_only = contextvars.ContextVar("sqlite_read_only", default=False)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A connection back in the pool for longer than this is pinged before it is handed out; one
# returned more recently was working a moment ago (pinging every checkout costs a busy worker
# a round trip per request).
PING_AFTER_IDLE_SECONDS = 5.0


def engine_options(app: Flask) -> dict:
    """Engine keyword arguments for the configured database URL."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.get_backend_name() == "sqlite":
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
    elif url.get_backend_name() == "postgresql":
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault(
            "options",
            f"-c statement_timeout={app.config['PG_STATEMENT_TIMEOUT_MS']}"
            f" -c lock_timeout={app.config['PG_LOCK_TIMEOUT_MS']}"
            " -c timezone=UTC",
        )
    return options


def resolve_database_uri(app: Flask) -> None:
    """Default to portal.sqlite3 in the instance folder; accept postgres:// URLs from hosts."""
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        os.makedirs(app.instance_path, exist_ok=True)
        uri = "sqlite:///" + os.path.join(app.instance_path, "portal.sqlite3")
    if uri.startswith("postgres://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgres://")
    elif uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri


def install_idle_ping(engine: Engine) -> None:
    """On PostgreSQL, ping a connection that has been idle in the pool before using it; a dead
    one is replaced (the pool retries when a checkout raises DisconnectionError)."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "checkin")
    def _note_return(_dbapi_connection, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        returned_at = record.info.get("returned_at")
        if returned_at is not None and time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError() from error


def install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    """Set the pragmas on every new connection and take over BEGIN from the driver."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # e.g. a migration's autocommit block, which must stay outside a transaction
        connection.exec_driver_sql("BEGIN" if _read_only.get() else "BEGIN IMMEDIATE")


def writes(view: Callable) -> Callable:
    """For a GET view that writes (the WeChat login callback): on SQLite its transaction opens
    with BEGIN IMMEDIATE like a POST's, so a parallel write makes it wait instead of failing
    with "database is locked". The view must be the first to touch the database."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        _read_only.set(False)
        return view(*args, **kwargs)

    return wrapper


def mark_request_read_only(app: Flask) -> None:
    """Open deferred (read) transactions for safe-method requests, immediate ones otherwise."""

    @app.before_request
    def _set_intent():
        _read_only.set(request.method in SAFE_METHODS)

    @app.teardown_request
    def _reset_intent(_exc):
        _read_only.set(False)
