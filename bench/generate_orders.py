"""Fill a fresh database with orders at a constant rate per day for the ops order list benchmark.

    .venv/bin/python bench/generate_orders.py --database-url sqlite:////tmp/o.db --orders 10000

The schema and the demo data (with the demo staff login `admin@jiyun-demo.com` /
`demo-staff-2026`, every role) come from the app, as in generate_parcels.py; the bulk rows go
straight through the driver (`executemany` on SQLite, `COPY` on PostgreSQL, then `ANALYZE`).

What it creates, the same for a given `--orders`, `--per-day` and `--seed`:

- `--per-day` orders a day (1,000), so 10,000 orders are 10 days of history and 1,000,000 are
  1,000 days, ending now; created_at is spread evenly over each day with a little jitter;
- one customer per 20 orders (`BO0000001`...), each order's owner picked at random;
- statuses by age, as a real forwarder's: the last 2 days pending packing or awaiting payment,
  then paid, shipped, and after 20 days 97 % delivered (some cancelled throughout);
- billed orders (paid and later) have a bill and a packed weight, shipped ones an outbound
  tracking number;
- `--parcels-per-order` (1) received parcels bound to each order with their links.
"""

import argparse
import random
import sys
import time
from collections.abc import Iterator

from generate_parcels import (
    DAY,
    ORDER_COLUMNS,
    ORDER_COUNTRIES,
    PARCEL_COLUMNS,
    USER_COLUMNS,
    Writer,
    base32,
    prepare_schema,
)

ORDERS_PER_CUSTOMER = 20
ORDER_EXTRA_COLUMNS = ("bill_weight_g", "bill_chargeable_g", "packed_at", "shipped_at")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an empty (or new) database")
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in all")
    parser.add_argument("--per-day", type=int, default=1_000, help="orders placed a day")
    parser.add_argument("--parcels-per-order", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def status_for(rng: random.Random, age: float) -> str:
    if rng.random() < 0.02:
        return "cancelled"
    if age < 2 * DAY:
        return "pending_pack" if rng.random() < 0.6 else "awaiting_payment"
    if age < 5 * DAY:
        return "awaiting_payment" if rng.random() < 0.2 else "paid"
    if age < 20 * DAY:
        return "shipped" if rng.random() < 0.8 else "delivered"
    return "delivered" if rng.random() < 0.97 else "shipped"


class OrderPlan:
    """The orders as tuples, oldest first; ids and numbers follow creation time."""

    def __init__(self, args: argparse.Namespace, now: float, first_ids: dict) -> None:
        self.args = args
        self.now = now
        self.first_ids = first_ids
        self.customers = max(1, args.orders // ORDERS_PER_CUSTOMER)
        self.first_customer = first_ids["users"]
        self.spacing = DAY / args.per_day
        self.start = now - args.orders * self.spacing

    def created(self, index: int, rng: random.Random) -> float:
        return self.start + (index + rng.random()) * self.spacing


def user_rows(plan: OrderPlan, w: Writer, password_hash: str) -> Iterator[tuple]:
    created = w.ts(plan.start - 30 * DAY)
    for n in range(plan.customers):
        yield (
            plan.first_customer + n, f"+86139{n:08d}", None, password_hash, f"BO{n:07d}",
            f"BJ{n:07d}", None, "zh_CN", 1, False, created, None,
        )  # fmt: skip


def order_rows(plan: OrderPlan, w: Writer, card_id: int, channels: list[tuple]) -> Iterator[tuple]:
    rng = random.Random(plan.args.seed)
    first = plan.first_ids["orders"]
    for index in range(plan.args.orders):
        oid = first + index
        placed = plan.created(index, rng)
        status = status_for(rng, plan.now - placed)
        code, name, level, tmin, tmax = channels[rng.randrange(len(channels))]
        country, region, city, postcode = ORDER_COUNTRIES[rng.randrange(len(ORDER_COUNTRIES))]
        weight = rng.randrange(300, 12_000)
        chargeable = weight // 500 * 500 + 500
        estimate = 4000 + chargeable // 500 * 3500
        billed = status in ("paid", "shipped", "delivered")
        sent = status in ("shipped", "delivered")
        packed_weight = weight + rng.randrange(-200, 400) if billed else None
        stamp = time.gmtime(placed)
        yield (
            oid, f"JY{time.strftime('%y%m%d', stamp)}{base32(index, 6)}",
            plan.first_customer + rng.randrange(plan.customers), status, f"bench-{index}",
            card_id, code, name, level, tmin, tmax, "Wang Fang", "+12025550143", country, region,
            city, postcode, "200 E Santa Clara St", "", "", "general", False, 20_000, weight,
            chargeable, estimate, estimate + rng.randrange(-5, 6) * 100 if billed else None, "",
            "DHL" if sent else "", f"1Z{oid:016d}" if sent else "", w.ts(placed),
            w.ts(min(placed + 3 * DAY, plan.now)),
            packed_weight, chargeable if billed else None,
            w.ts(min(placed + DAY, plan.now)) if billed else None,
            w.ts(min(placed + 4 * DAY, plan.now)) if sent else None,
        )  # fmt: skip


def parcel_rows(plan: OrderPlan, w: Writer) -> Iterator[tuple]:
    rng = random.Random(plan.args.seed + 1)
    pid = plan.first_ids["parcels"]
    for index in range(plan.args.orders):
        placed = plan.created(index, rng)
        owner = plan.first_customer + index % plan.customers
        for _ in range(plan.args.parcels_per_order):
            received = placed - rng.uniform(0.2, 5) * DAY
            yield (
                pid, owner, f"YT{pid:013d}", "YTO", "衣服", "general", 10_000, 1, None, "",
                "consolidated", False, rng.randrange(200, 5000), 30, 20, 10, "",
                w.ts(received), w.ts(received - DAY), w.ts(placed),
            )  # fmt: skip
            pid += 1


def link_rows(plan: OrderPlan, w: Writer) -> Iterator[tuple]:
    link_id, pid = plan.first_ids["order_parcels"], plan.first_ids["parcels"]
    for index in range(plan.args.orders):
        for _ in range(plan.args.parcels_per_order):
            yield (link_id, plan.first_ids["orders"] + index, pid, None)
            link_id += 1
            pid += 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    def step(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", flush=True)

    step(f"migrating {args.database_url}")
    app, card_id, channels, first_ids, password_hash, dialect = prepare_schema(args.database_url)
    from portal.extensions import db

    plan = OrderPlan(args, time.time(), first_ids)
    step(
        f"plan: {args.orders:,} orders over {args.orders / args.per_day:,.0f} days,"
        f" {plan.customers:,} customers"
    )
    with app.app_context():
        raw = db.engine.raw_connection()
        conn = raw.driver_connection
        try:
            if dialect == "sqlite":
                for pragma in (
                    "journal_mode=OFF",
                    "synchronous=OFF",
                    "foreign_keys=OFF",
                    "cache_size=-1000000",
                    "temp_store=MEMORY",
                ):
                    conn.execute(f"PRAGMA {pragma}")
                conn.execute("BEGIN")
            else:
                conn.execute("SET statement_timeout = 0")
            w = Writer(conn, dialect)
            tables = (
                ("users", USER_COLUMNS, user_rows(plan, w, password_hash)),
                (
                    "orders",
                    ORDER_COLUMNS + ORDER_EXTRA_COLUMNS,
                    order_rows(plan, w, card_id, channels),
                ),
                ("parcels", PARCEL_COLUMNS, parcel_rows(plan, w)),
                (
                    "order_parcels",
                    ("id", "order_id", "parcel_id", "released_at"),
                    link_rows(plan, w),
                ),
            )
            for table, columns, rows in tables:
                step(f"{table}: {w.insert(table, columns, rows):,} rows")
            if dialect == "sqlite":
                conn.execute("COMMIT")
                conn.execute("PRAGMA journal_mode=WAL")
            else:
                cursor = conn.cursor()
                for table in ("users", "orders", "parcels", "order_parcels"):
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                        f" (SELECT max(id) FROM {table}))"
                    )
                conn.commit()
                conn.autocommit = True
                cursor.execute("ANALYZE")
                conn.autocommit = False
        finally:
            raw.close()
        db.engine.dispose()
    step("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
