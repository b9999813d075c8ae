"""Fuzzing every form: whatever is posted, the portal never answers with a 5xx.

Each form gets at least 500 generated submissions per database: arbitrary unicode (NUL bytes
included, no lone surrogates since a browser cannot send them), 10 kB strings, empty strings,
fields missing or repeated, random extra fields, urlencoded or multipart, plain or htmx. Valid
values are mixed in so the success path runs too. Every example starts from the same state: a
fresh client carrying a copy of one prepared session cookie, and the rows an example may have
written (new users, login counters, a changed password) are put back afterwards.
"""

import functools
from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from werkzeug.datastructures import MultiDict

from portal.extensions import db
from portal.models import LoginThrottle, User
from tests.conftest import DEFAULT_PASSWORD
from tests.helpers import HTMX, csrf_token, login, soup

FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

CHARS = st.characters(exclude_categories=("Cs",))  # every code point but lone surrogates
TEXT = st.text(CHARS, max_size=40)
# Short strings built from the characters parsers trip on, NUL and look-alikes included.
ODD_CHARS = "\x00\x01\t\n\r \u00a0\u3000\u200b\ufeff@+.-_/\\'\"<>&%;=1８İß"
TRICKY = st.text(st.sampled_from(ODD_CHARS), min_size=1, max_size=20)
HUGE = st.text(CHARS, min_size=1, max_size=8).map(lambda s: (s * 10_240)[:10_240])
JUNK = st.one_of(st.just(""), TEXT, TRICKY, HUGE)

MOBILE_PREFIXES = ("130", "135", "138", "139", "150", "152", "158", "177", "186", "189", "199")
CN_MOBILES = st.builds(
    lambda prefix, rest, style: style.format(prefix + rest),
    st.sampled_from(MOBILE_PREFIXES),
    st.text("0123456789", min_size=8, max_size=8),
    st.sampled_from(["{}", "+86{}", "0086 {}", " {} "]),
)
EMAILS = st.emails().filter(lambda e: len(e) <= 254)
LONG_PASSWORDS = st.text(CHARS, min_size=8, max_size=130)
PASSPHRASES = st.sampled_from(
    ["a new long passphrase", "另一个很长的中文密码短语", "x" * 128, "x" * 129, "password123"]
)


def mutated(valid: st.SearchStrategy) -> st.SearchStrategy[str]:
    """A plausible value with one odd character slipped in: a NUL, a look-alike, a quote..."""

    def insert(value: str, at: int, char: str) -> str:
        at %= len(value) + 1
        return value[:at] + char + value[at:]

    return st.builds(insert, valid, st.integers(0, 200), st.sampled_from(ODD_CHARS) | CHARS)


@functools.cache
def field(valid: st.SearchStrategy) -> st.SearchStrategy[list[str]]:
    """The values posted under one field name: usually one plausible value, else anything.

    An empty list leaves the field out; two or three values repeat it. Remembered per strategy:
    Hypothesis validates every new strategy it draws from, so one made per draw is slow.
    """
    anything = st.one_of(valid, mutated(valid), JUNK)
    return st.one_of(
        valid.map(lambda v: [v]),
        anything.map(lambda v: [v]),
        st.just([]),
        st.lists(anything, min_size=2, max_size=3),
    )


def same_or_other(values: list[str], other: st.SearchStrategy[list[str]]):
    """A confirmation field drawn inside a composite: mostly the same as the password,
    sometimes `other` (a `field(...)` built once: a strategy made per draw costs Hypothesis a
    validation each time, a third of a fuzz test's time)."""
    return st.one_of(st.just(list(values)), other)


EXTRA_FIELDS = st.dictionaries(
    st.text(CHARS, min_size=1, max_size=30),
    st.lists(JUNK, min_size=1, max_size=2),
    max_size=3,
)
URLENCODED = "application/x-www-form-urlencoded"
ENCODINGS = st.sampled_from([URLENCODED, "multipart/form-data"])


@st.composite
def submissions(draw, fields: st.SearchStrategy[dict[str, list[str]]]):
    """A whole submission: the form's fields, random extra fields, encoding and htmx flag."""
    values = draw(fields)
    extras = {
        name: v
        for name, v in draw(EXTRA_FIELDS).items()
        if name not in values and name != "csrf_token"
    }
    return {**values, **extras}, draw(ENCODINGS), draw(st.booleans())


VALID_REGISTRATION = {
    "identifier": ["13900139000"],
    "password": ["a new long passphrase"],
    "confirm": ["a new long passphrase"],
}


NEW_PASSWORDS = field(PASSPHRASES | LONG_PASSWORDS)
OTHER_CONFIRMS = field(PASSPHRASES)
REGISTER_IDENTIFIERS = field(CN_MOBILES | EMAILS | st.just("taken@example.com"))


def register_fields(invite_code: str):
    invite_codes = field(st.sampled_from(["", invite_code, f" {invite_code.lower()} "]))

    @st.composite
    def fields(draw):
        password = draw(NEW_PASSWORDS)
        return {
            "identifier": draw(REGISTER_IDENTIFIERS),
            "password": password,
            "confirm": draw(same_or_other(password, OTHER_CONFIRMS)),
            "invite_code": draw(invite_codes),
        }

    return fields()


# ---------------------------------------------------------------------------------------------
# Sending and checking
# ---------------------------------------------------------------------------------------------


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def submit(app, cookie: str, token: str, url: str, submission):
    """POST one submission from a fresh client that holds a copy of the prepared session."""
    values, encoding, htmx = submission
    client = app.test_client()
    client.set_cookie("session", cookie)
    body = MultiDict([("csrf_token", token)])
    for name, posted in values.items():
        for value in posted:
            body.add(name, value)
    return client.post(url, data=body, content_type=encoding, headers=HTMX if htmx else {})


def check(response, submission, form: dict) -> None:
    """No 5xx; a refused form comes back as the form (the fragment for htmx, else the page)."""
    _values, _encoding, htmx = submission
    assert response.status_code < 500, f"{response.status_code} (the app log has the traceback)"
    if response.status_code == 422:
        page = soup(response)
        assert page.find(form["tag"], id=form["id"]) is not None
        assert (page.find("html") is None) == (htmx and form["fragment"])


def assert_explored(statuses: Counter) -> None:
    """At least 500 submissions were sent, and both refusals and successes came back."""
    assert statuses.total() >= 500, statuses
    assert statuses[422] and (statuses[303] or statuses[204]), statuses


def reset(app, keep_user_ids=(), restore=None) -> None:
    """Undo what an example may have written: new users, login counters, a password change."""
    with app.app_context():
        if keep_user_ids:
            db.session.execute(delete(User).where(User.id.not_in(keep_user_ids)))
        db.session.execute(delete(LoginThrottle))
        if restore is not None:
            user_id, password_hash = restore
            db.session.execute(
                update(User)
                .where(User.id == user_id)
                .values(password_hash=password_hash, session_version=1, locale=None)
            )
        db.session.commit()


def password_hash_of(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).password_hash


# ---------------------------------------------------------------------------------------------
# The forms
# ---------------------------------------------------------------------------------------------


def test_fuzz_register(app, make_customer):
    referrer = make_customer("13800138000")
    taken = make_customer("taken@example.com")
    keep = (referrer.id, taken.id)
    visitor = app.test_client()
    token = csrf_token(visitor)
    cookie = session_cookie(visitor)
    form = {"tag": "form", "id": "register-form", "fragment": True}
    statuses = Counter()

    @FUZZ
    @given(submissions(register_fields(referrer.invite_code)))
    # Found by this test: a NUL byte in the invite code was a 500 on PostgreSQL.
    @example(({**VALID_REGISTRATION, "invite_code": ["\x00"]}, URLENCODED, False))
    def run(submission):
        response = submit(app, cookie, token, "/auth/register", submission)
        statuses[response.status_code] += 1
        if response.status_code in (204, 303):
            reset(app, keep_user_ids=keep)  # the next example may pick the same identifier
        check(response, submission, form)

    run()
    assert_explored(statuses)


CURRENT_PASSWORDS = field(st.sampled_from([DEFAULT_PASSWORD]) | LONG_PASSWORDS)


def login_fields(identifiers):
    return st.fixed_dictionaries(
        {
            "identifier": field(st.sampled_from(identifiers) | CN_MOBILES | EMAILS),
            "password": CURRENT_PASSWORDS,
            "remember": field(st.sampled_from(["y", "on", "1", "true", "false", "0"])),
        }
    )


def test_fuzz_login(app, make_customer):
    by_phone = make_customer("13800138000")
    make_customer("buyer@example.com")
    identifiers = ["13800138000", "+86 138 0013 8000", "buyer@example.com", "BUYER@Example.com"]
    visitor = app.test_client()
    token = csrf_token(visitor)
    cookie = session_cookie(visitor)
    original_hash = password_hash_of(app, by_phone.id)
    form = {"tag": "form", "id": "login-form", "fragment": True}
    statuses = Counter()

    @FUZZ
    @given(submissions(login_fields(identifiers)))
    def run(submission):
        response = submit(app, cookie, token, "/auth/login", submission)
        statuses[response.status_code] += 1
        # Forget the counted attempts so that no example finds an identifier locked.
        reset(app, restore=(by_phone.id, original_hash))
        check(response, submission, form)

    run()
    assert_explored(statuses)


@st.composite
def password_fields(draw):
    new_password = draw(NEW_PASSWORDS)
    return {
        "current_password": draw(CURRENT_PASSWORDS),
        "new_password": new_password,
        "confirm": draw(same_or_other(new_password, OTHER_CONFIRMS)),
    }


def test_fuzz_change_password(app, make_customer):
    account = make_customer()
    customer = app.test_client()
    assert login(customer, account).status_code == 303
    token = csrf_token(customer)
    cookie = session_cookie(customer)
    original_hash = password_hash_of(app, account.id)
    form = {"tag": "form", "id": "password-form", "fragment": True}
    statuses = Counter()

    @FUZZ
    @given(submissions(password_fields()))
    def run(submission):
        response = submit(app, cookie, token, "/account/password", submission)
        statuses[response.status_code] += 1
        if response.status_code in (204, 303):
            # The change ended every other session, the prepared cookie included: undo it.
            reset(app, restore=(account.id, original_hash))
        check(response, submission, form)

    run()
    assert_explored(statuses)


LANGUAGE_FIELDS = st.fixed_dictionaries(
    {
        "lang": field(st.sampled_from(["zh_CN", "en"])),
        "next": field(
            st.sampled_from(["/", "/account/", "/auth/login?next=/", "//evil.example", ""])
        ),
    }
)


def test_fuzz_language(app, make_customer):
    account = make_customer()
    visitor, customer = app.test_client(), app.test_client()
    assert login(customer, account).status_code == 303
    sessions = {
        "visitor": (csrf_token(visitor), session_cookie(visitor)),
        "customer": (csrf_token(customer), session_cookie(customer)),
    }
    original_hash = password_hash_of(app, account.id)
    form = {"tag": "select", "id": "lang", "fragment": False}  # always the full page
    statuses = Counter()

    @FUZZ
    @given(st.sampled_from(sorted(sessions)), submissions(LANGUAGE_FIELDS))
    def run(who, submission):
        token, cookie = sessions[who]
        response = submit(app, cookie, token, "/language", submission)
        statuses[response.status_code] += 1
        if who == "customer" and response.status_code in (204, 303):
            reset(app, restore=(account.id, original_hash))  # forget the saved language
        check(response, submission, form)

    run()
    assert_explored(statuses)
