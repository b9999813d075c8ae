"""The signed-in user of a cached page's request, rebuilt from a per-process copy instead of
loaded, while the tables the copy came from are unchanged.

A page-cache hit otherwise spends most of its time loading the user and their roles. The copy
is checked against the write counters read at the start of the request (services/
table_versions): any commit that wrote to `users` or `user_roles` since the copy was taken
makes it stale, and the user is loaded afresh. The rebuilt object is attached to the request's
session as if it had been loaded, so a view that runs after all (a cache miss) can use it and
its relationships as usual.
"""

from flask import Flask, current_app
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.session import make_transient_to_detached

from portal.extensions import db
from portal.lru import LRU
from portal.models import User, UserRole

TABLES = ("users", "user_roles")
USER_COLUMNS = tuple(a.key for a in User.__mapper__.column_attrs)
ROLE_COLUMNS = tuple(a.key for a in UserRole.__mapper__.column_attrs)


def init_app(app: Flask, size: int) -> None:
    app.extensions["session_users"] = LRU(size)


def clear(app: Flask) -> None:
    app.extensions["session_users"].clear()


def load(user_id: int, versions: dict[str, int] | None) -> User | None:
    """The user with their roles, from the copy when `versions` (read before anything else in
    this request, on cached views only) show no write to their tables since it was taken."""
    if versions is None:
        return _query(user_id)
    copies = current_app.extensions["session_users"]
    stamp = tuple(versions.get(name, 0) for name in TABLES)
    copy = copies.get(user_id)
    if copy is not None and copy[0] == stamp:
        return _attach(copy[1], copy[2])
    user = _query(user_id)
    if user is not None:
        columns = {key: getattr(user, key) for key in USER_COLUMNS}
        roles = tuple({key: getattr(r, key) for key in ROLE_COLUMNS} for r in user.roles)
        # The stamp was read before the user: the copy is at least as new as it says.
        copies.put(user_id, (stamp, columns, roles))
    return user


def _query(user_id: int) -> User | None:
    return db.session.get(User, user_id, options=[joinedload(User.roles)])


def _attach(columns: dict, roles: tuple[dict, ...]) -> User:
    """A User (with its roles) in the session as though just loaded: no SQL, nothing to flush."""
    present = db.session.identity_map.get(db.session.identity_key(User, columns["id"]))
    if present is not None:
        return present
    user = _as_loaded(User, columns, roles=[_as_loaded(UserRole, row) for row in roles])
    db.session.add(user)
    return user


def _as_loaded(model: type, columns: dict, **relationships):
    """An instance with these values and no pending changes, as a query would have left it."""
    instance = model()
    for key, value in (columns | relationships).items():
        set_committed_value(instance, key, value)
    make_transient_to_detached(instance)
    return instance
