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
