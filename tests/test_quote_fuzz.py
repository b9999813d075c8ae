"""Fuzzing the public quote: whatever the query string holds, /quote, an offer's price details
and /orders/new never answer with a 5xx, and a refused query says what is wrong.

At least 500 generated queries go to /quote (full page and htmx fragment), 500 to
/quote/details/<channel> (page and fragment) and 500 to /orders/new (where "ship with this"
leads) as a logged-in customer, per database: arbitrary
unicode (NUL bytes included, no lone surrogates), 10 kB strings, parameters missing or repeated,
odd numbers (`1e9`, `NaN`, `Infinity`, `-0`, `0x10`, `1_000`, superscript and full-width digits,
thousands of digits),
random extra parameters (some of them names `url_for` treats specially), with valid values mixed
in so that the priced path runs too. The queries only read, so nothing needs to be put back.
"""

import functools
from collections import Counter
from urllib.parse import quote as url_quote

from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from portal.models import GOODS_CATEGORIES
from tests.helpers import HTMX, login, soup
from tests.test_fuzz import CHARS, FUZZ, HUGE, ODD_CHARS, TEXT, TRICKY
from tests.test_quote import DEMO_COUNTRIES, card  # noqa: F401 (the demo card fixture)

# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

ODD_NUMBERS = [
    "1e9",
    "1E+2",
    "1e-3",
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "-0",
    "0",
    "0.0",
    "0x10",
    "1_000",
    "1,000",
    "1.",
    ".5",
    "+2",
    " 1.5 ",
    "1.2345",
    "²",
    "３",
    "٣",
    "12\x00",
    "9" * 25,
    "9" * 5_000,
    "0" * 4_400 + "1",
]
NUMBERS = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text("0123456789", min_size=1, max_size=40),
)
WEIGHTS = st.one_of(
    st.decimals("0.001", "1000", places=3).map(str),
    st.sampled_from(["1.2", "0.5", "7", "25", "35", "70.5", "300", "999.999"]),
    NUMBERS,
)
SIDES = st.one_of(st.integers(1, 300).map(str), NUMBERS)
DECLARED = st.one_of(st.decimals("0", "1000000", places=2).map(str), NUMBERS)
COUNTRIES = st.sampled_from(sorted(DEMO_COUNTRIES) + ["us", "XX", "CN", "", " US"])
POSTCODES = st.sampled_from(
    ["10001", "99501", "90210", "SW1A 1AA", "HS1 2AB", "M5V 3L9", "X0A 0H0", "2000", "0800"]
    + ["100-0001", "1000100", "10115", "27498", "100", "88001", "ABCDE", "", "12345-6789"]
)
CITIES = st.sampled_from(["", "台北市", "Alaska", "沖縄県", "New York", "x" * 61])
CATEGORIES = st.sampled_from([*GOODS_CATEGORIES, "", "plutonium", "GENERAL"])
BOOLEANS = st.sampled_from(["y", "on", "1", "true", "false", "0", ""])
CHANNELS = st.sampled_from(
    ["US-EXP-DHL", "US-STD-AIR", "US-ECO-SEA", "GB-DDP", "TW-PKT", "JP-EMS", "AU-STD-BAT"]
    + ["US-EXP-FEDEX-IE", "NOPE", "us-exp-dhl", ""]
)
# Rarer 10 kB strings than test_fuzz.JUNK: a long query string is slow in the test client.
JUNK = st.one_of(st.just(""), TEXT, TRICKY, TEXT, TRICKY, st.just("\x00"), HUGE)


@functools.cache
def field(valid: st.SearchStrategy) -> st.SearchStrategy[list[str]]:
    """As test_fuzz.field: one plausible value, anything, left out, or repeated (with JUNK).
    Remembered per strategy, as test_fuzz.field is."""
    anything = st.one_of(valid, valid.map(lambda v: v + "\x00"), st.sampled_from(ODD_CHARS), JUNK)
    return st.one_of(
        valid.map(lambda v: [v]),
        anything.map(lambda v: [v]),
        st.just([]),
        st.lists(anything, min_size=2, max_size=3),
    )


# Names url_for reads itself, and parameters the quote does not know.
SPECIAL_NAMES = ["endpoint", "_external", "_scheme", "_anchor", "_method", "values", "next"]
EXTRA_PARAMETERS = st.dictionaries(
    st.one_of(st.sampled_from(SPECIAL_NAMES), st.text(CHARS, min_size=1, max_size=20)),
    st.lists(st.one_of(JUNK, TRICKY), min_size=1, max_size=2),
    max_size=3,
)


@functools.cache
def numeric(valid: st.SearchStrategy) -> st.SearchStrategy[list[str]]:
    """A number field: like test_fuzz.field, with the odd numbers weighing more."""
    return st.one_of(field(valid), NUMBERS.map(lambda v: [v]))


# Built once: Hypothesis validates every new strategy it draws from, so one made per draw is slow.
QUERY_FIELDS = {
    "country": field(COUNTRIES),
    "postcode": field(POSTCODES),
    "city": field(CITIES),
    "weight": numeric(WEIGHTS),
    "category": field(CATEGORIES),
    "declared": numeric(DECLARED),
    "insure": field(BOOLEANS),
}
SIDE_FIELD = numeric(SIDES)
CHANNEL_FIELD = field(CHANNELS)
WITH_SIDES = st.booleans()


@st.composite
def queries(draw, with_channel: bool = False) -> MultiDict:
    values = {name: draw(strategy) for name, strategy in QUERY_FIELDS.items()}
    if draw(WITH_SIDES):
        for side in ("length", "width", "height"):
            values[side] = draw(SIDE_FIELD)
    if with_channel:
        values["channel"] = draw(CHANNEL_FIELD)
    extras = {k: v for k, v in draw(EXTRA_PARAMETERS).items() if k not in values}
    query = MultiDict()
    for name, posted in {**values, **extras}.items():
        for value in posted:
            query.add(name, value)
    return query


def valid(**changes) -> MultiDict:
    return MultiDict({"country": "US", "postcode": "10001", "weight": "1.2", **changes})


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def visible_errors(page) -> list[str]:
    return [p.get_text(strip=True) for p in page.select(".error") if p.get_text(strip=True)]


def check_quote(response, htmx: bool) -> None:
    status = response.status_code
    assert status < 500, f"{status} (the app log has the traceback)"
    assert status in (200, 422), status
    page = soup(response)
    assert (page.find("html") is None) == htmx
    assert page.find(id="quote-results") is not None
    if status == 422:
        assert visible_errors(page)
        assert not page.select("[data-testid=offer]")
        if htmx:
            assert all(p.has_attr("hx-swap-oob") for p in page.select("p.error"))


def check_wizard(response) -> None:
    status = response.status_code
    assert status < 500, f"{status} (the app log has the traceback)"
    assert status in (200, 422), status
    assert soup(response).find(id="wizard") is not None


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------


def test_fuzz_quote(app, card):  # noqa: F811
    client = app.test_client()
    statuses = Counter()

    @FUZZ
    @given(queries(), st.booleans())
    @example(valid(), False)
    @example(valid(), True)
    @example(valid(weight="NaN"), True)
    # Found by this test: a side was checked with str.isdigit(), which is true for "²" (int()
    # refuses it) and for 5000 nines (more digits than int() converts): both were a 500.
    @example(valid(length="²", width="10", height="10"), False)
    @example(valid(length="9" * 5_000, width="10", height="10"), True)
    def run(query, htmx):
        response = client.get("/quote", query_string=query, headers=HTMX if htmx else {})
        statuses[response.status_code] += 1
        check_quote(response, htmx)

    run()
    assert statuses.total() >= 500, statuses
    assert statuses[200] and statuses[422], statuses


def test_fuzz_price_details(app, card):  # noqa: F811
    client = app.test_client()
    statuses = Counter()

    @FUZZ
    @given(queries(), st.one_of(CHANNELS, TRICKY), st.booleans())
    @example(valid(), "US-EXP-DHL", False)
    @example(valid(), "US-EXP-DHL", True)
    @example(valid(weight="NaN"), "US-EXP-DHL", True)
    @example(valid(category="battery_in_equipment"), "US-EXP-DHL", True)
    def run(query, code, htmx):
        path = "/quote/details/" + url_quote(code, safe="")
        response = client.get(path, query_string=query, headers=HTMX if htmx else {})
        statuses[response.status_code] += 1
        check_details(response, htmx)

    run()
    assert statuses.total() >= 500, statuses
    assert statuses[200] and statuses[404], statuses


def check_details(response, htmx: bool) -> None:
    status = response.status_code
    assert status < 500, f"{status} (the app log has the traceback)"
    # 308: the router's redirect for a code that decodes to a path with "//" in it.
    assert status in (200, 303, 308, 404, 422), status
    if status == 303:
        assert not htmx
        assert response.headers["Location"].startswith("/quote")
    if status == 422:
        assert htmx
        assert soup(response).find(attrs={"data-testid": "details-refused"}) is not None
    if status == 200:
        page = soup(response)
        assert (page.find("html") is None) == htmx
        shown = page.select("[data-testid=price-lines], [data-testid=details-unavailable]")
        assert len(shown) == 1


def test_fuzz_ship_from_the_quote(app, make_customer, card):  # noqa: F811
    """What "ship with this" opens: the order wizard, whatever the query string holds."""
    client = app.test_client()
    assert login(client, make_customer()).status_code == 303
    statuses = Counter()

    @FUZZ
    @given(queries(with_channel=True))
    @example(valid(channel="US-EXP-DHL"))
    @example(valid())
    @example(valid(endpoint="x"))
    @example(valid(_scheme="javascript"))
    def run(query):
        response = client.get("/orders/new", query_string=query)
        statuses[response.status_code] += 1
        check_wizard(response)

    run()
    assert statuses.total() >= 500, statuses
