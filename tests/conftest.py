"""Fixtures: an app on each database (SQLite and a private PostgreSQL server), clients, factories.

Every test that asks for `app` (or anything built on it) runs twice: once on SQLite, once on
PostgreSQL. The schema is built once per database by running the Alembic migrations; after
each test every table is emptied.
"""

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from portal import create_app, page_cache
from portal.cli import DEMO_RATE_CARD
from portal.extensions import db
from portal.models import (
    Address,
    Base,
    Order,
    OrderParcel,
    Parcel,
    User,
    UserRole,
    Warehouse,
    utcnow,
)
from portal.models.ledger import SQLITE_GUARDS
from portal.quote.fragment_cache import fragments
from portal.services import (
    accounts,
    ledger,
    rate_cards,
    session_users,
    site_settings,
    table_versions,
)
from portal.services.rate_sheets import import_rate_card
from tests.pg_server import PostgresServer, find_bindir

pytest_plugins = ["tests.finance_helpers"]

BACKENDS = ("sqlite", "postgresql")
DEFAULT_PASSWORD = "correct horse battery"
IN_CI = bool(os.environ.get("CI"))


def _terminal_warning(config, text_: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(text_, red=True, bold=True)


@pytest.fixture(scope="session")
def pg_server(pytestconfig):
    bindir = find_bindir()
    if bindir is None:
        message = (
            "NO POSTGRESQL BINARIES FOUND (pg_ctl): the PostgreSQL half of the suite is SKIPPED. "
            "Install the Debian package 'postgresql' to run it."
        )
        if IN_CI:
            pytest.fail(message + " CI must run both databases.")
        _terminal_warning(pytestconfig, message)
        yield None
        return
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


def make_app(url: str, **overrides):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, **overrides}, testing=True)


def migrate_to_head(url: str) -> None:
    app = make_app(url)
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "portal.sqlite3"
    url = f"sqlite:///{path}"
    migrate_to_head(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url(pg_server):
    if pg_server is None:
        pytest.skip("PostgreSQL binaries are not installed")
    url = pg_server.create_database("portal_test")
    migrate_to_head(url)
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request):
    return request.getfixturevalue(f"{request.param}_url")


def _empty_postgresql_tables(tables: list[str]) -> None:
    """Delete the rows of the tables a test filled (one probe finds them), children first, with
    triggers off for the wipe (the ledger's append-only guards; foreign keys are checked by
    triggers too); then every sequence a test used starts again at 1. TRUNCATE would cost about
    2 ms a table, and CASCADE from users reaches nearly every table."""
    probe = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})"  # noqa: S608 (our own names)
        for name in tables
    )
    filled = set(db.session.scalars(text(probe)))
    if filled:
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        for name in tables:
            if name in filled:
                db.session.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (our own names)
    used = db.session.scalars(
        text("SELECT sequencename FROM pg_sequences WHERE last_value IS NOT NULL")
    )
    for sequence in list(used):
        db.session.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


def empty_all_tables() -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        _empty_postgresql_tables(tables)
    else:
        # The ledger's append-only guards would refuse the DELETE: lifted for the wipe only.
        for name in SQLITE_GUARDS:
            db.session.execute(text(f"DROP TRIGGER {name}"))
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))  # noqa: S608 (our own table names)
        for create in SQLITE_GUARDS.values():
            db.session.execute(text(create))
    # The wipe is not a write the page cache should count: the next test starts at version 0.
    db.session.connection().info.pop(table_versions.WRITTEN, None)
    db.session.commit()


def forget_rate_cards() -> None:
    """Rate cards, quote fragments, site settings and pages are cached per process; each test
    starts without them."""
    rate_cards.clear_caches()
    fragments.clear()
    site_settings.clear_cache()
    for app, _config in _APPS.values():
        page_cache.cache_of(app).clear()
        session_users.clear(app)


# One app per database per test process, reused by every test: building an app compiles every
# URL rule and, on first use, every template (about 0.2 s a test). Each test still starts with
# empty tables, the app's first configuration and a fresh gateway-simulator file.
_APPS: dict[str, tuple[Flask, dict]] = {}


def shared_app(db_url: str) -> Flask:
    if db_url not in _APPS:
        app = make_app(db_url)
        _APPS[db_url] = (app, dict(app.config))
    return _APPS[db_url][0]


def reset_app(app: Flask, db_url: str) -> None:
    app.config.clear()
    app.config.update(_APPS[db_url][1])
    simulator = app.config["GATEWAY_SIMULATOR_DB"]
    for suffix in ("", "-wal", "-shm"):
        Path(simulator + suffix).unlink(missing_ok=True)


@pytest.fixture
def app(db_url):
    app = shared_app(db_url)
    forget_rate_cards()
    with app.app_context():
        site_settings.cached()  # read now, so the test's first request costs what later ones do
    yield app
    with app.app_context():
        db.session.remove()
        empty_all_tables()
    reset_app(app, db_url)
    forget_rate_cards()


@pytest.fixture(autouse=True)
def ledger_stays_sound(request):
    """After every test that used a database, the ledger's invariants hold (reliability guide):
    transactions sum to zero, cached balances equal their entries, no wallet below zero."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")  # set up first, so it is torn down after this check
    yield
    with app.app_context():
        problems = ledger.invariant_problems()
        db.session.remove()
    assert not problems, problems


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def backend(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


@dataclass(frozen=True)
class Account:
    id: int
    identifier: str
    password: str
    customer_code: str
    invite_code: str


@pytest.fixture
def make_customer(app) -> Callable[..., Account]:
    serial = iter(range(1, 10_000))

    def make(identifier: str | None = None, password: str = DEFAULT_PASSWORD, **attrs) -> Account:
        identifier = identifier or f"1391234{next(serial):04d}"
        with app.app_context():
            user = accounts.register_customer(identifier, password, attrs.pop("invite_code", ""))
            for name, value in attrs.items():
                setattr(user, name, value)
            db.session.commit()
            return Account(user.id, identifier, password, user.customer_code, user.invite_code)

    return make


@pytest.fixture
def make_staff(app, make_customer) -> Callable[..., Account]:
    def make(*roles: str, identifier: str | None = None) -> Account:
        account = make_customer(identifier)
        with app.app_context():
            user = db.session.get(User, account.id)
            user.roles.extend(UserRole(role=r) for r in (roles or ("admin",)))
            db.session.commit()
        return account

    return make


@pytest.fixture
def make_warehouse(app) -> Callable[..., int]:
    def make(**attrs) -> int:
        values = {
            "name": "深圳测试仓",
            "contact_name": "仓库收",
            "phone": "0755-88886666",
            "region": "广东省深圳市龙华区",
            "address_line": "民治街道测试路 1 号",
            "postcode": "518131",
            **attrs,
        }
        with app.app_context():
            warehouse = Warehouse(**values)
            db.session.add(warehouse)
            db.session.commit()
            return warehouse.id

    return make


DEMO_DAY = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


@pytest.fixture
def demo_card(app, monkeypatch):
    """The demo rate card loaded and the business day pinned to 2026-11-22."""
    monkeypatch.setattr(rate_cards, "utcnow", lambda: DEMO_DAY)
    rate_cards.clear_caches()
    with app.app_context():
        import_rate_card(DEMO_RATE_CARD)
        db.session.commit()
    yield
    rate_cards.clear_caches()


@pytest.fixture
def make_parcel(app) -> Callable[..., int]:
    """Insert a parcel for a customer directly; received=True also weighs and dates it."""
    serial = iter(range(1, 1_000_000))

    def make(customer_id: int, received: bool = False, **attrs) -> int:
        values = {
            "tracking_no": f"SF{next(serial):013d}",
            "courier": "SF",
            "contents": "衣服",
            "category": "general",
            "declared_value_fen": 10000,
            "quantity": 1,
        }
        if received:
            values.update(status="received", weight_g=1200, received_at=utcnow())
            values.update(length_cm=30, width_cm=20, height_cm=10)
        values.update(attrs)
        with app.app_context():
            parcel = Parcel(customer_id=customer_id, **values)
            db.session.add(parcel)
            db.session.commit()
            return parcel.id

    return make


@pytest.fixture
def make_address(app) -> Callable[..., int]:
    """Insert an address-book entry for a customer directly (a US address unless told)."""

    def make(customer_id: int, **attrs) -> int:
        values = {
            "recipient_name": "Li Lei",
            "phone": "+12025550123",
            "country": "US",
            "region": "CA",
            "city": "Los Angeles",
            "postcode": "90001",
            "line1": "1 Main St",
            **attrs,
        }
        with app.app_context():
            address = Address(customer_id=customer_id, **values)
            db.session.add(address)
            db.session.commit()
            return address.id

    return make


def run_together(app, count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(i) in `count` threads released at once, each in its own app context and session.

    Returns each thread's result, or the exception it raised.
    """
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def runner(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[i] = work(i)
            except Exception as exc:  # noqa: BLE001 (the caller inspects it)
                db.session.rollback()
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.fixture
def insert_orders(app, demo_card):
    """Insert orders directly (fast): `count` orders of a customer, each with `parcels` parcels."""
    serial = iter(range(1, 1_000_000))

    def make(customer_id: int, count: int = 1, status: str = "pending_pack", parcels: int = 1):
        numbers = []
        with app.app_context():
            card_id = rate_cards.current_card(rate_cards.business_today()).id
            start = datetime(2026, 11, 1, tzinfo=UTC)
            for _ in range(count):
                n = next(serial)
                order = Order(
                    order_no=f"JY261101T{n:05d}",
                    customer_id=customer_id,
                    status=status,
                    submit_token=f"token-{n}",
                    rate_card_id=card_id,
                    channel_code="US-EXP-DHL",
                    channel_name="美国DHL特快",
                    service_level="express",
                    ship_name="Li Lei",
                    ship_phone="+12025550123",
                    ship_country="US",
                    ship_line1="1 Main St",
                    declared_total_fen=10000,
                    estimate_weight_g=1000,
                    estimate_chargeable_g=1000,
                    estimate_fen=10000 + n,
                    created_at=start + timedelta(minutes=n),
                )
                db.session.add(order)
                db.session.flush()
                for i in range(parcels):
                    parcel = Parcel(
                        customer_id=customer_id,
                        tracking_no=f"YT{n:06d}{i:03d}",
                        contents="书",
                        status="consolidated",
                    )
                    db.session.add(parcel)
                    db.session.flush()
                    db.session.add(OrderParcel(order_id=order.id, parcel_id=parcel.id))
                numbers.append(order.order_no)
            db.session.commit()
        return numbers

    return make
