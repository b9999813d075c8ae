"""Helpers for driving the app through its HTTP interface, CSRF token included."""

from contextlib import contextmanager

from bs4 import BeautifulSoup
from sqlalchemy import event

from portal.extensions import db

HTMX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf_token(client) -> str:
    """The CSRF token of the client's current session, read from a page's meta tag."""
    page = client.get("/language")
    return soup(page).find("meta", attrs={"name": "csrf-token"})["content"]


def post(client, url: str, data: dict | None = None, htmx: bool = False, **kwargs):
    """POST a form with the session's CSRF token, as a browser (or htmx) would."""
    headers = dict(HTMX) if htmx else {}
    headers.update(kwargs.pop("headers", {}))
    body = {"csrf_token": csrf_token(client), **(data or {})}
    return client.post(url, data=body, headers=headers, **kwargs)


def login(client, account, remember: bool = False, **kwargs):
    data = {"identifier": account.identifier, "password": account.password}
    if remember:
        data["remember"] = "y"
    return post(client, "/auth/login", data, **kwargs)


def field_error(response, field_id: str) -> str | None:
    """The error text shown beside a form field, if any."""
    node = soup(response).find(id=f"{field_id}-error")
    return node.get_text(strip=True) if node else None


@contextmanager
def sql_statements(app):
    """Every SQL statement the app sends while the block runs (to count queries per page)."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


# The reliability guide's amounts that are not amounts (" 10 " is one: spaces are trimmed).
BAD_AMOUNTS = ("-1", "0", "0.001", "1e20", "NaN", "Infinity", "１０", "10,00", str(2**63), "")
