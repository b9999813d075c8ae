"""Login throttling per account identifier, kept in the database.

Every attempt is counted *before* the password is checked (a compare-and-set on the counter), so
a burst of parallel guesses cannot slip past the limit. After LOGIN_FREE_FAILURES failures each
further attempt must wait twice as long as the last (capped at LOGIN_MAX_LOCK_SECONDS), and no
more than LOGIN_MAX_FAILURES_PER_HOUR attempts are ever counted in one hour. Locks are
timestamps, so they expire by themselves. A successful login clears the counter; an attempt
whose password nobody could check (another system did not answer) is given back.
"""

import hashlib
import math
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import LoginThrottle, utcnow

WINDOW = timedelta(hours=1)


def throttle_key(identifier: str) -> str:
    return hashlib.sha256(identifier.strip().lower().encode("utf-8", "replace")).hexdigest()


def _lock_seconds(failures: int) -> int:
    cfg = current_app.config
    free = cfg["LOGIN_FREE_FAILURES"]
    if failures < free:
        return 0
    return min(2 ** (failures - free), cfg["LOGIN_MAX_LOCK_SECONDS"])


def _row(key: str):
    stmt = select(
        LoginThrottle.failures, LoginThrottle.window_started_at, LoginThrottle.locked_until
    ).where(LoginThrottle.key == key)
    return db.session.execute(stmt).one_or_none()


def claim_attempt(identifier: str) -> int:
    """Count one login attempt; return 0 to go ahead or the seconds the caller must wait."""
    key = throttle_key(identifier)
    now = utcnow()
    row = _row(key)
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(LoginThrottle(key=key, failures=0, window_started_at=now))
        except IntegrityError:
            pass  # a parallel attempt created it first
        row = _row(key)
    failures, window_start, locked_until = row
    if locked_until is not None and locked_until > now:
        return max(1, math.ceil((locked_until - now).total_seconds()))
    if now - window_start >= WINDOW:
        new_failures, new_window = 1, now
    else:
        new_failures, new_window = failures + 1, window_start
    if new_failures > current_app.config["LOGIN_MAX_FAILURES_PER_HOUR"]:
        return max(1, math.ceil((window_start + WINDOW - now).total_seconds()))
    lock = _lock_seconds(new_failures)
    claimed = db.session.execute(
        update(LoginThrottle)
        .where(
            LoginThrottle.key == key,
            LoginThrottle.failures == failures,
            LoginThrottle.window_started_at == window_start,
        )
        .values(
            failures=new_failures,
            window_started_at=new_window,
            locked_until=now + timedelta(seconds=lock) if lock else None,
        )
        .execution_options(synchronize_session=False)
    )
    return 0 if claimed.rowcount == 1 else 1


def clear_failures(identifier: str) -> None:
    """Forget the counted attempts after a successful login."""
    db.session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == throttle_key(identifier))
        .values(failures=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )


def give_back_attempt(identifier: str) -> None:
    """Uncount the attempt just claimed, in the same transaction, when no password was checked.

    Its claim passed only because no lock was running, so the lock it set is simply removed."""
    db.session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == throttle_key(identifier), LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1, locked_until=None)
        .execution_options(synchronize_session=False)
    )
