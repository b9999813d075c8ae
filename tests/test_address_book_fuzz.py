"""Fuzzing the address and declaration-template forms (adding and editing): whatever is posted,
the answer is never a 5xx, a refusal is the form again (422) with nothing written, and what is
saved obeys the field rules.

Half the submissions start from a valid form and spoil up to three fields (so that the success
path runs often), half are made of anything: arbitrary unicode with NUL bytes, 10 kB strings,
fields missing or repeated, odd numbers, random extra fields (`customer_id`, `is_default`...),
urlencoded or multipart, plain or htmx, with a safe or unsafe `?next=`. 300 submissions per form
and database; every example starts from the same rows, put back after a success.
"""

from collections import Counter
from urllib.parse import urlencode

from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import GOODS_CATEGORIES, Address, DeclarationTemplate
from portal.services import addresses, declarations
from portal.services.declarations import DeclarationInput
from portal.services.text import has_control_characters
from tests.helpers import login, soup
from tests.test_addresses import SHIPPING, countries  # noqa: F401 (the countries fixture)
from tests.test_fuzz import (
    CHARS,
    ENCODINGS,
    FUZZ,
    JUNK,
    TRICKY,
    URLENCODED,
    csrf_token,
    field,
    session_cookie,
    submit,
)
from tests.test_quote_fuzz import ODD_NUMBERS

EXAMPLES = settings(FUZZ, max_examples=300)

SAFE_NEXT = "/orders/new?step=address"
NEXTS = st.sampled_from(["", SAFE_NEXT, "//evil.example/", "https://evil.example/", "/\\x", "x"])
EXTRA_NAMES = ["id", "customer_id", "is_default", "created_at", "unit_value_fen", "next", "tax"]
EXTRA_FIELDS = st.dictionaries(
    st.one_of(st.sampled_from(EXTRA_NAMES), st.text(CHARS, min_size=1, max_size=20)),
    st.lists(st.one_of(JUNK, st.sampled_from(["1", "y", "true", "999"])), min_size=1, max_size=2),
    max_size=3,
)


def form_submissions(valid_forms: st.SearchStrategy, spoilers: dict[str, st.SearchStrategy]):
    """A valid form with up to three fields spoilt, or every field anything; then extra fields,
    the encoding, the htmx flag and the ?next= value.

    The strategies are built here, once: Hypothesis validates every new strategy it draws
    from, so one made per draw is slow."""
    some_names = st.sets(st.sampled_from(sorted(spoilers)), max_size=3)
    spoilt_fields = {name: field(valid) for name, valid in spoilers.items()}

    @st.composite
    def build(draw):
        values = {name: [value] for name, value in draw(valid_forms).items()}
        spoilt = draw(some_names) if draw(st.booleans()) else set(spoilers)
        for name in sorted(spoilt):
            values[name] = draw(spoilt_fields[name])
        for name, posted in draw(EXTRA_FIELDS).items():
            if name not in values and name != "csrf_token":
                values[name] = posted
        return values, draw(ENCODINGS), draw(st.booleans()), draw(NEXTS)

    return build()


def send(app, cookie, token, path: str, submission):
    values, encoding, htmx, next_ = submission
    url = f"{path}?{urlencode({'next': next_})}" if next_ else path
    return submit(app, cookie, token, url, (values, encoding, htmx))


def check_answer(response, submission, form_id: str, default_target: str) -> None:
    _values, _encoding, htmx, next_ = submission
    status = response.status_code
    assert status < 500, f"{status} (the app log has the traceback)"
    assert status in (204, 303, 422), status
    if status == 422:
        page = soup(response)
        assert page.find("form", id=form_id) is not None
        assert (page.find("html") is None) == htmx
        assert page.select("p.error, .form-errors")  # says what is wrong
        return
    target = response.headers["HX-Redirect" if status == 204 else "Location"]
    assert target == (SAFE_NEXT if next_ == SAFE_NEXT else default_target)


def assert_explored(statuses: Counter) -> None:
    assert statuses.total() >= 300, statuses
    assert statuses[422] and statuses[303] + statuses[204], statuses


# ---------------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------------

VALID_BY_COUNTRY = {
    "US": ("(415) 555-2671", "94105"),
    "GB": ("020 7946 0958", "SW1A 1AA"),
    "CA": ("416-555-0199", "M5V 3L9"),
    "KR": ("010-1234-5678", "04524"),
    "JP": ("090-1234-5678", "100-0001"),
    "BR": ("11 91234-5678", "01310-100"),
    "HK": ("9123 4567", ""),
}
assert set(VALID_BY_COUNTRY) == set(SHIPPING)
NAMES = st.sampled_from(["Li Lei", "韩梅梅", "O'Brien-Smith", "김철수", "x" * 100, "x" * 101])
LINES = st.sampled_from(["1 Market St", "서울특별시 강남구 테헤란로 1", "Apt 5", "y" * 200, ""])


def address_form(drawn: dict) -> dict:
    """A valid address form: the drawn values, the country's phone and postcode."""
    phone, postcode = VALID_BY_COUNTRY[drawn["country"]]
    return {
        "country": drawn["country"],
        "recipient_name": drawn["recipient_name"],
        "phone": phone,
        "line1": "1 Market St",
        "line2": drawn["line2"],
        "city": "Springfield",
        "region": drawn["region"],
        "postcode": postcode,
        "tax_id": drawn["tax_id"],
    }


# Built once: Hypothesis validates every new strategy it draws from, so one made per draw is slow.
VALID_ADDRESSES = st.fixed_dictionaries(
    {
        "country": st.sampled_from(sorted(VALID_BY_COUNTRY)),
        "recipient_name": NAMES.filter(lambda n: len(n) <= 100),
        "line2": st.sampled_from(["", "Apt 5"]),
        "region": st.sampled_from(["", "CA", "서울"]),
        "tax_id": st.sampled_from(["", "P123456789012", "123-456-789-09"]),
    }
).map(address_form)


ADDRESS_SPOILERS = {
    "country": st.sampled_from([*SHIPPING, "", "FR", "DE", "us", "XX", " US", "CN"]),
    "recipient_name": NAMES,
    "phone": st.sampled_from(
        [p for p, _ in VALID_BY_COUNTRY.values()] + ["+8613912345678", "12345", "+1", "0" * 40]
    ),
    "line1": LINES,
    "line2": LINES,
    "city": st.sampled_from(["Springfield", "", "z" * 101]),
    "region": st.sampled_from(["", "CA", "r" * 101]),
    "postcode": st.sampled_from(
        [c for _, c in VALID_BY_COUNTRY.values()] + ["sw1a1aa", "9410", "ABCDE", "1" * 13]
    ),
    "tax_id": st.sampled_from(["", "p123456789012", "123.456", "-", "A" * 41, "Ｐ1"]) | TRICKY,
}


def address_rows(app, customer_id: int) -> list[dict]:
    with app.app_context():
        found = db.session.scalars(
            select(Address).where(Address.customer_id == customer_id).order_by(Address.id)
        )
        return [{c.name: getattr(a, c.name) for c in Address.__table__.columns} for a in found]


def assert_valid_address(row: dict) -> None:
    """A stored address obeys every rule: re-normalising it changes nothing."""
    fields = {name: row[name] for name in addresses.AddressInput.__dataclass_fields__}
    stored = addresses.AddressInput(**fields)
    assert addresses.normalise_address(stored, frozenset(SHIPPING)) == stored
    assert not any(has_control_characters(str(value)) for value in fields.values())


def restore_addresses(app, customer_id: int, baseline: list[dict]) -> None:
    keep = [row["id"] for row in baseline]
    with app.app_context():
        db.session.execute(
            delete(Address).where(Address.customer_id == customer_id, Address.id.not_in(keep))
        )
        for row in baseline:
            address = db.session.get(Address, row["id"])
            for name, value in row.items():
                setattr(address, name, value)
        db.session.commit()


def test_fuzz_address_form(app, make_customer, make_address, countries):  # noqa: F811
    account = make_customer()
    existing = make_address(account.id, is_default=True, postcode="94105")
    customer = app.test_client()
    assert login(customer, account).status_code == 303
    token, cookie = csrf_token(customer), session_cookie(customer)
    baseline = address_rows(app, account.id)
    paths = ["/addresses/new", f"/addresses/{existing}/edit"]
    statuses = Counter()

    @EXAMPLES
    @given(st.sampled_from(paths), form_submissions(VALID_ADDRESSES, ADDRESS_SPOILERS))
    @example(
        paths[0],
        (
            {"country": ["US"], "recipient_name": ["\x00"], "phone": ["(415) 555-2671"]},
            URLENCODED,
            True,
            "",
        ),
    )
    def run(path, submission):
        response = send(app, cookie, token, path, submission)
        statuses[response.status_code] += 1
        check_answer(response, submission, "address-form", "/addresses/")
        after = address_rows(app, account.id)
        if response.status_code == 422:
            assert after == baseline  # nothing half-written
            return
        assert [r["id"] for r in after if r["is_default"]] == [existing]
        assert len(after) == len(baseline) + (path == paths[0])
        changed = after[-1] if path == paths[0] else after[0]
        assert changed["customer_id"] == account.id
        assert_valid_address(changed)
        restore_addresses(app, account.id, baseline)

    run()
    assert_explored(statuses)


# ---------------------------------------------------------------------------------------------
# Declaration templates
# ---------------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.integers(-(10**12), 10**12).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


VALID_DECLARATIONS = st.fixed_dictionaries(
    {
        "name_zh": st.sampled_from(["手机壳", "T恤", "儿童玩具（塑料）", "口红" * 50]),
        "name_en": st.sampled_from(["Phone case", "T-shirt", "Toy (plastic), 2 pcs."]),
        "category": st.sampled_from(GOODS_CATEGORIES),
        "quantity": st.integers(1, 9999).map(str),
        "unit_value": st.decimals("0.01", "100000", places=2).map(str),
        "hs_code": st.sampled_from(["", "3926.90", "6109.10.00", "8517620099"]),
    }
)


DECLARATION_SPOILERS = {
    "name_zh": st.sampled_from(["手机壳", "Phone case", "", "手" * 101]) | TRICKY,
    "name_en": st.sampled_from(["Phone case", "手机壳", "Café", "x" * 101])
    | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120),
    "category": st.sampled_from([*GOODS_CATEGORIES, "", "plutonium", "GENERAL"]),
    "quantity": st.one_of(st.integers(-5, 10_010).map(str), NUMBERS),
    "unit_value": st.one_of(st.decimals("-1", "100001", places=3).map(str), NUMBERS),
    "hs_code": st.sampled_from(["3926.90", "12345", "12345678901", "39 26 90", "３９２６９０"]),
}


def template_rows(app, customer_id: int) -> list[dict]:
    with app.app_context():
        found = db.session.scalars(
            select(DeclarationTemplate)
            .where(DeclarationTemplate.customer_id == customer_id)
            .order_by(DeclarationTemplate.id)
        )
        columns = DeclarationTemplate.__table__.columns
        return [{c.name: getattr(t, c.name) for c in columns} for t in found]


def restore_templates(app, customer_id: int, baseline: list[dict]) -> None:
    keep = [row["id"] for row in baseline]
    with app.app_context():
        db.session.execute(
            delete(DeclarationTemplate).where(
                DeclarationTemplate.customer_id == customer_id,
                DeclarationTemplate.id.not_in(keep),
            )
        )
        for row in baseline:
            template = db.session.get(DeclarationTemplate, row["id"])
            for name, value in row.items():
                setattr(template, name, value)
        db.session.commit()


def test_fuzz_declaration_form(app, make_customer):
    account = make_customer()
    with app.app_context():
        db.session.add(
            DeclarationTemplate(
                customer_id=account.id,
                name_zh="衣服",
                name_en="Clothes",
                quantity=1,
                unit_value_fen=5000,
            )
        )
        db.session.commit()
    baseline = template_rows(app, account.id)
    customer = app.test_client()
    assert login(customer, account).status_code == 303
    token, cookie = csrf_token(customer), session_cookie(customer)
    paths = ["/declarations/new", f"/declarations/{baseline[0]['id']}/edit"]
    statuses = Counter()

    @EXAMPLES
    @given(st.sampled_from(paths), form_submissions(VALID_DECLARATIONS, DECLARATION_SPOILERS))
    def run(path, submission):
        response = send(app, cookie, token, path, submission)
        statuses[response.status_code] += 1
        check_answer(response, submission, "declaration-form", "/declarations/")
        after = template_rows(app, account.id)
        if response.status_code == 422:
            assert after == baseline  # nothing half-written
            return
        assert len(after) == len(baseline) + (path == paths[0])
        row = after[-1] if path == paths[0] else after[0]
        assert row["customer_id"] == account.id
        fields = {name: row[name] for name in DeclarationInput.__dataclass_fields__}
        assert declarations.check_line(DeclarationInput(**fields)) == DeclarationInput(**fields)
        restore_templates(app, account.id, baseline)

    run()
    assert_explored(statuses)
