"""Benchmark the live quote: in-process pricing, and the /quote fragment under gunicorn.

Run from the repository root:  .venv/bin/python bench/quote_bench.py [--json out.json]
See bench/README.md for what is measured and how to read the figures.
"""

import argparse
import cProfile
import http.client
import io
import itertools
import json
import os
import platform
import pstats
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from synthetic_card import build_card

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
GUNICORN = VENV_BIN / "gunicorn"
DEMO_CARD = REPO / "docs" / "examples" / "rate-card"

COUNTRY = "US"
QUOTE_PATH = "/quote?country=US&postcode=10001&weight=2.5&length=40&width=30&height=20"
# The cache-busting variant: every request declares another value, so its query string (and its
# duties) differ and the fragment cache never answers.
DISTINCT_PATH = QUOTE_PATH + "&declared={n}"
HX_HEADERS = {"HX-Request": "true"}
OFFER_MARKER = b'data-testid="offer"'
MIN_CHANNELS = 32
TARGET_RATIO = 0.5
# Issue 15: at least this ratio with distinct parameters on every request.
DISTINCT_TARGET_RATIO = 0.25


# ---- command line ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="HTTP seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="HTTP warm-up seconds")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--connections", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--channels", type=int, default=MIN_CHANNELS, help="active US channels")
    parser.add_argument("--runs", type=int, default=5, help="in-process runs (median)")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each phase, wait up to this long for other processes to go quiet",
    )
    parser.add_argument("--skip-http", action="store_true", help="in-process figures only")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=500,
        metavar="N",
        help="profile N fragment requests (distinct parameters) on the test client (default 500)",
    )
    args = parser.parse_args(argv)
    if args.channels < MIN_CHANNELS:
        parser.error(f"--channels must be at least {MIN_CHANNELS}")
    return args


# ---- the scratch database ----------------------------------------------------------------------


def configure_environment(tmp: Path) -> dict[str, str]:
    """Point this process (and the servers it starts) at a scratch database, production config."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PORTAL_ENV": "production",
        "FLASK_APP": "portal",
    }
    # Before the first `import portal`: the config classes read the environment at import time.
    os.environ.update(env)
    return env


def prepare_database(app: Any, tmp: Path, channels: int) -> dict:
    """Migrate, load the demo data, import the benchmark card and check it is the one in force."""
    from flask_migrate import upgrade

    from portal.cli import load_demo_data
    from portal.extensions import db
    from portal.models import RateCard
    from portal.quote.offers import serving
    from portal.services import rate_cards
    from portal.services.rate_sheets import RateSheetInvalid, import_rate_card

    with app.app_context():
        upgrade()
        load_demo_data()
        db.session.commit()
        demo = db.session.query(RateCard).one()
        today = rate_cards.business_today()
        if today < demo.valid_from:
            raise SystemExit(f"the demo card starts on {demo.valid_from}, after today ({today})")
        valid_from = min(today, demo.valid_from + timedelta(days=1))
        version = f"bench-{valid_from:%Y%m%d}"
        folder = tmp / "bench-card"
        built = build_card(DEMO_CARD, folder, version, valid_from, COUNTRY, channels)
        try:
            card = import_rate_card(folder)
        except RateSheetInvalid as err:
            problems = "\n".join(str(p) for p in err.problems[:20])
            raise SystemExit(f"the benchmark card was refused:\n{problems}") from None
        db.session.commit()
        in_force = rate_cards.current_card(today)
        if in_force is None or in_force.version != version:
            raise SystemExit(f"card {version} imported but {in_force} is in force")
        served = serving(rate_cards.channels_in_force(today), COUNTRY)
        if len(served) != built or len(served) < MIN_CHANNELS:
            raise SystemExit(f"expected {built} active {COUNTRY} channels, found {len(served)}")
        return {
            "demo_card": {"version": demo.version, "valid_from": demo.valid_from.isoformat()},
            "bench_card": {
                "version": card.version,
                "valid_from": card.valid_from.isoformat(),
                "channels_total": len(card.channels),
                "active_channels_to_country": len(served),
            },
            "business_today": today.isoformat(),
        }


# ---- in-process figures ------------------------------------------------------------------------


def per_second(fn: Callable[[], object], runs: int, min_seconds: float) -> dict:
    """Calls per second of `fn`: each run loops for at least `min_seconds`; median of the runs."""
    batch = 1
    while True:
        started = time.perf_counter()
        for _ in range(batch):
            fn()
        if time.perf_counter() - started >= 0.02:
            break
        batch *= 2
    rates, iterations = [], []
    machine_before, own_before = machine_busy_seconds(), own_cpu_seconds()
    wall_started = time.perf_counter()
    for _ in range(runs):
        count = 0
        started = time.perf_counter()
        while True:
            for _ in range(batch):
                fn()
            count += batch
            elapsed = time.perf_counter() - started
            if elapsed >= min_seconds:
                break
        rates.append(count / elapsed)
        iterations.append(count)
    wall = time.perf_counter() - wall_started
    others = (machine_busy_seconds() - machine_before) - (own_cpu_seconds() - own_before)
    return {
        "median": statistics.median(rates),
        "runs": rates,
        "iterations": iterations,
        "other_cpu_cores": max(0.0, others) / wall,
    }


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_in_process(app: Any, runs: int, min_seconds: float) -> dict:
    """quote() on one channel, quote_all() on every US channel, the fragment on the test client."""
    from flask import request

    from portal.quote.forms import QuoteForm
    from portal.quote.offers import country_choices, serving
    from portal.services import rate_cards
    from portal.services.pricing import quote, quote_all

    with app.test_request_context(QUOTE_PATH, headers=HX_HEADERS):
        today = rate_cards.business_today()
        everything = rate_cards.channels_in_force(today)
        form = QuoteForm(request.args, countries=country_choices(everything))
        if not form.validate():
            raise SystemExit(f"the benchmark URL does not validate: {form.errors}")
        wanted = serving(everything, COUNTRY)
        order = form.to_request(today)
    first = wanted[0]
    quotes = quote_all(wanted, order)
    available = sum(1 for q in quotes if q.available)
    if available < MIN_CHANNELS:
        raise SystemExit(f"only {available} of {len(wanted)} channels can carry the shipment")

    print(f"in-process: quote() on {first.code} ...", flush=True)
    one = per_second(lambda: quote(first, order), runs, min_seconds)
    print(f"in-process: quote_all() on {len(wanted)} channels ...", flush=True)
    every = per_second(lambda: quote_all(wanted, order), runs, min_seconds)

    client = app.test_client()

    def fragment() -> None:
        response = client.get(QUOTE_PATH, headers=HX_HEADERS)
        if response.status_code != 200:
            raise RuntimeError(f"test client: HTTP {response.status_code}")

    body = client.get(QUOTE_PATH, headers=HX_HEADERS).get_data()
    if body.count(OFFER_MARKER) != available:
        raise SystemExit(f"test client fragment has {body.count(OFFER_MARKER)} offers")
    print("in-process: GET fragment on the Flask test client ...", flush=True)
    rendered = per_second(fragment, runs, min_seconds)

    numbers = itertools.count(1)

    def distinct_fragment() -> None:
        path = DISTINCT_PATH.format(n=next(numbers))
        response = client.get(path, headers=HX_HEADERS)
        if response.status_code != 200:
            raise RuntimeError(f"test client: HTTP {response.status_code} for {path}")

    distinct_body = client.get(DISTINCT_PATH.format(n=0), headers=HX_HEADERS).get_data()
    if distinct_body.count(OFFER_MARKER) != available:
        found = distinct_body.count(OFFER_MARKER)
        raise SystemExit(f"test client distinct fragment has {found} offers")
    print("in-process: GET fragment, distinct parameters, on the Flask test client ...", flush=True)
    distinct = per_second(distinct_fragment, runs, min_seconds)
    return {
        "request": {"path": QUOTE_PATH, "headers": HX_HEADERS},
        "one_channel": {"channel": first.code, "quotes_per_s": one},
        "all_channels": {
            "channels": len(wanted),
            "available": available,
            "calls_per_s": every,
            "channel_quotes_per_s": every["median"] * len(wanted),
        },
        "test_client_fragment": {
            "requests_per_s": rendered,
            "offers": available,
            "bytes": len(body),
        },
        "test_client_distinct": {
            "path": DISTINCT_PATH,
            "requests_per_s": distinct,
            "ms_per_request": 1000 / distinct["median"],
            "offers": available,
            "bytes": len(distinct_body),
        },
    }


def profile_fragment(app: Any, requests: int) -> str:
    """cProfile of `requests` fragment requests on the test client, each with distinct
    parameters (a cache hit would hide the work); the top of the report."""
    client = app.test_client()
    client.get(DISTINCT_PATH.format(n=0), headers=HX_HEADERS)
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(1, requests + 1):
        client.get(DISTINCT_PATH.format(n=n), headers=HX_HEADERS)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"==== {requests} fragment requests (distinct), by cumulative time ====\n")
    stats.sort_stats("cumulative").print_stats(40)
    out.write("==== by own time ====\n")
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


# ---- gunicorn ----------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str, headers: dict[str, str], timeout: float = 10) -> tuple:
    """One GET on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (Linux /proc; 0 when unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (Linux /proc/stat)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    ticks = [int(x) for x in first[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def background_load(seconds: float = 2.0) -> float:
    """CPU cores busy on the machine while this process sleeps (others' load)."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / seconds


def wait_for_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait (at most `limit` s) until others use under `threshold` cores; return their load."""
    deadline = time.monotonic() + limit
    load = background_load()
    while load >= threshold and time.monotonic() < deadline:
        print(f"waiting: other processes use {load:.2f} CPU cores", file=sys.stderr, flush=True)
        load = background_load(5.0)
    return load


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a gunicorn master and its current workers."""
    total = process_cpu_seconds(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(process_cpu_seconds(int(child)) for child in children)


@contextmanager
def gunicorn(
    app_spec: str, chdir: Path, env: dict[str, str], args: argparse.Namespace, log: Path
) -> Iterator[tuple[subprocess.Popen, int]]:
    """Run gunicorn in its own process group until the block ends (also on errors and Ctrl-C)."""
    port = free_port()
    command = [
        str(GUNICORN),
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(chdir),
        "--log-level",
        "warning",
        app_spec,
    ]
    with log.open("wb") as log_file:
        # A fixed argv of our own: the venv's gunicorn and values built above (no shell).
        server = subprocess.Popen(  # noqa: S603
            command,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ready(server, port, log)
        yield server, port
    finally:
        stop(server)


def wait_until_ready(server: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> None:
    """Poll until the server answers (the warm-up covers the other workers' boot)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}:\n{log.read_text()}")
        try:
            http_get(port, "/", {}, timeout=2)
        except OSError:
            time.sleep(0.1)
            continue
        return
    raise SystemExit(f"gunicorn did not answer within {timeout} s:\n{log.read_text()}")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL after 10 s."""
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        server.wait()


def run_load(
    port: int,
    path: str,
    headers: dict[str, str],
    args: argparse.Namespace,
    server_pid: int,
    distinct: bool = False,
) -> dict:
    """Run bench/loadgen.py in its own process; add the CPU used by it and by the server."""
    command = [
        str(PYTHON),
        str(BENCH / "loadgen.py"),
        "--port",
        str(port),
        "--path",
        path,
        "--connections",
        str(args.connections),
        "--warmup",
        str(args.warmup),
        "--duration",
        str(args.duration),
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    if distinct:
        command.append("--distinct")
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = tree_cpu_seconds(server_pid)
    machine_before = machine_busy_seconds()
    started = time.perf_counter()
    # Our own script with values built above, no shell.
    done = subprocess.run(  # noqa: S603
        command,
        capture_output=True,
        text=True,
        timeout=args.warmup + args.duration + 120,
        check=False,
    )
    wall = time.perf_counter() - started
    server_cpu = tree_cpu_seconds(server_pid) - server_before
    machine_cpu = machine_busy_seconds() - machine_before
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"load generator failed:\n{done.stderr}")
    result = json.loads(done.stdout)
    loadgen_cpu = (after_children.ru_utime - before_children.ru_utime) + (
        after_children.ru_stime - before_children.ru_stime
    )
    result["wall_s"] = wall
    result["server_cpu_cores"] = server_cpu / wall
    result["loadgen_cpu_cores"] = loadgen_cpu / wall
    result["other_cpu_cores"] = max(0.0, machine_cpu - server_cpu - loadgen_cpu) / wall
    # Requests per CPU-second of the server: independent of the client's share of the machine.
    result["requests_per_server_cpu_s"] = (
        result["requests"] * wall / args.duration / server_cpu if server_cpu else 0.0
    )
    if result["errors"]:
        samples = "; ".join(result["error_samples"])
        raise SystemExit(f"{result['errors']} failed requests on {path}: {samples}")
    return result


def bench_portal(
    env: dict[str, str], args: argparse.Namespace, tmp: Path, offers: int
) -> tuple[dict, dict]:
    """Requests per second of the all-channels quote fragment under gunicorn: one URL over and
    over (the fragment cache answers), then a distinct URL on every request (it never can)."""
    with gunicorn("wsgi:app", REPO, env, args, tmp / "gunicorn-portal.log") as (server, port):
        for path in (QUOTE_PATH, DISTINCT_PATH.format(n=0)):
            status, body = http_get(port, path, HX_HEADERS)
            found = body.count(OFFER_MARKER)
            if status != 200 or found < MIN_CHANNELS or found != offers or b"<html" in body:
                raise SystemExit(
                    f"portal check failed: {path}: HTTP {status}, {found} offers, {len(body)} B"
                )
        print(f"http: portal fragment ({found} offers, {len(body)} bytes) ...", flush=True)
        same = run_load(port, QUOTE_PATH, HX_HEADERS, args, server.pid)
        print("http: portal fragment, distinct parameters ...", flush=True)
        distinct = run_load(port, DISTINCT_PATH, HX_HEADERS, args, server.pid, distinct=True)
        same["offers"] = distinct["offers"] = found
        return same, distinct


def bench_minimal(env: dict[str, str], args: argparse.Namespace, tmp: Path) -> dict:
    """Requests per second of a one-route Flask app under the same gunicorn settings."""
    with gunicorn("minimal_app:app", BENCH, env, args, tmp / "gunicorn-minimal.log") as (
        server,
        port,
    ):
        status, body = http_get(port, "/", {})
        if status != 200 or body != b"ok":
            raise SystemExit(f"minimal app check failed: HTTP {status}, {body[:80]!r}")
        print("http: minimal app ...", flush=True)
        return run_load(port, "/", {}, args, server.pid)


# ---- report ------------------------------------------------------------------------------------


def gunicorn_version() -> str:
    """The installed gunicorn's version."""
    from importlib.metadata import version

    return version("gunicorn")


def summary(figures: dict) -> str:
    """The human-readable table."""
    env, setup, inproc = figures["environment"], figures["setup"], figures["in_process"]
    card = setup["bench_card"]
    lines = [
        "",
        f"Quote benchmark, {env['date']}: {env['cpus']} CPUs, Python {env['python']},"
        f" gunicorn {env['gunicorn']}",
        f"Rate card {card['version']} (valid from {card['valid_from']}):"
        f" {card['active_channels_to_country']} active channels to {COUNTRY}",
        f"Request: GET {QUOTE_PATH} (and with &declared=<n>, n distinct per request)",
        "",
        f"In-process (median of {env['runs']} runs, each >= {env['min_seconds']:g} s)",
    ]
    one, every = inproc["one_channel"], inproc["all_channels"]
    tc, td = inproc["test_client_fragment"], inproc["test_client_distinct"]
    background = max(
        one["quotes_per_s"]["other_cpu_cores"],
        every["calls_per_s"]["other_cpu_cores"],
        tc["requests_per_s"]["other_cpu_cores"],
        td["requests_per_s"]["other_cpu_cores"],
    )
    rows = [
        (
            f"quote(), 1 channel ({one['channel']})",
            f"{one['quotes_per_s']['median']:,.0f}",
            "quotes/s",
        ),
        (
            f"quote_all(), {every['channels']} channels",
            f"{every['calls_per_s']['median']:,.0f}",
            f"calls/s (= {every['channel_quotes_per_s']:,.0f} channel quotes/s)",
        ),
        (
            f"Flask test client, fragment ({tc['offers']} offers)",
            f"{tc['requests_per_s']['median']:,.1f}",
            "requests/s (one process, no network)",
        ),
        (
            "Flask test client, distinct parameters",
            f"{td['requests_per_s']['median']:,.1f}",
            f"requests/s (= {td['ms_per_request']:.2f} ms a request)",
        ),
    ]
    lines += [f"  {label:<42}{value:>10} {unit}" for label, value, unit in rows]
    lines.append(
        f"  other processes used at most {background:.2f} CPU cores during these runs"
        f" ({env['background_cpu_cores_before']:.2f} before the start)"
    )
    http_figures = figures.get("http")
    if http_figures:
        s = http_figures["settings"]
        lines += [
            "",
            f"HTTP under gunicorn (-w {s['workers']} -k {s['worker_class']}), load generator:"
            f" {s['connections']} connections in one separate process,"
            f" {s['warmup_s']:g} s warm-up + {s['duration_s']:g} s measured",
            f"  {'target':<28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'server CPU':>12}{'client CPU':>12}{'other CPU':>12}",
        ]
        for label, key in (
            ("portal fragment, one URL", "portal"),
            ("portal, distinct URLs", "portal_distinct"),
            ("minimal Flask app", "minimal"),
        ):
            r = http_figures[key]
            lines.append(
                f"  {label:<28}{r['rps']:>10,.1f}{r['latency_ms']['p50']:>9.2f}"
                f"{r['latency_ms']['p99']:>9.2f}{r['server_cpu_cores']:>8.2f} cpu"
                f"{r['loadgen_cpu_cores']:>8.2f} cpu{r['other_cpu_cores']:>8.2f} cpu"
            )
        ratio = http_figures["ratio"]
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        lines.append(
            f"  ratio portal/minimal: {ratio:.1%} ({verdict} the {TARGET_RATIO:.0%} target);"
            f" per server CPU-second: {http_figures['cpu_ratio']:.1%}"
            f" ({http_figures['portal']['requests_per_server_cpu_s']:,.0f} vs"
            f" {http_figures['minimal']['requests_per_server_cpu_s']:,.0f} requests)"
        )
        distinct = http_figures["distinct_ratio"]
        verdict = "meets" if distinct >= DISTINCT_TARGET_RATIO else "BELOW"
        lines.append(
            f"  ratio with distinct URLs: {distinct:.1%}"
            f" ({verdict} the {DISTINCT_TARGET_RATIO:.0%} target)"
        )
    return "\n".join(lines)


def _interrupt(signum: int, _frame: object) -> None:
    """Turn SIGTERM into KeyboardInterrupt so the cleanup below runs."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Set up, measure, report; servers and temp files are removed whatever happens."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    if not args.skip_http and not GUNICORN.exists():
        raise SystemExit(f"{GUNICORN} not found: run `make install` first")
    idle_check = wait_for_quiet(args.wait_idle)
    if idle_check >= 0.25:
        print(
            f"warning: other processes keep {idle_check:.2f} CPU cores busy;"
            " the figures will be low and noisy",
            file=sys.stderr,
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="quote-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = configure_environment(tmp)
        from portal import create_app
        from portal.extensions import db

        app = create_app()
        print(f"setup: scratch database in {tmp}", flush=True)
        setup = prepare_database(app, tmp, args.channels)
        figures: dict[str, Any] = {
            "environment": {
                "date": date.today().isoformat(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "gunicorn": gunicorn_version(),
                "platform": platform.platform(),
                "background_cpu_cores_before": idle_check,
                "runs": args.runs,
                "min_seconds": args.min_seconds,
            },
            "setup": setup,
            "in_process": measure_in_process(app, args.runs, args.min_seconds),
        }
        if args.profile:
            print(profile_fragment(app, args.profile))
        with app.app_context():
            db.engine.dispose()
        if not args.skip_http:
            offers = figures["in_process"]["all_channels"]["available"]
            wait_for_quiet(args.wait_idle)
            portal, distinct = bench_portal(env, args, tmp, offers)
            wait_for_quiet(args.wait_idle)
            minimal = bench_minimal(env, args, tmp)
            figures["http"] = {
                "settings": {
                    "workers": args.workers,
                    "worker_class": args.worker_class,
                    "connections": args.connections,
                    "warmup_s": args.warmup,
                    "duration_s": args.duration,
                    "load_generator": "bench/loadgen.py, one thread per connection, own process",
                },
                "portal": portal,
                "portal_distinct": distinct,
                "minimal": minimal,
                "ratio": portal["rps"] / minimal["rps"],
                "distinct_ratio": distinct["rps"] / minimal["rps"],
                "cpu_ratio": (
                    portal["requests_per_server_cpu_s"] / minimal["requests_per_server_cpu_s"]
                    if minimal["requests_per_server_cpu_s"]
                    else 0.0
                ),
            }
    print(summary(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped and temp files removed", file=sys.stderr)
        sys.exit(130)
