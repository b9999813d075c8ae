"""HTTP-level guarantees: security headers, production cookies, CSRF, CSP-safe markup, error
pages, the vendored htmx and its upgrade check, escaping (see reliability.md, "Access, CSRF,
input, headers")."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.config import DEV_SECRET_KEY
from portal.extensions import db
from portal.models import User, Warehouse
from tests.conftest import make_app
from tests.helpers import HTMX, csrf_token, field_error, login, post, soup

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k3y-" + "0123456789abcdef" * 3
CHEAP_HASHES = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "ARGON2_PARALLELISM": 1}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ROLES = ("visitor", "customer", "staff")


def _url_rules():
    """The app's URL rules, read once at collection time (no database is touched)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, testing=True)
    with app.app_context():
        db.engine.dispose()
    return sorted(app.url_map.iter_rules(), key=lambda r: r.rule)


RULES = _url_rules()
GET_PAGES = [r.rule for r in RULES if "GET" in r.methods and not r.arguments]
UNSAFE_ROUTES = [(r.rule, m) for r in RULES for m in sorted(r.methods & UNSAFE_METHODS)]


def test_the_route_lists_are_complete():
    pages = {"/", "/language", "/auth/login", "/auth/register", "/account/", "/ops/"}
    assert pages <= set(GET_PAGES)
    assert {("/auth/login", "POST"), ("/auth/logout", "POST")} <= set(UNSAFE_ROUTES)


def url_for_rule(rule: str) -> str:
    """A concrete URL for a rule: an <any('a', 'b'):argument> by its first choice, any other
    <converter:argument> by 1."""
    rule = re.sub(r"<any\('([^']+)'[^<>]*>", r"\1", rule)
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule)


@pytest.fixture
def client_as(app, make_customer, make_staff):
    """A test client that is a visitor, a logged-in customer or a logged-in admin."""

    def make(role: str):
        client = app.test_client()
        if role != "visitor":
            account = make_customer() if role == "customer" else make_staff("admin")
            assert login(client, account).status_code == 303
        return client

    return make


# ---------------------------------------------------------------------------------------------
# Checks shared by the tests
# ---------------------------------------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (d.split() for d in policy.split(";") if d.strip())}


def assert_security_headers(response) -> None:
    csp = csp_directives(response)
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    every_source = {value for values in csp.values() for value in values}
    assert not every_source & {"'unsafe-eval'", "'unsafe-inline'", "*"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def is_html(response) -> bool:
    return response.mimetype == "text/html" and bool(response.get_data())


def assert_csp_safe_markup(response) -> None:
    """Nothing the CSP would block: inline scripts, inline styles, inline event handlers.

    hx-on:* and hx-vals="js:..." are evaluated with the Function constructor, which needs
    'unsafe-eval', so they are refused too.
    """
    page = soup(response)
    for script in page.find_all("script"):
        assert script.get("src"), f"inline <script>: {script}"
        assert not script.get_text(strip=True), f"<script src> with a body: {script}"
    assert page.find("style") is None, "inline <style> element"
    for element in page.find_all(True):
        for name, value in element.attrs.items():
            assert name != "style", f"style attribute: {element}"
            assert not name.startswith("on"), f"inline event handler: {element}"
            assert not name.startswith(("hx-on", "data-hx-on")), f"hx-on needs eval: {element}"
            if name in ("href", "src", "action", "formaction"):
                assert not str(value).strip().lower().startswith("javascript:"), element
            if name in ("hx-vals", "data-hx-vals"):
                assert not value.strip().startswith(("js:", "javascript:")), element


# ---------------------------------------------------------------------------------------------
# Security headers and CSP-safe pages
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", GET_PAGES)
def test_every_page_has_security_headers_and_csp_safe_markup(client_as, role, path):
    """Redirects (to the login page, say) are followed: every hop and the page are checked."""
    response = client_as(role).get(path, follow_redirects=True)
    for hop in [*response.history, response]:
        assert_security_headers(hop)
    assert response.status_code in (200, 404)  # 404: the staff console hidden from customers
    if response.headers.get("Content-Disposition", "").startswith("attachment"):
        return  # a download (the order list's export): nothing a browser renders
    if response.mimetype.startswith("image/"):
        return  # an image (the invite poster): no markup to check, its headers were
    assert is_html(response)
    assert soup(response).find("html") is not None
    assert_csp_safe_markup(response)


def test_static_files_have_security_headers(client):
    response = client.get("/static/vendor/htmx-4.0.1.min.js")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert_security_headers(response)
    response.close()


def test_form_fragments_are_csp_safe(client, make_customer):
    """The 422 answers htmx swaps into a page follow the same rules as the pages."""
    account = make_customer()
    refused = [
        post(client, "/auth/register", {"identifier": "x"}, htmx=True),
        post(client, "/auth/login", {"identifier": "x", "password": "y"}, htmx=True),
    ]
    login(client, account)
    refused.append(post(client, "/account/password", {"new_password": "z"}, htmx=True))
    for response in refused:
        assert response.status_code == 422
        assert soup(response).find("html") is None
        assert_security_headers(response)
        assert_csp_safe_markup(response)


# ---------------------------------------------------------------------------------------------
# Production configuration
# ---------------------------------------------------------------------------------------------

HTTPS = "https://localhost"


@pytest.fixture
def production_app(app, db_url, monkeypatch):
    """create_app() as wsgi.py runs it in production, on the test database.

    Config reads SECRET_KEY from the environment when portal.config is first imported, which
    has happened already, so the strong key is passed as an override as well.
    """
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    production = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": STRONG_KEY, **CHEAP_HASHES}
    )
    assert production.config["ENV_NAME"] == "production" and not production.testing
    yield production
    with production.app_context():
        db.session.remove()
        db.engine.dispose()


def set_cookies(response) -> dict[str, dict[str, str]]:
    """Set-Cookie headers by cookie name: attribute name (lower case) -> value."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        name, _, _value = first.partition("=")
        cookies[name] = {
            key.lower(): value for key, _, value in (a.partition("=") for a in attributes)
        }
    return cookies


def test_production_sends_hsts_and_the_security_headers(production_app):
    response = production_app.test_client().get("/auth/login", base_url=HTTPS)
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert_security_headers(response)


def test_production_cookies_are_secure_httponly_and_lax(production_app, make_customer):
    account = make_customer()
    client = production_app.test_client()
    page = client.get("/auth/login", base_url=HTTPS)
    token = soup(page).find("meta", attrs={"name": "csrf-token"})["content"]
    response = client.post(
        "/auth/login",
        base_url=HTTPS,
        # Flask-WTF checks the Referer of HTTPS requests (WTF_CSRF_SSL_STRICT).
        headers={"Referer": f"{HTTPS}/auth/login"},
        data={
            "csrf_token": token,
            "identifier": account.identifier,
            "password": account.password,
            "remember": "y",
        },
    )
    assert response.status_code == 303
    cookies = set_cookies(response)
    assert {"session", "remember_token"} <= set(cookies)
    for name, attributes in cookies.items():
        assert "secure" in attributes, name
        assert "httponly" in attributes, name
        assert attributes.get("samesite") == "Lax", name


@pytest.mark.parametrize(
    "key",
    [None, "", DEV_SECRET_KEY, "short", "x" * 31],
    ids=["none", "empty", "dev", "short", "31"],
)
def test_production_refuses_a_weak_secret_key(monkeypatch, key):
    monkeypatch.setenv("PORTAL_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": key})


def run_wsgi_import(tmp_path, **env) -> subprocess.CompletedProcess:
    """Build the app in a fresh interpreter the way wsgi.py does, with only `env` set."""
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PORTAL_ENV")}
    base.update(PORTAL_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3", **env)
    return subprocess.run(
        [sys.executable, "-c", "from portal import create_app; create_app()"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_secret_key_in_the_environment_does_not_start(tmp_path):
    refused = run_wsgi_import(tmp_path)
    assert refused.returncode != 0
    assert "RuntimeError: SECRET_KEY must be set" in refused.stderr
    started = run_wsgi_import(tmp_path, SECRET_KEY=STRONG_KEY)
    assert started.returncode == 0, started.stderr


# ---------------------------------------------------------------------------------------------
# CSRF
# ---------------------------------------------------------------------------------------------


def roles_for(path: str) -> list[str]:
    """Who meets the CSRF check on a route: anyone, except ops routes, which answer visitors
    and customers 404 before it (tests/test_ops_permissions.py) and check staff's tokens."""
    return ["admin"] if path.startswith("/ops/") else ["visitor", "customer"]


# The signed payment notification, and the simulators standing in for outside services (never
# mounted in production), are the documented exemptions (tests/test_online_recharge.py).
CSRF_EXEMPT = {
    "/recharge/notify/alipay",
    "/simulator/gateway.do",
    "/simulator/pay",
    "/wuliutong-simulator/api/v1/accounts/verify",
}


@pytest.mark.parametrize(
    ("path", "method", "role"),
    [
        (path, method, role)
        for path, method in UNSAFE_ROUTES
        if path not in CSRF_EXEMPT
        for role in roles_for(path)
    ],
)
def test_unsafe_methods_without_csrf_token_are_refused(client_as, role, path, method):
    client = client_as(role)
    response = client.open(url_for_rule(path), method=method, data={"anything": "1"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert_security_headers(response)


def test_a_token_from_another_session_is_refused(app, client_as):
    customer = client_as("customer")
    stranger_token = csrf_token(app.test_client())
    response = customer.post("/auth/logout", data={"csrf_token": stranger_token})
    assert response.status_code == 400
    assert soup(customer.get("/")).find(attrs={"data-testid": "customer-code"}) is not None


def test_htmx_sends_the_token_in_a_header(client, make_customer):
    """What hx-headers:inherited on <body> does: the token travels as X-CSRFToken."""
    account = make_customer()
    token = csrf_token(client)
    response = client.post(
        "/auth/login",
        data={"identifier": account.identifier, "password": account.password},
        headers={**HTMX, "X-CSRFToken": token},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/"


# ---------------------------------------------------------------------------------------------
# Error pages
# ---------------------------------------------------------------------------------------------


def assert_error_page(response, status: int, text: str) -> None:
    assert response.status_code == status
    page = soup(response)
    assert page.find("html") is not None
    assert page.find(class_="status").get_text(strip=True) == str(status)
    assert text in page.get_text()
    assert_security_headers(response)
    assert_csp_safe_markup(response)


def test_404_page_is_friendly_and_in_chinese(client):
    assert_error_page(client.get("/no/such/page"), 404, "找不到该页面")


def test_404_for_htmx_goes_to_the_flash_region(client):
    response = client.get("/no/such/page", headers=HTMX)
    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#flash"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert soup(response).find("html") is None
    assert "找不到该页面" in response.get_data(as_text=True)


def test_405_page(client):
    response = client.get("/auth/logout")
    assert_error_page(response, 405, "无法以这种方式访问该页面")
    assert "POST" in response.headers["Allow"]


def test_413_for_a_body_over_the_limit(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        "/auth/login",
        data=b"a" * (limit + 1),
        content_type="application/x-www-form-urlencoded",
    )
    assert_error_page(response, 413, "提交的内容过大")


def too_many_fields(client, count: int) -> dict:
    return {"csrf_token": csrf_token(client), **{f"f{i}": "x" for i in range(count)}}


def test_413_for_a_multipart_form_with_more_than_1000_parts(app, client):
    fields = too_many_fields(client, app.config["MAX_FORM_PARTS"])
    response = client.post("/auth/login", data=fields, content_type="multipart/form-data")
    assert_error_page(response, 413, "提交的内容过大")


def test_413_for_an_urlencoded_form_with_more_than_1000_parts(app, client):
    fields = too_many_fields(client, app.config["MAX_FORM_PARTS"])
    response = client.post("/auth/login", data=fields)
    assert_error_page(response, 413, "提交的内容过大")


@pytest.fixture
def crashing_app(app, db_url):
    """A fresh app with one test-only route that writes, then fails (`app` empties the tables)."""
    crashing = make_app(db_url)

    def explode():
        fields = dict.fromkeys(("contact_name", "phone", "region", "address_line", "postcode"), "x")
        db.session.add(Warehouse(name="half-written", **fields))
        db.session.flush()
        raise RuntimeError("internal detail: password=hunter2")

    crashing.add_url_rule("/test-only/explode", "explode", explode, methods=["GET", "POST"])
    yield crashing
    with crashing.app_context():
        db.session.remove()
        db.engine.dispose()


def assert_nothing_leaked(response) -> None:
    body = response.get_data(as_text=True)
    for secret in ("Traceback", "RuntimeError", "hunter2", "internal detail", 'File "'):
        assert secret not in body


def test_500_page_is_generic_and_rolls_back(crashing_app):
    client = crashing_app.test_client()
    response = client.get("/test-only/explode")
    assert_error_page(response, 500, "系统出了点问题")
    assert_nothing_leaked(response)
    response = post(client, "/test-only/explode")
    assert_error_page(response, 500, "系统出了点问题")
    with crashing_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Warehouse)) == 0


def test_500_for_htmx_goes_to_the_flash_region(crashing_app):
    client = crashing_app.test_client()
    response = post(client, "/test-only/explode", htmx=True)
    assert response.status_code == 500
    assert response.headers["HX-Retarget"] == "#flash"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert soup(response).find("html") is None
    assert "系统出了点问题" in response.get_data(as_text=True)
    assert_nothing_leaked(response)
    assert_security_headers(response)


def test_a_malformed_hx_current_url_is_not_a_500(client):
    response = client.get("/account/", headers={**HTMX, "HX-Current-URL": "http://[oops/account/"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/auth/login?next=")


# ---------------------------------------------------------------------------------------------
# htmx: vendored, loaded, CSRF header inherited, no htmx-2 habits
# ---------------------------------------------------------------------------------------------

VENDOR = ROOT / "portal" / "static" / "vendor"


def test_htmx_is_vendored_with_its_licence():
    assert (VENDOR / "htmx-4.0.1.min.js").stat().st_size > 10_000
    assert 'version="4.0.1"' in (VENDOR / "htmx-4.0.1.min.js").read_text(encoding="utf-8")
    assert "Zero-Clause BSD" in (VENDOR / "htmx-4.0.1.LICENSE").read_text(encoding="utf-8")


def test_pages_load_htmx_and_inherit_the_csrf_header(client):
    page = soup(client.get("/auth/login"))
    sources = [s["src"] for s in page.find_all("script")]
    assert "/static/vendor/htmx-4.0.1.min.js" in sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], "no CDN"
    token = page.find("meta", attrs={"name": "csrf-token"})["content"]
    assert json.loads(page.body["hx-headers:inherited"]) == {"X-CSRFToken": token}
    assert not page.body.has_attr("hx-headers"), "htmx 4 ignores it for child elements"


UPGRADE_CHECK = ROOT / "tools" / "htmx_upgrade_check.py"
ISSUE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): \[(?P<category>[\w-]+)\] (?P<message>.*)$")
# htmx 4's hx-disable takes the elements to disable during a request ("find button"), htmx 2's
# meant "no htmx in here". The checker cannot tell them apart and flags every hx-disable.
HTMX4_DISABLE = re.compile(r"^(this|(find|closest|next|previous) \S.*|[#.].+)$")


def run_upgrade_check(*paths) -> tuple[int, list[dict]]:
    done = subprocess.run(
        [sys.executable, str(UPGRADE_CHECK), "--no-color", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = done.stdout.splitlines()
    issues = [m.groupdict() for m in map(ISSUE.match, lines) if m]
    assert len(issues) == len(lines), done.stdout  # nothing but issue lines on stdout
    return done.returncode, issues


def load_upgrade_check():
    spec = importlib.util.spec_from_file_location("htmx_upgrade_check", UPGRADE_CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_htmx4_disable(checker, issue: dict) -> bool:
    """Whether a reported hx-disable is htmx 4's: its value names the elements to disable."""
    if issue["category"] != "renamed-attr" or not issue["message"].startswith("hx-disable "):
        return False
    builder = checker.TreeBuilder()
    source = Path(ROOT, issue["file"]).read_text(encoding="utf-8")
    builder.feed(checker.strip_template_syntax(source))
    values = [
        node.attrs["hx-disable"] or ""
        for node in builder.root.descendants()
        if node.line == int(issue["line"]) and "hx-disable" in node.attrs
    ]
    return bool(values) and all(HTMX4_DISABLE.match(value.strip()) for value in values)


def test_templates_have_no_htmx2_habits():
    returncode, issues = run_upgrade_check("portal/templates", "portal/static/js")
    checker = load_upgrade_check()
    real = [issue for issue in issues if not is_htmx4_disable(checker, issue)]
    assert real == [], "\n".join(f"{i['file']}:{i['line']}: {i['message']}" for i in real)
    assert returncode == (1 if issues else 0)


def test_the_upgrade_check_flags_htmx2_habits(tmp_path):
    """The check above is not vacuous: the tool finds the usual htmx 2 leftovers."""
    (tmp_path / "old.html").write_text(
        '<body hx-headers=\'{"X-CSRFToken": "{{ csrf_token() }}"}\'>\n'
        '<form hx-post="/x" hx-disabled-elt="find button"\n'
        '      hx-on::after-request="this.reset()" hx-on::afterRequest="go()">\n'
        '<div hx-disable><a hx-get="/y">y</a></div>\n'
        "</form></body>\n",
        encoding="utf-8",
    )
    returncode, issues = run_upgrade_check(tmp_path)
    assert returncode == 1
    found = {(int(i["line"]), i["category"]) for i in issues}
    expected = {(1, "inheritance"), (2, "renamed-attr"), (2, "renamed-event"), (4, "renamed-attr")}
    assert expected <= found
    assert any("CSRF" in i["message"] for i in issues)
    # The htmx 2 hx-disable (line 4) is not mistaken for an htmx 4 one.
    checker = load_upgrade_check()
    assert not [i for i in issues if is_htmx4_disable(checker, i)]


# ---------------------------------------------------------------------------------------------
# Escaping
# ---------------------------------------------------------------------------------------------

XSS = "<script>alert(1)</script>"


def assert_escaped(response, payload: str = XSS) -> None:
    body = response.get_data(as_text=True)
    assert payload not in body
    assert_csp_safe_markup(response)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_register_refuses_a_script_email_and_escapes_it(app, client, htmx):
    data = {
        "identifier": f"{XSS}@x.com",
        "password": "a long passphrase",
        "confirm": "a long passphrase",
    }
    response = post(client, "/auth/register", data, htmx=htmx)
    assert response.status_code == 422
    assert "有效的邮箱" in field_error(response, "identifier")
    assert soup(response).find(id="identifier")["value"] == f"{XSS}@x.com"
    assert_escaped(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_reflected_query_values_are_escaped(client):
    payload = '"><script>alert(1)</script>'
    for path in ("/auth/login", "/language", "/"):
        response = client.get(path, query_string={"next": payload, "invite": payload})
        assert_escaped(response)


@pytest.mark.parametrize("role", ["visitor", "customer"])
def test_warehouse_fields_are_escaped_on_the_home_page(client_as, make_warehouse, role):
    make_warehouse(name=XSS, region='<img src=x onerror="alert(2)">', address_line="&lt;b&gt;")
    response = client_as(role).get("/")
    assert response.status_code == 200
    assert_escaped(response)
    page = soup(response)
    assert page.find("img") is None
    assert XSS in page.get_text()  # shown as text, not run
    if role == "customer":
        card = page.find(attrs={"data-testid": "warehouse-address"})
        assert card.find("h2").get_text() == XSS
        copy_text = card.find("button", attrs={"data-copy-text": True})["data-copy-text"]
        assert '<img src=x onerror="alert(2)">' in copy_text  # an attribute value, as text
        assert "&lt;b&gt;" in card.get_text()  # not unescaped either
