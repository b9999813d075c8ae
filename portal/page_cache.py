"""A per-process cache of whole rendered pages, valid while nothing they read has changed.

`@cached_page` wraps a GET view. On a miss the view runs as usual while every table its SQL
reads is recorded; the rendered body is kept with the write counters of those tables, as read
before the view ran (services/table_versions). A later request with the same key is answered
from the cache after one query has found those counters unchanged, so the answer is the one the
view would give now. The key holds everything else a page depends on: the view and its query
string, fragment or page, the language, the user and their roles, the site settings and the
business day. The CSRF token is put back per request. Pages with a flashed message, pages whose
view wrote or ran SQL of unknown tables, and answers other than 200 or 422 are not kept.

Anything a cached view takes from somewhere other than SQL in the request (the configuration, a
per-process cache) must be in the key: pass it as `vary`. What changes with time alone must be
announced with `expires_at`.
"""

import functools
import hashlib
import time
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app, g, make_response, request, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Engine, event
from sqlalchemy.sql.util import find_tables

from portal.extensions import db
from portal.htmx import is_htmx, is_partial
from portal.lru import LRU
from portal.models import base as model_base
from portal.services import rate_cards, site_settings, table_versions

CSRF_PLACEHOLDER = b"\x00csrf\x00"
# What the user loader reads before any view runs: a change there changes every page's header.
ALWAYS_READ = frozenset({"users", "user_roles"})
CACHEABLE_STATUS = frozenset({200, 422})
UNKNOWN = "?"

_recording: ContextVar[set[str] | None] = ContextVar("page_cache_recording", default=None)
_deadline: ContextVar[list[float] | None] = ContextVar("page_cache_deadline", default=None)


@dataclass(frozen=True)
class Entry:
    body: bytes
    status: int
    mimetype: str
    versions: tuple[tuple[str, int], ...]
    tables: frozenset[str]
    stored_at: float
    # When the page reads differently even with no writes (models.base.utcnow, epoch seconds).
    expires_at: float | None = None
    etag: str | None = None


class PageCache(LRU):
    """The pages of one app: a bounded LRU whose entries also expire with age."""

    def __init__(self, size: int, max_age: float):
        super().__init__(size)
        self.max_age = max_age

    def fresh(self, key: tuple) -> Entry | None:
        entry = self.get(key)
        if entry is not None and self._expired(entry):
            self.pop(key)
            return None
        return entry

    def _expired(self, entry: Entry) -> bool:
        if time.monotonic() - entry.stored_at > self.max_age:
            return True
        return entry.expires_at is not None and model_base.utcnow().timestamp() >= entry.expires_at


def init_app(app: Flask, engine: Engine) -> None:
    """Give the app its cache, read the counters first on cached views, record what SQL reads."""
    app.extensions["page_cache"] = PageCache(
        app.config["PAGE_CACHE_ENTRIES"], app.config["PAGE_CACHE_SECONDS"]
    )

    @app.before_request
    def _read_versions_first():
        # Before the user is loaded: what a page reads afterwards is at least this new.
        view = app.view_functions.get(request.endpoint)
        if getattr(view, "page_cached", False) and app.config["PAGE_CACHE_ENTRIES"]:
            g.table_versions = table_versions.read(db.session)

    @event.listens_for(engine, "before_cursor_execute")
    def _record_reads(_conn, _cursor, _statement, _parameters, context, _executemany):
        tables = _recording.get()
        if tables is not None:
            tables.update(_tables_of(context))


def cache_of(app: Flask) -> PageCache:
    return app.extensions["page_cache"]


def _tables_of(context) -> frozenset[str]:
    """The tables a compiled statement names, remembered on the (cached) compiled object."""
    compiled = getattr(context, "compiled", None)
    statement = getattr(compiled, "statement", None)
    if statement is None or context.isinsert or context.isupdate or context.isdelete:
        return frozenset({UNKNOWN})
    known = compiled.__dict__.get("_portal_tables")
    if known is None:
        names = {t.name for t in find_tables(statement, include_crud=True) if hasattr(t, "name")}
        known = frozenset(names) if names else frozenset({UNKNOWN})
        compiled.__dict__["_portal_tables"] = known
    return known


def cached_page(view: Callable | None = None, *, vary: Callable[[], Hashable] | None = None):
    """Serve the view's answer from the cache while the tables it read are unchanged.

    `vary` adds what else the page depends on (a setting read from the configuration) to the key.
    """
    if view is None:
        return functools.partial(cached_page, vary=vary)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        versions = g.get("table_versions")
        if versions is None or "_flashes" in session:
            return view(*args, **kwargs)
        cache = cache_of(current_app)
        key = _key(vary() if vary else None)
        entry = cache.fresh(key)
        if entry is not None and _versions_of(entry.tables, versions) == entry.versions:
            return _conditional(_answer(entry), entry)
        recorded: set[str] = set()
        deadlines: list[float] = []
        tokens = _recording.set(recorded), _deadline.set(deadlines)
        try:
            response = view(*args, **kwargs)
        finally:
            _recording.reset(tokens[0])
            _deadline.reset(tokens[1])
        if _keepable(response, recorded):
            tables = frozenset(recorded | ALWAYS_READ)
            entry = _entry(response, tables, versions, min(deadlines, default=None))
            cache.put(key, entry)
            response = _conditional(response, entry)
        return response

    wrapper.page_cached = True
    return wrapper


def expires_at(moment: datetime | None) -> None:
    """Called by a view: what it renders changes at this moment even if nothing is written."""
    deadlines = _deadline.get()
    if deadlines is not None and moment is not None:
        deadlines.append(moment.timestamp())


def _key(extra: Hashable) -> tuple:
    day = rate_cards.business_today()
    return (
        extra,
        request.endpoint,
        request.query_string,
        is_htmx(),
        is_partial(),
        str(get_locale()),
        current_user.get_id(),
        frozenset(current_user.role_names) if current_user.is_authenticated else None,
        site_settings.cached(),
        day,
    )


def _versions_of(tables: frozenset[str], versions: dict[str, int]) -> tuple:
    return tuple(sorted((name, versions.get(name, 0)) for name in tables))


def _keepable(response, recorded: set[str]) -> bool:
    return (
        response.status_code in CACHEABLE_STATUS
        and not response.is_streamed
        and UNKNOWN not in recorded
        and "_flashes" not in session
        and "Set-Cookie" not in response.headers
    )


def _entry(response, tables: frozenset[str], before: dict[str, int], until: float | None) -> Entry:
    body = response.get_data()
    token = g.get("csrf_token")
    if token:
        body = body.replace(token.encode(), CSRF_PLACEHOLDER)
    # A page without a CSRF token is the same bytes for every request: the browser may keep it.
    etag = None if CSRF_PLACEHOLDER in body else hashlib.blake2b(body, digest_size=16).hexdigest()
    return Entry(
        body=body,
        status=response.status_code,
        mimetype=response.mimetype,
        versions=_versions_of(tables, before),
        tables=tables,
        stored_at=time.monotonic(),
        expires_at=until,
        etag=etag,
    )


def _answer(entry: Entry):
    body = entry.body
    if CSRF_PLACEHOLDER in body:
        body = body.replace(CSRF_PLACEHOLDER, generate_csrf().encode())
    response = make_response(body, entry.status)
    response.mimetype = entry.mimetype
    response.vary.add("HX-Request")
    return response


def _conditional(response, entry: Entry):
    """Let the browser keep a page without a token and ask again with If-None-Match (304)."""
    if entry.etag is None or entry.status != 200:
        return response
    response.set_etag(entry.etag)
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response.make_conditional(request)
