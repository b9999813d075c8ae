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
        return db.session.get(User, user_id, options=[joinedload(User.roles)])
    copies = current_app.extensions["session_users"]
    stamp = tuple(versions.get(name, 0) for name in TABLES)
    copy = copies.get(user_id)
    if copy is not None and copy[0] == stamp:
        return _attach(copy[1], copy[2])
    user = db.session.get(User, user_id, options=[joinedload(User.roles)])
    if user is not None:
        columns = {key: getattr(user, key) for key in USER_COLUMNS}
        roles = tuple({key: getattr(r, key) for key in ROLE_COLUMNS} for r in user.roles)
        # The stamp was read before the user: the copy is at least as new as it says.
        copies.put(user_id, (stamp, columns, roles))
    return user


def _attach(columns: dict, roles: tuple[dict, ...]) -> User:
    """A User (with its roles) in the session as though just loaded: no SQL, nothing to flush."""
    present = db.session.identity_map.get(db.session.identity_key(User, columns["id"]))
    if present is not None:
        return present
    user = User()
    for key, value in columns.items():
        set_committed_value(user, key, value)
    role_objects = []
    for row in roles:
        role = UserRole()
        for key, value in row.items():
            set_committed_value(role, key, value)
        make_transient_to_detached(role)
        role_objects.append(role)
    set_committed_value(user, "roles", role_objects)
    make_transient_to_detached(user)
    db.session.add(user)
    return user
