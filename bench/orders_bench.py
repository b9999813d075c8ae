"""Benchmark the ops order list (7 days and their total) at 10k and 1M orders, and an XLSX export.

Run from the repository root:  .venv/bin/python bench/orders_bench.py [--json out.json]
See bench/README.md ("Ops order list and export") for what is measured and how to read it.
"""

import argparse
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from parcels_bench import (
    _nothing,
    cookies_from,
    generator_digest,
    postgres_server,
    settle,
    size_label,
)
from quote_bench import (
    BENCH,
    PYTHON,
    REPO,
    gunicorn,
    gunicorn_version,
    http_get,
    run_load,
    wait_for_quiet,
)

STAFF = ("admin@jiyun-demo.com", "demo-staff-2026")
DEFAULT_SIZES = (10_000, 1_000_000)
PER_DAY = 1_000
LIST_DAYS = 7
ROW_MARKER = b'data-testid="order-row"'
TARGET_RATIO = 0.15  # issue 15: the ops order list
TARGET_GROWTH = 1.3
EXPORT_ORDERS = 50_000
CSRF_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')
BEIJING = ZoneInfo("Asia/Shanghai")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="HTTP seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="HTTP warm-up seconds")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--connections", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in DEFAULT_SIZES),
        help="orders in the database, comma-separated (the first is the baseline of the growth)",
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "portal-bench",
    )
    parser.add_argument("--no-cache", action="store_true", help="always regenerate SQLite files")
    parser.add_argument(
        "--export-orders",
        type=int,
        default=EXPORT_ORDERS,
        help="orders in the measured export (0: skip it); needs a database at least that big",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--export-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    return args


# ---- databases ---------------------------------------------------------------------------------


def generate(url: str, orders: int, seed: int, log: Path) -> float:
    started = time.perf_counter()
    command = [
        str(PYTHON),
        str(BENCH / "generate_orders.py"),
        "--database-url",
        url,
        "--orders",
        str(orders),
        "--per-day",
        str(PER_DAY),
        "--seed",
        str(seed),
    ]
    with log.open("ab") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"the generator failed:\n{log.read_text()[-3000:]}")
    return time.perf_counter() - started


def sqlite_database(orders: int, args: argparse.Namespace, tmp: Path) -> tuple[str, dict]:
    """A scratch copy of the generated SQLite file (from the cache when it is there).

    The data is dated relative to when it was generated: the 7 days measured are the last 7
    days of the data (see `last_day`), not today.
    """
    digest = generator_digest() + "-" + _own_digest()
    name = f"orders-{orders}-seed{args.seed}-{digest}.sqlite3"
    cached = args.cache_dir / name
    info: dict[str, Any] = {"cache_file": str(cached)}
    if args.no_cache or not cached.exists():
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        building = args.cache_dir / f"{name}.building-{os.getpid()}"
        print(f"setup: generating {orders:,} orders into {cached} ...", flush=True)
        try:
            info["generate_s"] = generate(
                f"sqlite:///{building}", orders, args.seed, tmp / "generate.log"
            )
            for suffix in ("-wal", "-shm"):
                Path(f"{building}{suffix}").unlink(missing_ok=True)
            building.replace(cached)
            for stale in args.cache_dir.glob(f"orders-{orders}-seed{args.seed}-*.sqlite3"):
                if stale != cached:
                    stale.unlink()
        finally:
            building.unlink(missing_ok=True)
        info["cached"] = False
    else:
        print(f"setup: {orders:,} orders from the cache ({cached})", flush=True)
        info["cached"] = True
    scratch = tmp / f"sqlite-{orders}.sqlite3"
    shutil.copyfile(cached, scratch)
    info["bytes"] = scratch.stat().st_size
    return f"sqlite:///{scratch}", info


def _own_digest() -> str:
    import hashlib

    return hashlib.sha256((BENCH / "generate_orders.py").read_bytes()).hexdigest()[:8]


def postgres_database(server: Any, orders: int, args: argparse.Namespace, tmp: Path) -> tuple:
    url = server.create_database(f"bench_orders_{orders}")
    print(f"setup: generating {orders:,} orders into PostgreSQL ...", flush=True)
    info = {"generate_s": generate(url, orders, args.seed, tmp / "generate.log")}
    settle(url)
    return url, info


def last_day(url: str) -> date:
    """The Beijing day of the newest order (the data ends when it was generated)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            newest = conn.execute(text("SELECT max(created_at) FROM orders")).scalar()
    finally:
        engine.dispose()
    if isinstance(newest, str):
        newest = datetime.fromisoformat(newest)
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=ZoneInfo("UTC"))
    return newest.astimezone(BEIJING).date()


def list_path(end: date, days: int) -> str:
    since = end - timedelta(days=days - 1)
    return "/ops/orders?" + urlencode({"since": since.isoformat(), "until": end.isoformat()})


# ---- logging in --------------------------------------------------------------------------------


def login(port: int) -> str:
    """Log in as the demo staff (every role) like a browser; return the Cookie header."""
    jar: dict[str, str] = {}

    def request(method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            jar.update(cookies_from(response))
            return response.status, response.read()
        finally:
            conn.close()

    status, page = request("GET", "/auth/login")
    match = CSRF_META.search(page)
    if status != 200 or match is None:
        raise SystemExit(f"login page: HTTP {status}, no csrf-token meta tag")
    form = {"identifier": STAFF[0], "password": STAFF[1], "csrf_token": match.group(1)}
    status, body = request("POST", "/auth/login", urlencode(form))
    if status not in (302, 303) or "session" not in jar:
        raise SystemExit(f"login refused: HTTP {status} {body[:200]!r}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


# ---- measuring ---------------------------------------------------------------------------------


def bench_list(url: str, env: dict, args: argparse.Namespace, tmp: Path, tag: str) -> dict:
    path = list_path(last_day(url), LIST_DAYS)
    with gunicorn("wsgi:app", REPO, {**env, "DATABASE_URL": url}, args, tmp / f"g-{tag}.log") as (
        server,
        port,
    ):
        headers = {"Cookie": login(port)}
        started = time.perf_counter()
        status, body = http_get(port, path, headers, timeout=120)
        elapsed = time.perf_counter() - started
        rows = body.count(ROW_MARKER)
        found = re.search(rb'data-testid="orders-found">[^<0-9]*([0-9][0-9,]*)', body)
        if status != 200 or rows != 50:
            raise SystemExit(f"{tag}: {path}: HTTP {status}, {rows} rows, {len(body)} B")
        matched = found.group(1).decode() if found else "?"
        print(f"http: {tag} {path}: {matched} orders, {elapsed * 1000:.0f} ms", flush=True)
        wait_for_quiet(args.wait_idle)
        result = run_load(port, path, headers, args, server.pid)
        result.update(path=path, matched=matched)
        # Cache-busting: `bust=<n>` differs on every request, so the page cache never answers.
        print(f"http: {tag} {path} with a distinct bust=<n> ...", flush=True)
        wait_for_quiet(args.wait_idle)
        result["no_cache"] = run_load(port, path + "&bust={n}", headers, args, server.pid, True)
        return result


def bench_minimal(env: dict, args: argparse.Namespace, tmp: Path, when: str) -> dict:
    with gunicorn("minimal_app:app", BENCH, env, args, tmp / f"g-minimal-{when}.log") as (
        server,
        port,
    ):
        status, body = http_get(port, "/", {})
        if status != 200 or body != b"ok":
            raise SystemExit(f"minimal app check failed: HTTP {status}, {body[:80]!r}")
        wait_for_quiet(args.wait_idle)
        print(f"http: minimal app ({when}) ...", flush=True)
        result = run_load(port, "/", {}, args, server.pid)
        result["when"] = when
        return result


def measure_export(url: str, orders: int, kind: str) -> dict:
    """One export in a fresh process (its peak RSS is the export's): JSON figures back."""
    command = [
        str(PYTHON),
        str(BENCH / "orders_bench.py"),
        "--export-child",
        url,
        str(orders),
        kind,
    ]
    done = subprocess.run(command, capture_output=True, check=False, cwd=BENCH)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"export failed:\n{done.stderr.decode()[-3000:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


class RssSampler(threading.Thread):
    """The process's resident size every 20 ms (Linux /proc), its first and highest value."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self.first_mb = self.peak_mb = self.sample()
        self.done = threading.Event()

    def sample(self) -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page_mb

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak_mb = max(self.peak_mb, self.sample())

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.peak_mb = max(self.peak_mb, self.sample())


def export_child(url: str, orders: int, kind: str) -> int:
    """In the child: log in on the test client, export `orders` days' worth, read it in chunks."""
    sys.path.insert(0, str(REPO))
    from portal import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    client = app.test_client()
    token = CSRF_META.search(client.get("/auth/login").get_data()).group(1).decode()
    response = client.post(
        "/auth/login",
        data={"identifier": STAFF[0], "password": STAFF[1], "csrf_token": token},
        headers={"Referer": "https://localhost/auth/login"},
    )
    if response.status_code not in (302, 303):
        raise SystemExit(f"login refused (HTTP {response.status_code})")
    end = last_day(url)
    since = end - timedelta(days=orders // PER_DAY - 1)
    query = {"format": kind, "since": since.isoformat(), "until": end.isoformat()}
    client.get(list_path(end, 1))  # warm: templates, rate card, translations
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    response = client.get("/ops/orders/export?" + urlencode(query))
    size = 0
    first_byte = None
    for chunk in response.response:
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
    response.close()
    elapsed = time.perf_counter() - started
    sampler.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "kind": kind,
        "status": response.status_code,
        "days": (end - since).days + 1,
        "bytes": size,
        "seconds": elapsed,
        "first_byte_s": first_byte,
        # ru_maxrss includes the login's argon2 hash (64 MiB), so the export's own peak is
        # sampled from /proc: the resident size when it started and the most during it.
        "rss_start_mb": sampler.first_mb,
        "rss_export_peak_mb": sampler.peak_mb,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
    }
    from portal.services import order_search

    with app.app_context():
        counts, _amounts = order_search.count_by_status(
            order_search.OrderQuery(since=since, until=end)
        )
        figures["rows"] = sum(counts.values())
    print(json.dumps(figures))
    return 0


# ---- report ------------------------------------------------------------------------------------


def summary(figures: dict) -> str:
    env, s = figures["environment"], figures["settings"]
    base = figures["minimal_rps"]
    lines = [
        "",
        f"Ops order list benchmark, {env['date']}: {env['cpus']} CPUs, Python {env['python']},"
        f" gunicorn {env['gunicorn']}; other CPU before: {env['background_cpu_cores_before']:.2f}",
        f"Page: /ops/orders with the last {LIST_DAYS} days ({PER_DAY:,} orders a day), 50 rows,"
        " tab counts and the query's total; logged-in staff",
        f"gunicorn -w {s['workers']} -k {s['worker_class']}; {s['connections']} connections,"
        f" {s['warmup_s']:g} s warm-up + {s['duration_s']:g} s measured",
        "",
        f"  {'database':<11}{'orders':>8}  {'req/s':>9}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'server':>8}{'other':>7}",
    ]
    for m in figures["minimal"]:
        lines.append(
            f"  {'minimal (' + m['when'] + ')':<19}  {m['rps']:>9,.0f}{'':>8}"
            f"{m['latency_ms']['p50']:>9.2f}{m['latency_ms']['p99']:>9.2f}"
            f"{m['server_cpu_cores']:>8.2f}{m['other_cpu_cores']:>7.2f}"
        )
    for run in figures["runs"]:
        for label, r in (("", run["list"]), (" no cache", run["list"]["no_cache"])):
            lines.append(
                f"  {run['database'] + label:<19}{size_label(run['orders']):>8}  {r['rps']:>9,.1f}"
                f"{r['rps'] / base:>8.1%}{r['latency_ms']['p50']:>9.1f}"
                f"{r['latency_ms']['p99']:>9.1f}{r['server_cpu_cores']:>8.2f}"
                f"{r['other_cpu_cores']:>7.2f}"
            )
    lines.append(f"  ratio = req/s / minimal req/s ({base:,.0f}); target >= {TARGET_RATIO:.0%}")
    for g in figures["growth"]:
        verdict = "ok" if g["time_ratio"] <= TARGET_GROWTH else "MISSED"
        lines.append(
            f"  growth {g['database']}: time per request {g['time_ratio']:.2f}x"
            f" (p50 {g['p50_ratio']:.2f}x), target <= {TARGET_GROWTH}x: {verdict}"
        )
    for e in figures["exports"]:
        lines.append(
            f"  export {e['kind'].upper()} of {e['days']} days ({e['database']},"
            f" {size_label(e['orders_in_db'])}), {e['rows']:,} rows: {e['seconds']:.1f} s,"
            f" {e['bytes'] / 1e6:.1f} MB,"
            f" first byte {e['first_byte_s']:.1f} s; RSS {e['rss_start_mb']:.0f} MB at the start,"
            f" at most {e['rss_export_peak_mb']:.0f} MB during the export"
        )
    return "\n".join(lines)


def growth_rows(runs: list[dict]) -> list[dict]:
    rows = []
    for database in dict.fromkeys(r["database"] for r in runs):
        mine = sorted((r for r in runs if r["database"] == database), key=lambda r: r["orders"])
        if len(mine) >= 2:
            small, big = mine[0]["list"], mine[-1]["list"]
            rows.append(
                {
                    "database": database,
                    "time_ratio": small["rps"] / big["rps"],
                    "p50_ratio": big["latency_ms"]["p50"] / small["latency_ms"]["p50"],
                }
            )
    return rows


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.export_child:
        url, orders, kind = args.export_child
        return export_child(url, int(orders), kind)
    signal.signal(signal.SIGTERM, _interrupt)
    idle = wait_for_quiet(args.wait_idle)
    env = {"SECRET_KEY": secrets.token_urlsafe(48), "PORTAL_ENV": "production"}
    os.environ.update(env)
    runs: list[dict] = []
    exports: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="orders-bench-") as tmp_name:
        tmp = Path(tmp_name)
        minimal = [bench_minimal(env, args, tmp, "first")]
        for database in args.databases:
            with postgres_server(tmp) if database == "postgresql" else _nothing() as server:
                if database == "postgresql" and server is None:
                    print("note: no PostgreSQL binaries found, PostgreSQL skipped", flush=True)
                    continue
                for orders in args.sizes:
                    if database == "sqlite":
                        url, info = sqlite_database(orders, args, tmp)
                    else:
                        url, info = postgres_database(server, orders, args, tmp)
                    tag = f"{database}-{size_label(orders)}"
                    run = {"database": database, "orders": orders, "setup": info}
                    run["list"] = bench_list(url, env, args, tmp, tag)
                    runs.append(run)
                    if args.export_orders and orders >= args.export_orders * 2:
                        for kind in ("xlsx", "csv"):
                            print(f"export: {tag} {kind} ...", flush=True)
                            figures = measure_export(url, args.export_orders, kind)
                            figures.update(database=database, orders_in_db=orders)
                            exports.append(figures)
        minimal.append(bench_minimal(env, args, tmp, "last"))
    figures = {
        "environment": {
            "date": date.today().isoformat(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "gunicorn": gunicorn_version(),
            "background_cpu_cores_before": idle,
        },
        "settings": {
            "workers": args.workers,
            "worker_class": args.worker_class,
            "connections": args.connections,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
        },
        "minimal": minimal,
        "minimal_rps": sum(m["rps"] for m in minimal) / len(minimal),
        "runs": runs,
        "growth": growth_rows(runs),
        "exports": exports,
    }
    print(summary(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped and temp files removed", file=sys.stderr)
        sys.exit(130)
