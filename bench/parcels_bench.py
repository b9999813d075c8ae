"""Benchmark the parcel list and my orders for a customer with 5,000 parcels, at 10k and 1M parcels.

Run from the repository root:  .venv/bin/python bench/parcels_bench.py [--json out.json]
See bench/README.md ("Parcel list and my orders") for what is measured and how to read it.
"""

import argparse
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from generate_parcels import MEASURED_EMAIL, PASSWORD, SEARCH_WORD
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

PAGES = (
    # (label, path, marker, rows expected on the page)
    ("parcels: in stock, page 1", "/parcels/?status=received", b'data-testid="parcel"', 20),
    (
        "parcels: in stock, page 50",
        "/parcels/?status=received&page=50",
        b'data-testid="parcel"',
        20,
    ),
    (
        f"parcels: search {SEARCH_WORD}",
        "/parcels/?" + urlencode({"status": "received", "q": SEARCH_WORD}),
        b'data-testid="parcel"',
        20,
    ),
    ("my orders, page 1", "/orders/", b'data-testid="order"', 20),
    # Cache-busting: `bust=<n>` differs on every request, so the page cache never answers.
    (
        "in stock, page 1, no cache",
        "/parcels/?status=received&bust={n}",
        b'data-testid="parcel"',
        20,
    ),
    ("my orders, no cache", "/orders/?bust={n}", b'data-testid="order"', 20),
)
DEFAULT_SIZES = (10_000, 1_000_000)
TARGET_RATIO = 0.20  # issue 15: parcel list page 1 and my orders
TARGET_GROWTH = 1.3
CSRF_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')
# What a cached SQLite file depends on: regenerate when any of these changes.
GENERATOR_INPUTS = (
    "bench/generate_parcels.py",
    "migrations/versions/*.py",
    "portal/demo_data.py",
    "portal/cli.py",
    "docs/examples/rate-card/*.csv",
)


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
        help="parcels in the database, comma-separated (the first is the baseline of the growth)",
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="sqlite and/or postgresql (skipped with a note when no PostgreSQL binaries)",
    )
    parser.add_argument("--seed", type=int, default=1, help="data generator seed")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "portal-bench",
        help="where generated SQLite files are kept between runs",
    )
    parser.add_argument("--no-cache", action="store_true", help="always regenerate SQLite files")
    parser.add_argument(
        "--extra-sql",
        action="append",
        default=[],
        metavar="SQL",
        help="run on every database after it is generated (e.g. an index to try); SQLite runs"
        " it on the scratch copy, never on the cached file",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also print each page's SQL statements with their time and plan",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each load, wait up to this long for other processes to go quiet",
    )
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not set(args.databases) <= {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite and/or postgresql")
    return args


# ---- databases ---------------------------------------------------------------------------------


def generate(url: str, parcels: int, seed: int, log: Path) -> float:
    """Run generate_parcels.py in its own process (the app reads its config at import)."""
    started = time.perf_counter()
    command = [
        str(PYTHON),
        str(BENCH / "generate_parcels.py"),
        "--database-url",
        url,
        "--parcels",
        str(parcels),
        "--seed",
        str(seed),
    ]
    with log.open("ab") as out:
        # Our own script with values built above, no shell.
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"the generator failed:\n{log.read_text()[-3000:]}")
    return time.perf_counter() - started


def generator_digest() -> str:
    """A short hash of everything a generated file depends on."""
    digest = hashlib.sha256()
    for pattern in GENERATOR_INPUTS:
        for path in sorted(REPO.glob(pattern)):
            digest.update(path.relative_to(REPO).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def sqlite_database(parcels: int, args: argparse.Namespace, tmp: Path) -> tuple[str, dict]:
    """A scratch copy of the generated SQLite file (from the cache when it is there)."""
    name = f"parcels-{parcels}-seed{args.seed}-{generator_digest()}.sqlite3"
    cached = args.cache_dir / name
    info: dict[str, Any] = {"cache_file": str(cached)}
    if args.no_cache or not cached.exists():
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        building = args.cache_dir / f"{name}.building-{os.getpid()}"
        print(f"setup: generating {parcels:,} parcels into {cached} ...", flush=True)
        try:
            info["generate_s"] = generate(
                f"sqlite:///{building}", parcels, args.seed, tmp / "generate.log"
            )
            for suffix in ("-wal", "-shm"):
                Path(f"{building}{suffix}").unlink(missing_ok=True)
            building.replace(cached)
            # Files of older generator versions are never read again.
            for stale in args.cache_dir.glob(f"parcels-{parcels}-seed{args.seed}-*.sqlite3"):
                if stale != cached:
                    stale.unlink()
        finally:
            building.unlink(missing_ok=True)
        info["cached"] = False
    else:
        print(f"setup: {parcels:,} parcels from the cache ({cached})", flush=True)
        info["cached"] = True
    scratch = tmp / f"sqlite-{parcels}.sqlite3"
    shutil.copyfile(cached, scratch)
    info["bytes"] = scratch.stat().st_size
    url = f"sqlite:///{scratch}"
    for sql in args.extra_sql:
        run_sql(url, sql)
    return url, info


@contextmanager
def postgres_server(tmp: Path) -> Iterator[Any]:
    """The test suite's private PostgreSQL server (tests/pg_server.py), or None without binaries."""
    sys.path.insert(0, str(REPO))
    from tests.pg_server import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        yield None
        return
    server = PostgresServer(bindir)
    print(f"setup: starting PostgreSQL from {bindir} ...", flush=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def postgres_database(server: Any, parcels: int, args: argparse.Namespace, tmp: Path) -> tuple:
    """A new database on the private server, filled by the generator."""
    url = server.create_database(f"bench_{parcels}")
    print(f"setup: generating {parcels:,} parcels into PostgreSQL ...", flush=True)
    info = {"generate_s": generate(url, parcels, args.seed, tmp / "generate.log"), "cached": False}
    for sql in args.extra_sql:
        run_sql(url, sql)
        run_sql(url, "ANALYZE")
    settle(url)
    return url, info


def settle(url: str) -> None:
    """Leave a freshly loaded PostgreSQL database as autovacuum soon would: hint bits and the
    visibility map set, statistics taken, dirty pages written. Otherwise the first pages
    measured set hint bits on every row they read (writes) and no scan is index-only, which
    made the 1M figures up to twice as slow as the same database minutes later."""
    print("setup: VACUUM (ANALYZE) and CHECKPOINT ...", flush=True)
    run_sql(url, "VACUUM (ANALYZE)")
    run_sql(url, "CHECKPOINT")


def run_sql(url: str, sql: str) -> None:
    """One statement outside the app (an index to try), committed."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


# ---- logging in --------------------------------------------------------------------------------


def cookies_from(response: http.client.HTTPResponse) -> dict[str, str]:
    """name -> value of the response's Set-Cookie headers."""
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, value = header.split(";", 1)[0].partition("=")
        found[name.strip()] = value.strip()
    return found


def login(port: int) -> str:
    """Log in as the measured customer like a browser would; return the Cookie header."""
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
    form = {"identifier": MEASURED_EMAIL, "password": PASSWORD, "csrf_token": match.group(1)}
    status, body = request("POST", "/auth/login", urlencode(form))
    if status not in (302, 303) or "session" not in jar:
        raise SystemExit(f"login refused: HTTP {status} {body[:200]!r}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


# ---- measuring ---------------------------------------------------------------------------------


def check_page(port: int, path: str, headers: dict, marker: bytes, rows: int) -> str | None:
    """None when the page is whole (HTTP 200, `rows` rows), else what is wrong with it."""
    started = time.perf_counter()
    status, body = http_get(port, path, headers, timeout=120)
    elapsed = time.perf_counter() - started
    found = body.count(marker)
    if status != 200 or found != rows or b"<html" not in body:
        return f"HTTP {status} after {elapsed:.1f} s, {found} rows (expected {rows}), {len(body)} B"
    print(f"http: {path} checked: {len(body):,} bytes, {elapsed * 1000:.0f} ms", flush=True)
    return None


def bench_portal(url: str, env: dict, args: argparse.Namespace, tmp: Path, tag: str) -> dict:
    """Every page of PAGES under gunicorn on one database."""
    results = {}
    server_env = {**env, "DATABASE_URL": url}
    with gunicorn("wsgi:app", REPO, server_env, args, tmp / f"gunicorn-{tag}.log") as (
        server,
        port,
    ):
        headers = {"Cookie": login(port)}
        for label, path, marker, rows in PAGES:
            problem = check_page(port, path.format(n=0), headers, marker, rows)
            if problem:
                # A page that fails is a result too: report it and go on with the others.
                log_tail = (tmp / f"gunicorn-{tag}.log").read_text(errors="replace")[-600:]
                print(f"FAILED: {tag} {path}: {problem}\n{log_tail}", flush=True)
                results[path] = {"label": label, "error": problem}
                continue
            wait_for_quiet(args.wait_idle)
            print(f"http: {tag} {label} ...", flush=True)
            result = run_load(port, path, headers, args, server.pid, distinct="{n}" in path)
            result["label"] = label
            results[path] = result
    return results


def bench_minimal(env: dict, args: argparse.Namespace, tmp: Path, tag: str) -> dict:
    with gunicorn("minimal_app:app", BENCH, env, args, tmp / f"gunicorn-minimal-{tag}.log") as (
        server,
        port,
    ):
        status, body = http_get(port, "/", {})
        if status != 200 or body != b"ok":
            raise SystemExit(f"minimal app check failed: HTTP {status}, {body[:80]!r}")
        wait_for_quiet(args.wait_idle)
        print(f"http: minimal app ({tag}) ...", flush=True)
        return run_load(port, "/", {}, args, server.pid)


# ---- the queries of a page ---------------------------------------------------------------------


def explain_pages(url: str) -> list[dict]:
    """Each page once on the Flask test client; every statement re-run on its own and explained.

    A statement's time is measured by running it again through the driver with all its rows
    fetched (SQLite does most of the work while rows are fetched, after `execute` returns).
    """
    from sqlalchemy import event

    from portal import create_app
    from portal.extensions import db

    # Without the page cache: the point is the SQL each page runs when it is rendered.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PAGE_CACHE_ENTRIES": 0})
    client = app.test_client()
    page = client.get("/auth/login").get_data()
    token = CSRF_META.search(page).group(1).decode()
    # The test client speaks https (PREFERRED_URL_SCHEME), where Flask-WTF wants a Referer.
    response = client.post(
        "/auth/login",
        data={"identifier": MEASURED_EMAIL, "password": PASSWORD, "csrf_token": token},
        headers={"Referer": "https://localhost/auth/login"},
    )
    if response.status_code not in (302, 303):
        raise SystemExit(f"explain: login refused (HTTP {response.status_code})")
    captured: list[tuple[str, Any]] = []
    # Requests run outside any app context of ours: each has its own session and `g`.
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(_conn, _cursor, statement, parameters, _context, _many):
        captured.append((statement, parameters))

    sqlite = engine.dialect.name == "sqlite"
    # PostgreSQL: EXPLAIN ANALYZE runs the statement (under the app's statement timeout).
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    pages = []
    for label, path, _marker, _rows in PAGES:
        path = path.format(n=0)
        client.get(path)  # warm
        captured.clear()
        started = time.perf_counter()
        status = client.get(path).status_code
        total = time.perf_counter() - started
        statements = list(captured)
        entries = []
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                t0 = time.perf_counter()
                try:
                    cursor.execute(statement, parameters)
                    rows = len(cursor.fetchall())
                    elapsed = time.perf_counter() - t0
                    cursor.execute(prefix + statement, parameters)
                    plan = [str(r[-1]) if sqlite else r[0] for r in cursor.fetchall()]
                except Exception as err:  # noqa: BLE001 - reported with the statement
                    elapsed = time.perf_counter() - t0
                    raw.rollback()
                    rows = -1
                    cursor.execute("EXPLAIN " + statement, parameters)  # the plan, not run
                    plan = [f"FAILED after {elapsed:.1f} s: {type(err).__name__}: {err}"]
                    plan += [str(r[-1]) if sqlite else r[0] for r in cursor.fetchall()]
                entries.append(
                    {
                        "sql": " ".join(statement.split()),
                        "ms": elapsed * 1000,
                        "rows": rows,
                        "plan": plan,
                    }
                )
            raw.rollback()
        finally:
            raw.close()
        pages.append(
            {
                "label": label,
                "path": path,
                "status": status,
                "request_ms": total * 1000,
                "statements": entries,
            }
        )
    engine.dispose()
    return pages


def print_explain(title: str, pages: list[dict]) -> None:
    print(f"\n==== SQL of each page: {title} ====")
    for page in pages:
        sql_ms = sum(s["ms"] for s in page["statements"])
        print(
            f"-- {page['label']} ({page['path']}): HTTP {page['status']},"
            f" request {page['request_ms']:.1f} ms"
            f" on the test client, SQL {sql_ms:.1f} ms"
        )
        for s in page["statements"]:
            print(f"   {s['ms']:8.2f} ms {s['rows']:>5} rows  {s['sql'][:140]}")
            for line in s["plan"]:
                print(f"        | {line}")


# ---- report ------------------------------------------------------------------------------------


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def summary(figures: dict) -> str:
    env, s = figures["environment"], figures["settings"]
    minimal = figures["minimal"]
    base = figures["minimal_rps"]
    lines = [
        "",
        f"Parcel list / my orders benchmark, {env['date']}: {env['cpus']} CPUs,"
        f" Python {env['python']}, gunicorn {env['gunicorn']}",
        f"Measured customer: {MEASURED_EMAIL}, 5,000 parcels, about 200 orders; 20 rows a page",
        f"gunicorn -w {s['workers']} -k {s['worker_class']}; load generator: {s['connections']}"
        f" connections in one separate process, {s['warmup_s']:g} s warm-up +"
        f" {s['duration_s']:g} s measured",
    ]
    if figures["extra_sql"]:
        lines.append(f"Extra SQL applied to every database: {'; '.join(figures['extra_sql'])}")
    lines += [
        "",
        f"  {'database':<11}{'parcels':>8}  {'page':<28}{'req/s':>9}{'ratio':>8}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'server':>8}{'other':>7}",
    ]
    for m in minimal:
        lines.append(
            f"  {'-':<11}{'-':>8}  {'minimal Flask app (' + m['when'] + ')':<28}{m['rps']:>9,.0f}"
            f"{'':>8}{m['latency_ms']['p50']:>9.2f}{m['latency_ms']['p99']:>9.2f}"
            f"{m['server_cpu_cores']:>8.2f}{m['other_cpu_cores']:>7.2f}"
        )
    for run in figures["runs"]:
        for result in run["pages"].values():
            if "error" in result:
                lines.append(
                    f"  {run['database']:<11}{size_label(run['parcels']):>8}  {result['label']:<28}"
                    f"  FAILED: {result['error']}"
                )
                continue
            ratio = result["rps"] / base
            lines.append(
                f"  {run['database']:<11}{size_label(run['parcels']):>8}  {result['label']:<28}"
                f"{result['rps']:>9,.1f}{ratio:>8.1%}{result['latency_ms']['p50']:>9.1f}"
                f"{result['latency_ms']['p99']:>9.1f}{result['server_cpu_cores']:>8.2f}"
                f"{result['other_cpu_cores']:>7.2f}"
            )
    lines += [
        f"  ratio = page req/s / minimal req/s ({base:,.0f}, the mean of the two minimal runs);"
        f" target >= {TARGET_RATIO:.0%}. server/other = CPU cores used by gunicorn / by the"
        " rest of the machine (PostgreSQL counts as other)",
    ]
    growth = figures.get("growth", [])
    if growth:
        lines += [
            "",
            f"  Page time growth (time per request = 1 / req/s; target <= {TARGET_GROWTH}x):",
        ]
        for g in growth:
            if g.get("failed"):
                lines.append(
                    f"  {g['database']:<11}{size_label(g['big']) + '/' + size_label(g['small']):>8}"
                    f"  {g['label']:<28}  a page failed: MISSED"
                )
                continue
            verdict = "ok" if g["time_ratio"] <= TARGET_GROWTH else "MISSED"
            lines.append(
                f"  {g['database']:<11}{size_label(g['big']) + '/' + size_label(g['small']):>8}"
                f"  {g['label']:<28}{g['time_ratio']:>8.2f}x  (p50 {g['p50_ratio']:.2f}x)"
                f"  {verdict}"
            )
    return "\n".join(lines)


def growth_rows(runs: list[dict]) -> list[dict]:
    """For each database, each page's time at the biggest size over the smallest."""
    rows = []
    for database in dict.fromkeys(r["database"] for r in runs):
        mine = sorted((r for r in runs if r["database"] == database), key=lambda r: r["parcels"])
        if len(mine) < 2:
            continue
        small, big = mine[0], mine[-1]
        for path, result in big["pages"].items():
            before = small["pages"][path]
            if "error" in result or "error" in before:
                rows.append(
                    {
                        "database": database,
                        "small": small["parcels"],
                        "big": big["parcels"],
                        "label": result["label"],
                        "failed": True,
                    }
                )
                continue
            rows.append(
                {
                    "database": database,
                    "small": small["parcels"],
                    "big": big["parcels"],
                    "label": result["label"],
                    "time_ratio": before["rps"] / result["rps"],
                    "p50_ratio": result["latency_ms"]["p50"] / before["latency_ms"]["p50"],
                }
            )
    return rows


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    idle = wait_for_quiet(args.wait_idle)
    if idle >= 0.25:
        print(
            f"warning: other processes keep {idle:.2f} CPU cores busy; the figures will be noisy",
            file=sys.stderr,
            flush=True,
        )
    env = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PORTAL_ENV": "production",
        "FLASK_APP": "portal",
    }
    os.environ.update(env)  # before `import portal` (explain): config reads it at import
    with tempfile.TemporaryDirectory(prefix="parcels-bench-") as tmp_name:
        tmp = Path(tmp_name)
        runs: list[dict] = []
        minimal = [bench_minimal(env, args, tmp, "first")]
        minimal[0]["when"] = "first"
        for database in args.databases:
            with postgres_server(tmp) if database == "postgresql" else _nothing() as server:
                if database == "postgresql" and server is None:
                    print("note: no PostgreSQL binaries found, PostgreSQL skipped", flush=True)
                    continue
                for parcels in args.sizes:
                    if database == "sqlite":
                        url, info = sqlite_database(parcels, args, tmp)
                    else:
                        url, info = postgres_database(server, parcels, args, tmp)
                    tag = f"{database}-{size_label(parcels)}"
                    pages = bench_portal(url, env, args, tmp, tag)
                    run = {"database": database, "parcels": parcels, "setup": info, "pages": pages}
                    if args.explain:
                        run["explain"] = explain_pages(url)
                        print_explain(tag, run["explain"])
                    runs.append(run)
        last = bench_minimal(env, args, tmp, "last")
        last["when"] = "last"
        minimal.append(last)
    figures = {
        "environment": {
            "date": date.today().isoformat(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "gunicorn": gunicorn_version(),
            "platform": platform.platform(),
            "background_cpu_cores_before": idle,
        },
        "settings": {
            "workers": args.workers,
            "worker_class": args.worker_class,
            "connections": args.connections,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "seed": args.seed,
        },
        "extra_sql": args.extra_sql,
        "minimal": minimal,
        "minimal_rps": sum(m["rps"] for m in minimal) / len(minimal),
        "runs": runs,
        "growth": growth_rows(runs),
    }
    print(summary(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped and temp files removed", file=sys.stderr)
        sys.exit(130)
