"""Fuzzing the parcel forms: whatever is posted (or asked of the list), the portal never answers
with a 5xx, a refused form comes back as the form with 422, and a refusal writes nothing.

Per database, 250 cases of each: registrations, edits (own, received, bound and other customers'
parcels), bulk registrations (pasted text and uploaded files: CSV, XLSX, junk bytes), deletions and
list queries: arbitrary unicode (NUL included), 10 kB strings, odd numbers, fields missing or
repeated, random extra fields (status, customer_id, ...), urlencoded or multipart, plain or htmx.
"""

import io
from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import delete, func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from portal.extensions import db
from portal.models import GOODS_CATEGORIES, Parcel
from portal.services import couriers
from tests.helpers import HTMX, csrf_token, login, soup
from tests.test_fuzz import (
    CHARS,
    ENCODINGS,
    EXTRA_FIELDS,
    JUNK,
    TEXT,
    TRICKY,
    field,
    session_cookie,
    submissions,
    submit,
)
from tests.test_parcels import bind
from tests.test_quote_fuzz import ODD_NUMBERS


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.integers(-(10**12), 10**12).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
TRACKING = st.one_of(
    st.sampled_from(
        [
            "SF1234567890123",
            "sf 1234-5678-90123",
            "ＳＦ１２３４５６７８９０１２３",
            "YT1234567890123",  # registered by the customer already
            "JT1234567890123",  # registered by another customer
            "7712345678901",
            "EA123456789CN",
            "abc",
            "",
            "X" * 41,
        ]
    ),
    st.text("0123456789ABCDEFsfyt -‐", max_size=45),
)
COURIERS = st.sampled_from(["", "SF", "JD", "ZTO", "OTHER", "ups", "sf", "OTHER "])
OTHER_NAMES = st.sampled_from(["", "百世快递", "x" * 21, "<b>x</b>"])
CONTENTS = st.one_of(st.sampled_from(["T恤", "", "<script>alert(1)</script>", "x" * 101]), TEXT)
CATEGORIES = st.sampled_from([*GOODS_CATEGORIES, "", "化妆品", "Liquids", "GENERAL", "plutonium"])
AMOUNTS = st.one_of(st.decimals("0", "1000000", places=2).map(str), NUMBERS)
QUANTITIES = st.one_of(st.integers(-5, 10**5).map(str), NUMBERS)
WEIGHTS = st.one_of(st.decimals("0.001", "1000", places=3).map(str), NUMBERS)
EXTRA_NAMES = ["status", "customer_id", "weight_g", "received_at", "shared_tracking_no", "id"]
MASS_ASSIGNMENT = st.dictionaries(
    st.sampled_from(EXTRA_NAMES),
    st.lists(st.sampled_from(["received", "1", "y", "2020-01-01"]), min_size=1, max_size=2),
    max_size=3,
)


GOOD_TRACKING = st.builds(
    lambda prefix, digits, style: style(prefix + digits),
    st.sampled_from(["SF", "YT", "JT", "JD", "", "sf", "DPK"]),
    st.text("0123456789", min_size=10, max_size=13),
    st.sampled_from([str, str.lower, lambda n: f" {n[:4]} {n[4:]} ", lambda n: "-".join(n)]),
)
GOOD = {
    "tracking_no": GOOD_TRACKING,
    "courier": st.sampled_from(["", "SF", "ZTO"]),
    "courier_other": st.just(""),
    "contents": st.sampled_from(["T恤", "", "鞋 x2", "<script>alert(1)</script>"]),
    "category": st.sampled_from([*GOODS_CATEGORIES, "", "化妆品", "Liquids"]),
    "declared_value": st.decimals("0", "1000000", places=2).map(str),
    "quantity": st.integers(1, 9999).map(str),
    "weight": st.one_of(st.just(""), st.decimals("0.001", "1000", places=3).map(str)),
    "note": st.sampled_from(["", "易碎", "<b>note</b>"]),
}
ANY = {
    "tracking_no": TRACKING,
    "courier": COURIERS,
    "courier_other": OTHER_NAMES,
    "contents": CONTENTS,
    "category": CATEGORIES,
    "declared_value": AMOUNTS,
    "quantity": QUANTITIES,
    "weight": WEIGHTS,
    "note": CONTENTS,
}


# Built once: Hypothesis validates every new strategy it draws from, so one made per draw is slow.
THIRDS = st.integers(0, 2)
GOOD_FIELDS = st.fixed_dictionaries({name: GOOD[name].map(lambda v: [v]) for name in GOOD})
MIXED_FIELDS = st.fixed_dictionaries({name: field(ANY[name] | GOOD[name]) for name in GOOD})


@st.composite
def parcel_fields(draw):
    """A third of the submissions have only good values (so that the success path runs often);
    the others mix good values with anything."""
    values = draw(GOOD_FIELDS if draw(THIRDS) == 0 else MIXED_FIELDS)
    return {**values, **draw(MASS_ASSIGNMENT)}


VALID = {
    "tracking_no": ["SF1234567890123"],
    "contents": ["T恤"],
    "category": ["general"],
    "declared_value": ["12.50"],
    "quantity": ["1"],
}


def count_parcels(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Parcel))


def snapshot(app, parcel_id: int) -> dict | None:
    with app.app_context():
        p = db.session.get(Parcel, parcel_id)
        return {c.name: getattr(p, c.name) for c in Parcel.__table__.columns} if p else None


def forget_new_parcels(app, keep: set[int]) -> None:
    with app.app_context():
        db.session.execute(delete(Parcel).where(Parcel.id.not_in(keep)))
        db.session.commit()


def check_form(response, htmx: bool, form_id: str) -> None:
    """A refusal is the form again: the fragment for htmx, the page otherwise."""
    page = soup(response)
    assert page.find("form", id=form_id) is not None
    assert (page.find("html") is None) == htmx


def prepared(app, account) -> tuple[str, str]:
    client = app.test_client()
    assert login(client, account).status_code == 303
    return csrf_token(client), session_cookie(client)


# ---------------------------------------------------------------------------------------------
# The forms
# ---------------------------------------------------------------------------------------------


def test_fuzz_register(app, make_customer, make_parcel):
    account, other = make_customer(), make_customer()
    keep = {
        make_parcel(account.id, tracking_no="YT1234567890123"),
        make_parcel(other.id, tracking_no="JT1234567890123"),
    }
    token, cookie = prepared(app, account)
    statuses = Counter()

    @fuzz(250)
    @given(submissions(parcel_fields()))
    @example((VALID, "application/x-www-form-urlencoded", False))
    @example(({**VALID, "tracking_no": ["YT1234567890123"]}, "multipart/form-data", True))
    @example(
        (
            {**VALID, "tracking_no": ["JT1234567890123"], "status": ["received"]},
            "multipart/form-data",
            True,
        )
    )
    def run(submission):
        before = count_parcels(app)
        response = submit(app, cookie, token, "/parcels/new", submission)
        statuses[response.status_code] += 1
        assert response.status_code in (204, 303, 422), response.status_code
        if response.status_code == 422:
            check_form(response, submission[2], "parcel-form")
            assert count_parcels(app) == before
        else:
            with app.app_context():
                new = db.session.scalars(select(Parcel).where(Parcel.id.not_in(keep))).all()
                assert [(p.customer_id, p.status, p.weight_g) for p in new] == [
                    (account.id, "expected", None)
                ]
            forget_new_parcels(app, keep)

    run()
    assert statuses.total() >= 200, statuses
    assert statuses[422] and statuses[303] + statuses[204], statuses


def test_fuzz_edit(app, make_customer, make_parcel):
    account, other = make_customer(), make_customer()
    ids = {
        "expected": make_parcel(account.id, tracking_no="SF0000000000001"),
        "received": make_parcel(account.id, received=True, tracking_no="SF0000000000002"),
        "bound": make_parcel(account.id, received=True, tracking_no="SF0000000000003"),
        "theirs": make_parcel(other.id, tracking_no="SF0000000000004"),
    }
    make_parcel(account.id, tracking_no="YT1234567890123")
    bind(app, ids["bound"], account.id, "JY2026999999")
    token, cookie = prepared(app, account)
    expected_statuses = {
        "expected": (204, 303, 422),
        "received": (204, 303, 422),
        "bound": (409,),
        "theirs": (404,),
    }
    statuses = Counter()

    @fuzz(250)
    @given(st.sampled_from(sorted(ids)), submissions(parcel_fields()))
    @example("expected", (VALID, "application/x-www-form-urlencoded", False))
    @example("received", (VALID, "multipart/form-data", True))
    def run(which, submission):
        pid = ids[which]
        before = snapshot(app, pid)
        response = submit(app, cookie, token, f"/parcels/{pid}/edit", submission)
        statuses[response.status_code] += 1
        assert response.status_code in expected_statuses[which], (which, response.status_code)
        after = snapshot(app, pid)
        if response.status_code == 422:
            check_form(response, submission[2], "parcel-form")
        if response.status_code in (204, 303):
            assert after["status"] == before["status"]
            assert after["customer_id"] == account.id and after["weight_g"] == before["weight_g"]
            if which == "received":
                assert after["tracking_no"] == before["tracking_no"]
        else:
            assert after == before

    run()
    assert statuses.total() >= 150, statuses
    assert statuses[422] and statuses[303] + statuses[204] and statuses[404] and statuses[409]


def xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


LINES = st.one_of(
    TRACKING,
    st.builds(
        lambda *cells: ",".join(cells),
        TRACKING,
        CONTENTS.filter(lambda s: "\n" not in s),
        CATEGORIES,
        AMOUNTS,
    ),
    st.builds(lambda n, c: f"{n}\t{c}", TRACKING, CATEGORIES),
    TRICKY,
)
GOOD_LINES = st.one_of(
    GOOD_TRACKING,
    st.builds(
        lambda *cells: ",".join(cells),
        GOOD_TRACKING,
        st.sampled_from(["T恤", "", '"鞋, 两双"']),
        GOOD["category"],
        GOOD["declared_value"],
    ),
)
GOOD_PASTES = st.lists(
    GOOD_LINES,
    min_size=1,
    max_size=6,
    unique_by=lambda line: couriers.normalise_tracking_no(line.split(",")[0]),
).map("\n".join)
PASTES = st.one_of(GOOD_PASTES, GOOD_PASTES, st.lists(LINES, max_size=8).map("\n".join), JUNK)
FILES = st.one_of(
    GOOD_PASTES.map(lambda text: text.encode("utf-8-sig")),
    PASTES.map(lambda text: text.encode("utf-8")),
    PASTES.map(lambda text: text.encode("gb18030", errors="replace")),
    st.binary(max_size=300),
    st.sampled_from(
        [
            xlsx([["tracking_no"], ["SF1234567890123", "x", "general", 1.5], [751234567890]]),
            xlsx([["??", None, 3.0], [None], [True, "x" * 300]]),
            b"PK\x03\x04junk",
            b"",
        ]
    ),
)


BULK_MODES = st.integers(0, 9)
PASTE_FIELDS = field(PASTES)
NO_ROWS = st.sampled_from([[], [""]])
MAYBE_FILES = st.none() | FILES


@st.composite
def bulk_inputs(draw) -> tuple[list[str], bytes | None]:
    """(pasted text, uploaded file): mostly one of the two, sometimes both or neither."""
    mode = draw(BULK_MODES)
    if mode <= 2:
        return [draw(GOOD_PASTES)], None
    if mode <= 5:
        return draw(PASTE_FIELDS), None
    if mode <= 7:
        return draw(NO_ROWS), draw(FILES)
    return draw(PASTE_FIELDS), draw(MAYBE_FILES)


def submit_bulk(app, cookie: str, token: str, values: dict, data: bytes | None, encoding, htmx):
    client = app.test_client()
    client.set_cookie("session", cookie)
    body = MultiDict([("csrf_token", token)])
    for name, posted in values.items():
        for value in posted:
            body.add(name, value)
    headers = HTMX if htmx else {}
    if data is None and encoding != "multipart/form-data":
        return client.post("/parcels/bulk", data=body, headers=headers)
    if data is not None:
        body.add("file", FileStorage(io.BytesIO(data), filename="parcels.csv"))
    boundary, payload = encode_multipart(body)
    return client.post(
        "/parcels/bulk",
        data=payload,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


def test_fuzz_bulk(app, make_customer, make_parcel):
    account, other = make_customer(), make_customer()
    keep = {
        make_parcel(account.id, tracking_no="YT1234567890123"),
        make_parcel(other.id, tracking_no="JT1234567890123"),
    }
    token, cookie = prepared(app, account)
    statuses = Counter()

    @fuzz(250)
    @given(bulk_inputs(), EXTRA_FIELDS, ENCODINGS, st.booleans())
    @example(
        (["SF1234567890123\nEA123456789CN,口红,化妆品,10"], None), {}, "multipart/form-data", True
    )
    @example(([], b"tracking_no\r\nSF1234567890123\r\n"), {}, "multipart/form-data", False)
    @example((["SF1234567890123"], b"SF1234567890124"), {}, "multipart/form-data", False)
    def run(inputs, extras, encoding, htmx):
        rows, data = inputs
        values = {
            "rows": rows,
            **{k: v for k, v in extras.items() if k not in ("rows", "file", "csrf_token")},
        }
        before = count_parcels(app)
        response = submit_bulk(app, cookie, token, values, data, encoding, htmx)
        statuses[response.status_code] += 1
        assert response.status_code in (204, 303, 422), response.status_code
        if response.status_code == 422:
            check_form(response, htmx, "bulk-form")
            assert count_parcels(app) == before
        else:
            forget_new_parcels(app, keep)

    run()
    assert statuses.total() >= 150, statuses
    assert statuses[422] and statuses[303] + statuses[204], statuses


def test_fuzz_delete(app, make_customer, make_parcel):
    account, other = make_customer(), make_customer()
    ids = {
        "own": make_parcel(account.id),
        "bound": make_parcel(account.id, received=True),
        "theirs": make_parcel(other.id),
        "unknown": 10**6,
    }
    bind(app, ids["bound"], account.id, "JY2026999998")
    token, cookie = prepared(app, account)
    expected_statuses = {
        "own": (204, 303),
        "bound": (409,),
        "theirs": (404,),
        "unknown": (404,),
    }
    statuses = Counter()

    @fuzz(250)
    @given(st.sampled_from(sorted(ids)), submissions(st.just({})))
    def run(which, submission):
        response = submit(app, cookie, token, f"/parcels/{ids[which]}/delete", submission)
        statuses[response.status_code] += 1
        assert response.status_code in expected_statuses[which], (which, response.status_code)
        if which == "own":
            assert snapshot(app, ids["own"]) is None
            ids["own"] = make_parcel(account.id)
        elif which != "unknown":
            assert snapshot(app, ids[which]) is not None

    run()
    assert statuses.total() >= 50, statuses


# ---------------------------------------------------------------------------------------------
# The list's query string
# ---------------------------------------------------------------------------------------------

SPECIAL_NAMES = ["endpoint", "_external", "_scheme", "_anchor", "_method", "values"]


LIST_FIELDS = st.fixed_dictionaries(
    {
        "status": field(st.sampled_from(["expected", "received", "consolidated", "", "x"])),
        "q": field(st.one_of(TRACKING, CONTENTS, st.sampled_from(["%", "_", "\\", "'"]))),
        "page": field(st.one_of(st.integers(-3, 10**9).map(str), NUMBERS)),
        "expiring": field(st.sampled_from(["1", "0", "yes", ""])),
    }
)
LIST_EXTRAS = st.dictionaries(
    st.one_of(st.sampled_from(SPECIAL_NAMES), st.text(CHARS, min_size=1, max_size=10)),
    st.lists(TRICKY, min_size=1, max_size=2),
    max_size=2,
)


@st.composite
def list_queries(draw) -> MultiDict:
    values = draw(LIST_FIELDS)
    extras = draw(LIST_EXTRAS)
    query = MultiDict()
    for name, posted in {**extras, **values}.items():
        for value in posted:
            query.add(name, value)
    return query


def test_fuzz_list(app, make_customer, make_parcel):
    account = make_customer()
    for i in range(3):
        make_parcel(account.id, contents=f"box {i} 100%")
        make_parcel(account.id, received=True)
    client = app.test_client()
    assert login(client, account).status_code == 303
    statuses = Counter()

    @fuzz(250)
    @given(list_queries(), st.booleans())
    @example(MultiDict({"status": "received", "expiring": "1", "page": "2"}), True)
    @example(MultiDict({"q": "\x00"}), False)
    def run(query, htmx):
        response = client.get("/parcels/", query_string=query, headers=HTMX if htmx else {})
        statuses[response.status_code] += 1
        assert response.status_code in (200, 422), response.status_code
        page = soup(response)
        assert page.find(id="parcel-list") is not None
        assert (page.find("html") is None) == htmx
        if response.status_code == 422:
            assert page.find(id="q-error").get_text(strip=True)

    run()
    assert statuses.total() >= 100, statuses
    assert statuses[200] and statuses[422], statuses
