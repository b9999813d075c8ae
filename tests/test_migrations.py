"""Migrations: empty database to head, down to base and up again, with no drift from the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal.extensions import db
from portal.models import Base
from tests.conftest import make_app


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    server = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("PostgreSQL binaries are not installed")
    return server.create_database(f"migrations_{tmp_path.name[-20:].lower()}")


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def drift() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return compare_metadata(context, Base.metadata)


def test_upgrade_downgrade_upgrade_without_drift(empty_db_url):
    app = make_app(empty_db_url)
    with app.app_context():
        upgrade()
        assert table_names() == set(Base.metadata.tables)
        assert drift() == []
        downgrade(revision="base")
        assert table_names() == set()
        upgrade()
        assert drift() == []
        db.engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_url):
    app = make_app(sqlite_url)
    with app.app_context(), db.engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == app.config["SQLITE_BUSY_TIMEOUT_MS"]
    with app.app_context():
        db.engine.dispose()


def test_postgresql_connections_have_statement_and_lock_timeouts(postgresql_url):
    app = make_app(postgresql_url)
    with app.app_context(), db.engine.connect() as connection:
        show = connection.exec_driver_sql
        assert show("SHOW statement_timeout").scalar() == "15s"
        assert show("SHOW lock_timeout").scalar() == "5s"
        assert show("SHOW timezone").scalar() == "UTC"
    with app.app_context():
        db.engine.dispose()


LEDGER_ROWS = (
    "INSERT INTO ledger_accounts (id, code, kind, balance_fen, allow_negative, created_at)"
    " VALUES (1, 'platform:bank', 'platform_bank', -500, TRUE, CURRENT_TIMESTAMP),"
    " (2, 'platform:revenue', 'platform_revenue', 500, TRUE, CURRENT_TIMESTAMP)",
    "INSERT INTO ledger_transactions (id, kind, idempotency_key, memo, created_at)"
    " VALUES (1, 'adjustment', 'migration-test', '', CURRENT_TIMESTAMP)",
    "INSERT INTO ledger_entries (id, transaction_id, account_id, amount_fen, created_at)"
    " VALUES (1, 1, 1, -500, CURRENT_TIMESTAMP), (2, 1, 2, 500, CURRENT_TIMESTAMP)",
)


def test_new_ledger_kinds_migrate_over_existing_ledger_rows(empty_db_url):
    """0009 widens the kind CHECKs; SQLite rebuilds referenced tables, which must keep every row."""
    app = make_app(empty_db_url)
    with app.app_context():
        upgrade(revision="0008")
        with db.engine.begin() as connection:
            for sql in LEDGER_ROWS:
                connection.exec_driver_sql(sql)
        upgrade(revision="0009")
        downgrade(revision="0008")
        upgrade()
        with db.engine.begin() as connection:
            run = connection.exec_driver_sql
            assert run("SELECT SUM(amount_fen), COUNT(*) FROM ledger_entries").one() == (0, 2)
            run(
                "INSERT INTO ledger_accounts"
                " (id, code, kind, balance_fen, allow_negative, created_at)"
                " VALUES (3, 'platform:rebates', 'platform_rebates', 0, TRUE, CURRENT_TIMESTAMP)"
            )
            if db.engine.dialect.name == "sqlite":
                assert run("PRAGMA foreign_keys").scalar() == 1
                assert run("PRAGMA foreign_key_check").fetchall() == []
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE ledger_transactions SET memo = 'changed'")
        assert drift() == []
        db.engine.dispose()
