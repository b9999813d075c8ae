"""A light HTTP/1.1 load generator: N threads, one connection each, fixed duration after warm-up.

Run as its own process (quote_bench.py does) so it never shares an interpreter with the server:

    python bench/loadgen.py --port 8000 --path / --connections 4 --warmup 2 --duration 10

With `--distinct`, the path holds `{n}` and every request of the run gets its own number there
(thread t sends t, t + N, t + 2N, ... for N connections), so that no cache can answer twice.

Each thread sends GET requests back to back on one connection, keeps the connection open while the
server allows it (gunicorn's sync workers close after every response, so the thread reconnects,
and the connect is part of the measured time) and counts every response that completes inside
the measured window. Requests are pre-encoded and responses parsed by hand (status line,
Content-Length, Connection) to keep the client's CPU cost per request small. Any status other
than 200, any truncated response and any connection error is counted as an error. The result is
one JSON object on stdout.
"""

import argparse
import itertools
import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RECV_SIZE = 65536


class ProtocolError(Exception):
    """The server's answer could not be read as a plain HTTP/1.1 response."""


@dataclass
class Response:
    """What the client needs from one response."""

    status: int
    body_size: int
    close: bool


@dataclass
class ThreadStats:
    """Counters of one client thread (only its own thread writes them)."""

    requests: int = 0
    body_bytes: int = 0
    connects: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def encode_request(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    """The bytes of one GET request, built once and sent as is."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: */*"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def read_response(sock: socket.socket) -> Response:
    """Read one response (headers and a Content-Length or close-delimited body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(RECV_SIZE)
        if not chunk:
            raise ProtocolError("connection closed before the response headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    status = int(parts[1])
    length: int | None = None
    close = parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding":
            raise ProtocolError("chunked responses are not supported")
    if length is None:
        while chunk := sock.recv(RECV_SIZE):
            body += chunk
        return Response(status, len(body), True)
    size = len(body)
    while size < length:
        chunk = sock.recv(RECV_SIZE)
        if not chunk:
            raise ProtocolError("connection closed inside the body")
        size += len(chunk)
    if size != length:
        raise ProtocolError("more bytes than Content-Length (pipelining is not used)")
    return Response(status, size, close)


def _closed_while_idle(err: Exception) -> bool:
    """An error that means the server closed an idle kept-alive connection, not a failure."""
    if isinstance(err, ConnectionResetError | BrokenPipeError):
        return True
    return isinstance(err, ProtocolError) and "before the response headers" in str(err)


def client_loop(
    address: tuple[str, int],
    requests: Callable[[], bytes],
    window: tuple[float, float],
    start: threading.Barrier,
    stats: ThreadStats,
) -> None:
    """Send requests until the window closes; count those that complete inside it."""
    begin, end = window
    sock: socket.socket | None = None
    start.wait()
    while True:
        request = requests()
        sent_at = time.perf_counter()
        if sent_at >= end:
            break
        reused = sock is not None
        try:
            if sock is None:
                sock = socket.create_connection(address)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                stats.connects += 1
            sock.sendall(request)
            response = read_response(sock)
        except (OSError, ProtocolError) as err:
            if sock is not None:
                sock.close()
                sock = None
            if reused and _closed_while_idle(err):
                # A kept-alive connection the server had just closed: retry on a new one.
                continue
            stats.errors += 1
            if len(stats.error_samples) < 5:
                stats.error_samples.append(f"{type(err).__name__}: {err}")
            continue
        done_at = time.perf_counter()
        if response.close:
            sock.close()
            sock = None
        if response.status != 200:
            stats.errors += 1
            if len(stats.error_samples) < 5:
                stats.error_samples.append(f"HTTP {response.status}")
        if begin <= done_at < end:
            stats.requests += 1
            stats.body_bytes += response.body_size
            stats.latencies.append(done_at - sent_at)
    if sock is not None:
        sock.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted values lie (nearest rank)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def request_source(
    host: str, port: int, path: str, headers: dict[str, str], first: int, step: int, distinct: bool
) -> Callable[[], bytes]:
    """The next request of one thread: always the same bytes, or with `{n}` numbered."""
    if not distinct:
        request = encode_request(host, port, path, headers)
        return lambda: request
    numbers = itertools.count(first, step)
    return lambda: encode_request(host, port, path.format(n=next(numbers)), headers)


def run(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    connections: int,
    warmup: float,
    duration: float,
    distinct: bool = False,
) -> dict:
    """Load the server and return the figures of the measured window."""
    start = threading.Barrier(connections + 1)
    stats = [ThreadStats() for _ in range(connections)]
    now = time.perf_counter()
    window = (now + warmup, now + warmup + duration)
    threads = [
        threading.Thread(
            target=client_loop,
            args=(
                (host, port),
                request_source(host, port, path, headers, i, connections, distinct),
                window,
                start,
                one,
            ),
            daemon=True,
        )
        for i, one in enumerate(stats)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    latencies = sorted(x for s in stats for x in s.latencies)
    requests = sum(s.requests for s in stats)
    return {
        "path": path,
        "distinct": distinct,
        "connections": connections,
        "warmup_s": warmup,
        "duration_s": duration,
        "requests": requests,
        "rps": requests / duration,
        "errors": sum(s.errors for s in stats),
        "error_samples": [e for s in stats for e in s.error_samples][:5],
        "connects": sum(s.connects for s in stats),
        "avg_body_bytes": (sum(s.body_bytes for s in stats) / requests) if requests else 0,
        "latency_ms": {
            "mean": statistics.fmean(latencies) * 1000 if latencies else 0.0,
            "p50": percentile(latencies, 0.50) * 1000,
            "p90": percentile(latencies, 0.90) * 1000,
            "p99": percentile(latencies, 0.99) * 1000,
        },
    }


def parse_header(text: str) -> tuple[str, str]:
    """Split `Name: value` as given on the command line."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def main(argv: list[str] | None = None) -> int:
    """Command line: load one URL and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--header", type=parse_header, action="append", default=[])
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--distinct", action="store_true", help="number every request: {n} in the path"
    )
    args = parser.parse_args(argv)
    result = run(
        args.host,
        args.port,
        args.path,
        dict(args.header),
        args.connections,
        args.warmup,
        args.duration,
        args.distinct,
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
