"""Login throttling: slowed after 5 failures, at most 100 failures an hour, locks expire."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import LoginThrottle
from portal.services import accounts, throttle
from portal.services.errors import LoginRefused
from tests.conftest import run_together
from tests.helpers import field_error, login, post


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(throttle, "utcnow", clock)
    return clock


def try_login(app, identifier: str, password: str) -> tuple[str, int]:
    """One login attempt through the service: ('ok'|'wrong'|'wait', seconds to wait)."""
    with app.app_context():
        try:
            accounts.authenticate(identifier, password)
            result = ("ok", 0)
        except LoginRefused as err:
            result = ("wait", err.retry_after) if err.retry_after else ("wrong", 0)
        db.session.commit()
        return result


def attempt(app, identifier: str, password: str) -> str:
    return try_login(app, identifier, password)[0]


def test_five_free_failures_then_slowed_and_the_lock_expires(app, make_customer, clock):
    account = make_customer()
    assert [attempt(app, account.identifier, "wrong pass!") for _ in range(5)] == ["wrong"] * 5
    # Even the right password waits while locked: the lock does not depend on the password.
    assert attempt(app, account.identifier, account.password) == "wait"
    clock.advance(1)
    assert attempt(app, account.identifier, "wrong pass!") == "wrong"
    assert attempt(app, account.identifier, "wrong pass!") == "wait"
    clock.advance(2)
    assert attempt(app, account.identifier, account.password) == "ok"
    # Success clears the counter: five more free failures.
    assert [attempt(app, account.identifier, "wrong pass!") for _ in range(5)] == ["wrong"] * 5


def test_an_attacker_gets_at_most_100_failures_an_hour(app, make_customer, clock):
    account = make_customer()
    failures_per_hour = []
    for _hour in range(3):
        start, failures = clock.now, 0
        while clock.now < start + timedelta(hours=1):
            # The most aggressive attacker: guesses again the moment the lock allows.
            result, wait = try_login(app, account.identifier, "guess guess")
            failures += result == "wrong"
            clock.advance(wait or 0.1)
        failures_per_hour.append(failures)
    assert all(0 < n <= 100 for n in failures_per_hour), failures_per_hour
    # After the attacker stops, the lock runs out by itself and the owner gets in.
    clock.advance(app.config["LOGIN_MAX_LOCK_SECONDS"])
    assert attempt(app, account.identifier, account.password) == "ok"


def test_the_hourly_cap_holds_even_without_backoff(app, make_customer, clock):
    app.config["LOGIN_MAX_LOCK_SECONDS"] = 0  # backoff off: only the hard cap is left
    account = make_customer()
    results = [attempt(app, account.identifier, "guess guess") for _ in range(150)]
    assert results.count("wrong") == 100
    assert results[100:] == ["wait"] * 50
    clock.advance(3600)
    assert attempt(app, account.identifier, account.password) == "ok"


def test_unknown_accounts_are_throttled_the_same_way(app, make_customer, clock):
    known = make_customer("13800138071")
    known_results = [attempt(app, known.identifier, "wrong pass!") for _ in range(7)]
    unknown_results = [attempt(app, "13800138072", "wrong pass!") for _ in range(7)]
    assert known_results == unknown_results == ["wrong"] * 5 + ["wait"] * 2


def test_rotating_x_forwarded_for_does_not_help(app, client, make_customer):
    account = make_customer()
    messages = []
    for i in range(8):
        wrong = type(account)(account.id, account.identifier, "not it at all", "", "")
        response = login(client, wrong, headers={"X-Forwarded-For": f"203.0.113.{i}"})
        messages.append(field_error(response, "identifier"))
        assert response.status_code == 422
    assert messages[:5] == ["账号或密码错误。"] * 5
    assert all("尝试次数过多" in m for m in messages[5:])


def test_the_same_identifier_typed_differently_shares_one_counter(app, client, make_customer):
    make_customer("13800138081")
    for typed in [
        "13800138081",
        "+86 138 0013 8081",
        "+8613800138081",
        "0086 13800138081",
        "138-0013-8081",
    ]:
        post(client, "/auth/login", {"identifier": typed, "password": "not it at all"})
    response = post(client, "/auth/login", {"identifier": "13800138081", "password": "x" * 9})
    assert "尝试次数过多" in field_error(response, "identifier")


def test_parallel_guesses_are_all_counted(app, make_customer):
    account = make_customer()

    def guess(_i):
        try:
            accounts.authenticate(account.identifier, "parallel guess")
        except LoginRefused as err:
            db.session.commit()
            return "wait" if err.retry_after else "wrong"
        return "ok"

    results = run_together(app, 20, guess)
    assert all(r in ("wrong", "wait") for r in results), results
    with app.app_context():
        row = db.session.scalar(select(LoginThrottle))
        # Every password that was actually checked was counted first.
        assert row.failures == results.count("wrong")
        assert row.failures <= 20
