"""Fill a fresh database with customers, parcels and orders for the parcel-list benchmark.

    .venv/bin/python bench/generate_parcels.py --database-url sqlite:////tmp/p.db --parcels 10000

The schema is created with the app's migrations (Flask-Migrate `upgrade()`, as `flask db upgrade`)
and `flask demo-data`'s loader (warehouse, demo customer and staff, the demo rate card, packing
services); the bulk rows then go straight through the driver: batched `executemany` on SQLite
(journal off, synchronous off, a large page cache while loading; WAL again at the end), `COPY` on
PostgreSQL (followed by `ANALYZE`, as autovacuum would do). The database must be empty.

What it creates, the same for a given `--parcels` and `--seed`:

- one **measured customer** (`bench-measured@example.com`, password `bench-password-1`) with
  5,000 parcels (`--measured-parcels`): about 15 % expected, 35 % received (in stock),
  50 % consolidated;
- the other parcels spread at random over one customer per 50 parcels, same mix;
- parcels are numbered in the order they were registered (created_at over the last year:
  expected ones within 30 days, received ones within 90), so a customer's parcels are
  scattered over the table as in a real one; received and consolidated parcels have a weight,
  dimensions, a received_at and one intake photo row;
- every consolidated parcel is bound to an order of its customer (1 to 24 parcels an order,
  about 200 orders for the measured customer), plus one cancelled order per 20 with released
  links to 1 to 5 received parcels; order statuses follow the order's age.

All users share one argon2 hash (computed once with the app's production parameters).
"""

import argparse
import os
import random
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

MEASURED_EMAIL = "bench-measured@example.com"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway benchmark account
MEASURED_PARCELS = 5000
PARCELS_PER_CUSTOMER = 50
SEARCH_WORD = "耳机"  # in one product name of CONTENTS: the search the benchmark measures
BATCH = 50_000
DAY = 86_400.0

STATUS_MIX = (("expected", 0.15), ("received", 0.35), ("consolidated", 0.50))
COURIER_SHAPES = (
    ("SF", "SF", 12),
    ("YTO", "YT", 13),
    ("JTEXPRESS", "JT", 13),
    ("ZTO", "7", 12),
    ("YUNDA", "3", 12),
    ("JD", "JDVA", 11),
    ("EMS", "1", 12),
)
CONTENTS = (
    "冬季外套", "手机壳", "蓝牙耳机", "运动鞋", "口红套装", "连衣裙", "保温杯", "数据线",
    "儿童玩具", "书籍", "茶叶", "护肤品", "牛仔裤", "雨伞", "背包", "台灯", "键盘", "鼠标",
    "厨房用品", "袜子", "帽子", "围巾", "手表", "眼镜", "香薰", "拼图", "文具", "床单",
    "毛巾", "餐具", "衬衫", "T恤", "卫衣", "拖鞋", "发饰", "相框", "收纳盒", "瑜伽垫",
    "充电宝", "手机支架",
)  # fmt: skip
CATEGORIES = (("general", 0.85), ("cosmetic", 0.05), ("battery_in_equipment", 0.05), ("food", 0.05))
ORDER_COUNTRIES = (
    ("US", "CA", "San Jose", "95112"),
    ("US", "NY", "New York", "10001"),
    ("GB", "", "London", "SW1A 1AA"),
    ("AU", "NSW", "Sydney", "2000"),
    ("CA", "ON", "Toronto", "M5H 2N2"),
    ("JP", "", "Tokyo", "100-0001"),
)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an empty (or new) database")
    parser.add_argument("--parcels", type=int, default=1_000_000, help="parcels in all")
    parser.add_argument("--measured-parcels", type=int, default=MEASURED_PARCELS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.parcels < args.measured_parcels:
        parser.error("--parcels must be at least --measured-parcels")
    return args


# ---- the plan (pure Python, deterministic for a seed) ------------------------------------------


def pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    x = rng.random()
    for value, weight in weighted:
        x -= weight
        if x < 0:
            return value
    return weighted[-1][0]


def base32(n: int, width: int) -> str:
    chars = []
    for _ in range(width):
        n, r = divmod(n, 32)
        chars.append(ALPHABET[r])
    return "".join(reversed(chars))


class Plan:
    """Every row to insert, as plain tuples with timestamps as epoch seconds."""

    def __init__(self, total: int, measured: int, seed: int, now: float, first_ids: dict):
        rng = random.Random(seed)
        self.now = now
        self.measured_id = first_ids["users"]
        others = max(1, (total - measured) // PARCELS_PER_CUSTOMER) if total > measured else 0
        self.customer_ids = list(range(self.measured_id, self.measured_id + 1 + others))

        # Parcels: owner, status and times; then numbered in registration order.
        drafts = []
        for i in range(total):
            owner = (
                self.measured_id if i < measured else self.measured_id + 1 + rng.randrange(others)
            )
            status = pick(rng, STATUS_MIX)
            if status == "expected":
                created = now - rng.uniform(0.02, 30) * DAY
                received = None
            else:
                span = 90 if status == "received" else 365
                created = now - rng.uniform(2, span) * DAY
                received = min(created + rng.uniform(0.5, 6) * DAY, now - 3600)
            drafts.append((created, owner, status, received))
        drafts.sort()
        first_parcel = first_ids["parcels"]
        self.parcels = []  # (id, owner, status, created, received, rng fields...)
        by_owner: dict[int, list[tuple]] = defaultdict(list)
        multiplier = 7_919_993  # odd and not a multiple of 5: a bijection modulo 10**k
        for index, (created, owner, status, received) in enumerate(drafts):
            pid = first_parcel + index
            courier, prefix, digits = COURIER_SHAPES[rng.randrange(len(COURIER_SHAPES))]
            number = f"{prefix}{(index * multiplier + seed) % 10**digits:0{digits}d}"
            row = (
                pid,
                owner,
                status,
                created,
                received,
                courier,
                number,
                CONTENTS[rng.randrange(len(CONTENTS))] + f" {rng.randint(1, 3)}件",
                pick(rng, CATEGORIES),
                rng.randrange(10, 2000) * 100,
                rng.randint(1, 3),
                rng.randrange(200, 8000) if received is not None else None,
                rng.randrange(200, 5000) if received is None and rng.random() < 0.5 else None,
                (rng.randint(15, 60), rng.randint(10, 40), rng.randint(5, 30)),
            )
            self.parcels.append(row)
            by_owner[owner].append(row)

        # Orders: consolidated parcels grouped in registration order; a few cancelled orders.
        orders = []  # (created, owner, status, parcel rows, cancelled)
        for owner in self.customer_ids:
            rows = by_owner.get(owner, [])
            bound = [r for r in rows if r[2] == "consolidated"]
            start = 0
            while start < len(bound):
                size = rng.randint(1, 24)
                group = bound[start : start + size]
                start += size
                placed = min(max(r[4] for r in group) + rng.uniform(0.1, 3) * DAY, now - 600)
                orders.append((placed, owner, self._order_status(rng, now - placed), group, False))
            in_stock = [r for r in rows if r[2] == "received"]
            live_orders = (len(bound) + 11) // 12
            for _ in range(live_orders // 20 + (1 if in_stock and rng.random() < 0.5 else 0)):
                if not in_stock:
                    break
                group = rng.sample(in_stock, min(len(in_stock), rng.randint(1, 5)))
                placed = min(max(r[4] for r in group) + rng.uniform(0.1, 2) * DAY, now - 600)
                orders.append((placed, owner, "cancelled", group, True))
        orders.sort(key=lambda o: (o[0], o[1]))
        self.orders = []
        self.links = []
        link_id = first_ids["order_parcels"]
        for index, (placed, owner, status, group, cancelled) in enumerate(orders):
            oid = first_ids["orders"] + index
            self.orders.append((oid, index, owner, status, placed, group))
            for r in group:
                released = placed + rng.uniform(0.05, 1) * DAY if cancelled else None
                self.links.append((link_id, oid, r[0], min(released, now) if released else None))
                link_id += 1
        self.rng = rng

    @staticmethod
    def _order_status(rng: random.Random, age: float) -> str:
        if age < 2 * DAY:
            return "pending_pack" if rng.random() < 0.6 else "awaiting_payment"
        if age < 5 * DAY:
            return "awaiting_payment" if rng.random() < 0.3 else "paid"
        if age < 20 * DAY:
            return "shipped" if rng.random() < 0.8 else "paid"
        return "delivered" if rng.random() < 0.97 else "shipped"


# ---- writing -----------------------------------------------------------------------------------


class Writer:
    """Bulk inserts through the driver: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, raw, dialect: str):
        self.raw = raw
        self.dialect = dialect
        if dialect == "sqlite":
            self.ts: Callable[[float | None], object] = self._sqlite_ts
        else:
            self.ts = self._pg_ts

    @staticmethod
    def _sqlite_ts(value: float | None) -> str | None:
        # SQLAlchemy's SQLite DATETIME text: naive UTC with microseconds (compared as text).
        if value is None:
            return None
        moment = datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
        return moment.isoformat(" ", "microseconds")

    @staticmethod
    def _pg_ts(value: float | None) -> datetime | None:
        return None if value is None else datetime.fromtimestamp(value, UTC)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
        names = ", ".join(columns)
        count = 0
        cursor = self.raw.cursor()
        if self.dialect == "sqlite":
            sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
            batch: list[tuple] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
        else:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        cursor.close()
        return count


def user_rows(plan: Plan, w: Writer, password_hash: str) -> Iterator[tuple]:
    created = w.ts(plan.now - 400 * DAY)
    for cid in plan.customer_ids:
        n = cid - plan.measured_id
        email = MEASURED_EMAIL if n == 0 else f"bench-{n}@example.com"
        yield (
            cid, None, email, password_hash, f"BN{n:07d}", f"BI{n:07d}", None, "zh_CN", 1,
            False, created, None,
        )  # fmt: skip


USER_COLUMNS = (
    "id", "phone", "email", "password_hash", "customer_code", "invite_code", "referred_by_id",
    "locale", "session_version", "is_disabled", "created_at", "last_login_at",
)  # fmt: skip
PARCEL_COLUMNS = (
    "id", "customer_id", "tracking_no", "courier", "contents", "category", "declared_value_fen",
    "quantity", "declared_weight_g", "note", "status", "shared_tracking_no", "weight_g",
    "length_cm", "width_cm", "height_cm", "condition_note", "received_at", "created_at",
    "updated_at",
)  # fmt: skip


def parcel_rows(plan: Plan, w: Writer) -> Iterator[tuple]:
    ts = w.ts
    for pid, owner, status, created, received, courier, number, contents, category, value, qty, \
            weight, declared_weight, dims in plan.parcels:  # fmt: skip
        in_stock = received is not None
        yield (
            pid, owner, number, courier, contents, category, value, qty, declared_weight, "",
            status, False, weight, dims[0] if in_stock else None, dims[1] if in_stock else None,
            dims[2] if in_stock else None, "", ts(received), ts(created),
            ts(received if in_stock else created),
        )  # fmt: skip


def photo_rows(plan: Plan, w: Writer, first_id: int) -> Iterator[tuple]:
    photo_id = first_id
    for row in plan.parcels:
        if row[4] is not None:
            yield (photo_id, row[0], f"bench/{row[0]}.jpg", f"bench/{row[0]}-t.jpg", w.ts(row[4]))
            photo_id += 1


ORDER_COLUMNS = (
    "id", "order_no", "customer_id", "status", "submit_token", "rate_card_id", "channel_code",
    "channel_name", "service_level", "transit_days_min", "transit_days_max", "ship_name",
    "ship_phone", "ship_country", "ship_region", "ship_city", "ship_postcode", "ship_line1",
    "ship_line2", "ship_tax_id", "categories", "insure", "declared_total_fen",
    "estimate_weight_g", "estimate_chargeable_g", "estimate_fen", "bill_fen", "note",
    "outbound_carrier", "outbound_tracking_no", "created_at", "updated_at",
)  # fmt: skip


def order_rows(plan: Plan, w: Writer, card_id: int, channels: list[tuple]) -> Iterator[tuple]:
    rng = random.Random(plan.rng.random())
    for oid, index, owner, status, placed, group in plan.orders:
        code, name, level, tmin, tmax = channels[rng.randrange(len(channels))]
        country, region, city, postcode = ORDER_COUNTRIES[rng.randrange(len(ORDER_COUNTRIES))]
        weight = sum(r[11] or 500 for r in group)
        chargeable = max(weight, 500) // 500 * 500 + 500
        estimate = 4000 + chargeable // 500 * 3500
        billed = status in ("paid", "shipped", "delivered")
        sent = status in ("shipped", "delivered")
        stamp = datetime.fromtimestamp(placed, UTC)
        yield (
            oid, f"JY{stamp:%y%m%d}{base32(index, 6)}", owner, status, f"bench-{index}", card_id,
            code, name, level, tmin, tmax, "Wang Fang", "+12025550143", country, region, city,
            postcode, "200 E Santa Clara St", "", "", "general", False,
            sum(r[9] for r in group), weight, chargeable, estimate,
            estimate + rng.randrange(-5, 6) * 100 if billed else None, "",
            "DHL" if sent else "", f"1Z{oid:016d}" if sent else "", w.ts(placed),
            w.ts(min(placed + 3 * DAY, plan.now)),
        )  # fmt: skip


def link_rows(plan: Plan, w: Writer) -> Iterator[tuple]:
    for link_id, oid, pid, released in plan.links:
        yield (link_id, oid, pid, w.ts(released))


# ---- main --------------------------------------------------------------------------------------


def prepare_schema(database_url: str) -> tuple:
    """Migrate and load the demo data through the app; return what the bulk rows need."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("PORTAL_ENV", "production")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    sys.path.insert(0, str(REPO))
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from portal import create_app
    from portal.cli import load_demo_data
    from portal.extensions import db
    from portal.models import Channel, Order, OrderParcel, Parcel, ParcelPhoto, RateCard, User
    from portal.services.passwords import hash_password

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Parcel)) > 10:
            raise SystemExit("the database already has parcels: give an empty one")
        load_demo_data()
        db.session.commit()
        card = db.session.scalars(select(RateCard).order_by(RateCard.id)).first()
        channels = [
            (c.code, c.name_zh, c.service_level, c.transit_min_days, c.transit_max_days)
            for c in db.session.scalars(
                select(Channel).where(Channel.rate_card_id == card.id, Channel.is_active)
            )
        ]

        def next_id(model) -> int:
            return (db.session.scalar(select(func.max(model.id))) or 0) + 1

        first_ids = {
            "users": next_id(User),
            "parcels": next_id(Parcel),
            "orders": next_id(Order),
            "order_parcels": next_id(OrderParcel),
            "parcel_photos": next_id(ParcelPhoto),
        }
        password_hash = hash_password(PASSWORD)
        dialect = db.engine.dialect.name
    return app, card.id, channels, first_ids, password_hash, dialect


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    def step(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", flush=True)

    step(f"migrating {args.database_url}")
    app, card_id, channels, first_ids, password_hash, dialect = prepare_schema(args.database_url)
    from portal.extensions import db

    step(f"planning {args.parcels:,} parcels (seed {args.seed})")
    plan = Plan(args.parcels, args.measured_parcels, args.seed, time.time(), first_ids)
    step(
        f"plan: {len(plan.customer_ids):,} customers, {len(plan.parcels):,} parcels,"
        f" {len(plan.orders):,} orders, {len(plan.links):,} order links"
    )
    with app.app_context():
        raw = db.engine.raw_connection()
        conn = raw.driver_connection
        try:
            if dialect == "sqlite":
                conn.execute("PRAGMA journal_mode=OFF")
                conn.execute("PRAGMA synchronous=OFF")
                conn.execute("PRAGMA foreign_keys=OFF")
                conn.execute("PRAGMA cache_size=-1000000")  # 1 GB while loading
                conn.execute("PRAGMA temp_store=MEMORY")
                conn.execute("BEGIN")
            else:
                # The app's engine sets a statement timeout fit for requests, not for bulk loads.
                conn.execute("SET statement_timeout = 0")
            w = Writer(conn, dialect)
            tables = (
                ("users", USER_COLUMNS, user_rows(plan, w, password_hash)),
                ("parcels", PARCEL_COLUMNS, parcel_rows(plan, w)),
                (
                    "parcel_photos",
                    ("id", "parcel_id", "image_key", "thumb_key", "created_at"),
                    photo_rows(plan, w, first_ids["parcel_photos"]),
                ),
                ("orders", ORDER_COLUMNS, order_rows(plan, w, card_id, channels)),
                (
                    "order_parcels",
                    ("id", "order_id", "parcel_id", "released_at"),
                    link_rows(plan, w),
                ),
            )
            for table, columns, rows in tables:
                count = w.insert(table, columns, rows)
                step(f"{table}: {count:,} rows")
            if dialect == "sqlite":
                conn.execute("COMMIT")
                conn.execute("PRAGMA journal_mode=WAL")
            else:
                cursor = conn.cursor()
                for table in ("users", "parcels", "parcel_photos", "orders", "order_parcels"):
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                        f" (SELECT max(id) FROM {table}))"
                    )
                conn.commit()
                conn.autocommit = True
                cursor.execute("ANALYZE")
                conn.autocommit = False
                step("sequences set, ANALYZE done")
        finally:
            raw.close()
        db.engine.dispose()
    measured = sum(1 for p in plan.parcels if p[1] == plan.measured_id)
    by_status = defaultdict(int)
    for p in plan.parcels:
        if p[1] == plan.measured_id:
            by_status[p[2]] += 1
    orders = sum(1 for o in plan.orders if o[2] == plan.measured_id)
    step(
        f"done: measured customer {MEASURED_EMAIL} (id {plan.measured_id}) has {measured:,}"
        f" parcels {dict(by_status)} and {orders} orders"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
