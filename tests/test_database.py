"""Writers queue instead of failing, readers never wait, and times come back in UTC."""

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from portal import database
from portal.extensions import db
from portal.models import User, Warehouse
from portal.services import accounts
from portal.services.errors import ValidationFailed
from tests.conftest import make_app, run_together
from tests.helpers import login


def test_twenty_parallel_registrations_of_one_number_make_one_account(app):
    def register(i):
        user = accounts.register_customer("13800138090", f"passphrase number {i}")
        db.session.commit()
        return user.id

    results = run_together(app, 20, register)
    created = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, ValidationFailed)]
    assert len(created) == 1, results
    assert len(refused) == 19, results
    assert all(r.field == "identifier" for r in refused)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_parallel_registrations_get_distinct_customer_codes(app):
    def register(i):
        user = accounts.register_customer(f"1380013{i:04d}", "a long enough passphrase")
        db.session.commit()
        return user.customer_code

    codes = run_together(app, 20, register)
    assert all(isinstance(c, str) for c in codes), codes
    assert len(set(codes)) == 20


def test_a_page_is_served_while_another_connection_holds_the_write_lock(sqlite_url, tmp_path):
    app = make_app(sqlite_url)
    client = app.test_client()
    with app.app_context():
        user_id = accounts.register_customer("13800138091", "a long enough passphrase").id
        db.session.commit()
        account = SimpleNamespace(identifier="13800138091", password="a long enough passphrase")
    login(client, account)
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = datetime.now(UTC)
        response = client.get("/")
        assert response.status_code == 200
        assert datetime.now(UTC) - started < timedelta(seconds=2)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with app.app_context():
        db.session.delete(db.session.get(User, user_id))
        db.session.commit()
        db.engine.dispose()


def test_timestamps_are_stored_and_returned_in_utc(app):
    shanghai = timezone(timedelta(hours=8))
    with app.app_context():
        warehouse = Warehouse(
            name="时区仓",
            contact_name="x",
            phone="1",
            region="r",
            address_line="a",
            postcode="1",
            created_at=datetime(2026, 11, 22, 9, 30, tzinfo=shanghai),
        )
        db.session.add(warehouse)
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(Warehouse, warehouse.id).created_at
        assert stored == datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
        assert stored.tzinfo is not None


def test_naive_datetimes_are_refused(app):
    with app.app_context():
        db.session.add(
            Warehouse(
                name="n",
                contact_name="x",
                phone="1",
                region="r",
                address_line="a",
                postcode="1",
                created_at=datetime(2026, 1, 1),
            )
        )
        with pytest.raises(Exception, match="naive datetime"):
            db.session.flush()
        db.session.rollback()


def _backend_pid(app) -> int:
    with app.app_context():
        pid = db.session.scalar(select(func.pg_backend_pid()))
        db.session.rollback()
        db.session.remove()
        return pid


def _terminate(url: str, pid: int) -> None:
    """End a backend from a connection of its own, as a server restart would."""
    other = create_engine(url, poolclass=NullPool)
    with other.connect() as connection:
        assert connection.scalar(select(func.pg_terminate_backend(pid)))
    other.dispose()


def test_a_connection_idle_in_the_pool_is_pinged_and_a_dead_one_replaced(
    postgresql_url, monkeypatch
):
    app = make_app(postgresql_url)
    dead = _backend_pid(app)
    _terminate(postgresql_url, dead)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # every connection is "idle"
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) >= 0  # no error: replaced
        assert db.session.scalar(select(func.pg_backend_pid())) != dead
        db.session.remove()
        db.engine.dispose()


def test_a_connection_just_returned_to_the_pool_is_not_pinged(postgresql_url, monkeypatch):
    app = make_app(postgresql_url)
    with app.app_context():
        pings = []
        real_ping = db.engine.dialect.do_ping
        monkeypatch.setattr(
            db.engine.dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn)
        )
    first = _backend_pid(app)  # a new connection: never returned, so pinged
    assert pings == [1]
    assert _backend_pid(app) == first  # the same connection, returned a moment ago
    assert pings == [1]
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _backend_pid(app) == first
    assert pings == [1, 1]
    with app.app_context():
        db.engine.dispose()


def test_a_dead_connection_used_without_a_ping_fails_with_the_servers_error(
    postgresql_url, monkeypatch
):
    app = make_app(postgresql_url)
    _terminate(postgresql_url, _backend_pid(app))
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 1e9)  # returned just now: no ping
    with app.app_context():
        with pytest.raises(OperationalError, match="terminating connection"):
            db.session.scalar(select(func.pg_backend_pid()))
        db.session.remove()  # the page-cache counters' rollback hook must not fail here
        assert db.session.scalar(select(func.count(User.id))) >= 0  # the pool reconnected
        db.session.remove()
        db.engine.dispose()
