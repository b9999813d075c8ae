"""Browser fixtures: the system Chromium, a live server per test, a desktop and a phone viewport.

Every browser test runs on both databases (through the `app` fixture of tests/conftest.py) and on
both viewports. The browser is started once per session; each test gets a fresh context (cookies,
storage, clipboard permission) pointed at its own live server. When a test fails, a full-page
screenshot is kept in test-artifacts/.
"""

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from tests.test_orders import shop  # noqa: F401 (a fixture shared with the unit tests)

CHROMIUM = "/usr/bin/chromium"
IN_CI = bool(os.environ.get("CI"))
ARTIFACTS_DIR = "test-artifacts"
# Running as root needs --no-sandbox; without the background-networking flags Chromium hangs on
# a closed network while it tries to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    is_mobile: bool = False

    def context_options(self) -> dict:
        options: dict = {"viewport": {"width": self.width, "height": self.height}}
        if self.is_mobile:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        return options


VIEWPORTS = (
    Viewport("desktop", 1280, 800),
    Viewport("phone", 375, 812, is_mobile=True),
)


@dataclass
class ConsoleLog:
    """Console messages of type error and uncaught page errors seen during a test."""

    errors: list[str] = field(default_factory=list)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (rep_setup, rep_call, rep_teardown) for fixtures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_collection_modifyitems(config, items):
    """Say loudly that the browser tests are skipped when the system Chromium is missing.

    (In CI the `browser` fixture fails them instead.)
    """
    if os.path.exists(CHROMIUM):
        return
    message = f"NO SYSTEM CHROMIUM AT {CHROMIUM}: the browser tests are SKIPPED."
    if not IN_CI:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and any("e2e" in item.keywords for item in items):
            reporter.write_line(
                message + " Install the Debian package 'chromium' to run them.",
                red=True,
                bold=True,
            )


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"No system Chromium at {CHROMIUM} (install the Debian package 'chromium')"
        if IN_CI:
            pytest.fail(message + ": CI must run the browser tests.")
        pytest.skip(message)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture(params=VIEWPORTS, ids=[v.name for v in VIEWPORTS])
def viewport(request) -> Viewport:
    return request.param


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve the test's app (SQLite or PostgreSQL) on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def context(browser, viewport, live_server):
    context = browser.new_context(
        base_url=live_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["clipboard-read", "clipboard-write"],
        **viewport.context_options(),
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def console_log() -> ConsoleLog:
    return ConsoleLog()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_") + ".png"


@pytest.fixture
def page(request, context, console_log):
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    page = context.new_page()

    def on_console(msg) -> None:
        url = msg.location.get("url", "")
        if msg.type == "error":
            console_log.errors.append(f"console: {msg.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console_log.errors.append(f"pageerror: {exc}"))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        directory = Path(request.config.rootpath) / ARTIFACTS_DIR
        directory.mkdir(exist_ok=True)
        path = directory / _artifact_name(request.node.nodeid)
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # noqa: BLE001 (a screenshot must not hide the real failure)
            print(f"could not save the failure screenshot: {exc}")
    page.close()
