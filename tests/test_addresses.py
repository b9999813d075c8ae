"""The address book (/addresses): listing, adding, editing, deleting, the default address, field
rules with their messages, masking of ID numbers, ?next=, fragments, other customers' ids and
mass assignment."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Address, User
from portal.services import addresses, rate_cards
from portal.services.addresses import AddressInput, AddressNotFound
from portal.services.errors import ValidationFailed
from portal.services.pricing_types import Area
from tests.conftest import run_together
from tests.helpers import HTMX, field_error, login, post, soup
from tests.pricing_factories import channel, zone
from tests.test_http import assert_csp_safe_markup, assert_security_headers
from tests.test_quote import DEMO_COUNTRIES, card  # noqa: F401 (the demo card fixture)

SHIPPING = ("US", "GB", "CA", "KR", "JP", "BR", "HK")
US_FORM = {
    "country": "US",
    "recipient_name": "Li Lei",
    "phone": "(415) 555-2671",
    "line1": "1 Market St",
    "line2": "Apt 5",
    "city": "San Francisco",
    "region": "CA",
    "postcode": "94105",
    "tax_id": "",
}
EVIL_NEXTS = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]


@pytest.fixture
def countries(monkeypatch):
    """A rate card in force that ships to SHIPPING (no database needed)."""
    areas = tuple(Area(code) for code in SHIPPING)
    channels = (channel(zones=(zone("ALL", *areas),)),)
    monkeypatch.setattr(rate_cards, "channels_in_force", lambda _on: channels)
    return SHIPPING


@pytest.fixture
def customer(app, client, make_customer, countries):
    account = make_customer()
    assert login(client, account).status_code == 303
    return account


def rows(app, customer_id: int) -> list[dict]:
    """The customer's addresses as plain values, oldest first."""
    with app.app_context():
        found = db.session.scalars(
            select(Address).where(Address.customer_id == customer_id).order_by(Address.id)
        )
        return [{c.name: getattr(a, c.name) for c in Address.__table__.columns} for a in found]


def defaults(app, customer_id: int) -> list[int]:
    return [r["id"] for r in rows(app, customer_id) if r["is_default"]]


def cards(response) -> list:
    return soup(response).select("#address-list [data-testid=address]")


# ---------------------------------------------------------------------------------------------
# Field rules (no database)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("US", "(415) 555-2671", "+14155552671"),
        ("US", "+1 415 555 2671", "+14155552671"),
        ("GB", "020 7946 0958", "+442079460958"),
        ("KR", "010-1234-5678", "+821012345678"),
        ("JP", "090-1234-5678", "+819012345678"),
        ("HK", "9123 4567", "+85291234567"),
        ("BR", "11 91234-5678", "+5511912345678"),
    ],
)
def test_phones_are_read_in_the_address_country_and_stored_in_e164(country, typed, stored):
    assert addresses.parse_phone(typed, country) == stored


@pytest.mark.parametrize(
    ("country", "typed"),
    [
        ("US", "+86 139 1234 5678"),  # a Chinese mobile for a US address
        ("US", "416-555-0199"),  # Toronto: valid, but in Canada
        ("US", "12345"),
        ("KR", "010-1234"),
        ("US", "phone"),
        ("US", "+1 415 555 2671\x00"),
        ("US", "1" * 41),
        ("US", ""),
    ],
)
def test_phones_not_valid_in_the_country_are_refused(country, typed):
    with pytest.raises(ValidationFailed) as refused:
        addresses.parse_phone(typed, country)
    assert refused.value.field == "phone"


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("GB", "sw1a 1aa", "SW1A1AA"),
        ("US", "94105-1234", "94105-1234"),
        ("CA", "m5v 3l9", "M5V3L9"),
        ("JP", "100-0001", "100-0001"),
        ("KR", " 04524 ", "04524"),
        ("HK", "", ""),  # no postcodes there
        ("BR", "01310-100", "01310-100"),  # no rule known: letters, digits, dashes
    ],
)
def test_postcodes_are_checked_per_country_and_compacted(country, typed, stored):
    assert addresses.parse_postcode(typed, country) == stored


@pytest.mark.parametrize(
    ("country", "typed"),
    [("US", ""), ("US", "9410"), ("GB", "SW1A"), ("KR", "1234"), ("BR", "0131#100"), ("JP", "x")],
)
def test_bad_or_missing_postcodes_are_refused(country, typed):
    with pytest.raises(ValidationFailed) as refused:
        addresses.parse_postcode(typed, country)
    assert refused.value.field == "postcode"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("p123456789012", "P123456789012"), ("123-456-789-09", "123-456-789-09"), ("", "")],
)
def test_tax_ids_are_upper_cased(typed, stored):
    assert addresses.parse_tax_id(typed) == stored


@pytest.mark.parametrize(
    "typed", ["123.456.789-09", "P 1234", "-123", "12--3", "Ｐ123", "1" * 41, "<b>"]
)
def test_tax_ids_with_other_characters_are_refused(typed):
    with pytest.raises(ValidationFailed) as refused:
        addresses.parse_tax_id(typed)
    assert refused.value.field == "tax_id"


def test_order_fields_copy_every_part_of_the_address():
    address = Address(
        recipient_name="A",
        phone="+1",
        country="US",
        region="R",
        city="C",
        postcode="P",
        line1="L1",
        line2="L2",
        tax_id="T",
    )
    assert addresses.order_fields(address) == {
        "ship_name": "A",
        "ship_phone": "+1",
        "ship_country": "US",
        "ship_region": "R",
        "ship_city": "C",
        "ship_postcode": "P",
        "ship_line1": "L1",
        "ship_line2": "L2",
        "ship_tax_id": "T",
    }


# ---------------------------------------------------------------------------------------------
# Pages and fragments
# ---------------------------------------------------------------------------------------------


def test_pages_need_a_login(app, client, make_customer, make_address):
    owner = make_customer()
    address_id = make_address(owner.id)
    for path in ("/addresses/", "/addresses/new", f"/addresses/{address_id}/edit"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login?next=")
    for path in (f"/addresses/{address_id}/default", f"/addresses/{address_id}/delete"):
        assert post(client, path).status_code == 302
    assert rows(app, owner.id)[0]["is_default"] is False  # the factory makes no default


def test_empty_address_book_invites_to_add_one(client, customer):
    response = client.get("/addresses/")
    assert response.status_code == 200
    page = soup(response)
    assert page.find("html") is not None
    assert page.select_one("#address-list [data-testid=no-addresses] a")["href"] == (
        "/addresses/new"
    )
    assert page.select_one("[data-testid=add-address]")["href"] == "/addresses/new"


def test_list_fragment_for_htmx(client, customer, make_address):
    make_address(customer.id)
    response = client.get("/addresses/", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    assert page.find("html") is None
    roots = page.find_all(recursive=False)
    assert [r.get("id") for r in roots] == ["address-list"]
    assert len(cards(response)) == 1


def test_new_address_form_lists_the_countries_we_ship_to(client, customer):
    response = client.get("/addresses/new")
    assert response.status_code == 200
    form = soup(response).find("form", id="address-form")
    assert form["method"] == "post"
    assert form["action"] == form["hx-post"] == "/addresses/new"
    options = [o["value"] for o in form.find("select", id="country").find_all("option")]
    assert options[0] == ""
    assert set(options[1:]) == set(SHIPPING)
    assert form.find("input", id="phone")["type"] == "tel"


def test_the_country_list_comes_from_the_rate_card_in_force(client, make_customer, card):  # noqa: F811
    assert login(client, make_customer()).status_code == 303
    select_ = soup(client.get("/addresses/new")).find("select", id="country")
    assert {o["value"] for o in select_.find_all("option")} == DEMO_COUNTRIES | {""}


def test_form_fragment_for_htmx(client, customer):
    response = client.get("/addresses/new", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    assert page.find("html") is None
    assert [r.get("id") for r in page.find_all(recursive=False)] == ["address-form"]


# ---------------------------------------------------------------------------------------------
# Adding
# ---------------------------------------------------------------------------------------------


def test_first_address_is_saved_normalised_and_becomes_the_default(app, client, customer):
    response = post(client, "/addresses/new", {**US_FORM, "tax_id": " ab-12345 "})
    assert response.status_code == 303
    assert response.headers["Location"] == "/addresses/"
    [row] = rows(app, customer.id)
    assert row["is_default"] is True
    assert row["phone"] == "+14155552671"
    assert row["postcode"] == "94105"
    assert row["tax_id"] == "AB-12345"
    assert (row["recipient_name"], row["line1"], row["line2"]) == ("Li Lei", "1 Market St", "Apt 5")
    assert (row["city"], row["region"], row["country"]) == ("San Francisco", "CA", "US")
    page = soup(client.get("/addresses/"))
    assert page.select_one("#flash .flash-success") is not None
    [card_] = page.select("[data-testid=address]")
    assert card_.find(attrs={"data-testid": "default-badge"}) is not None
    assert card_.find(attrs={"data-testid": "make-default"}) is None


def test_htmx_add_answers_with_hx_redirect(app, client, customer):
    response = post(client, "/addresses/new", US_FORM, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/addresses/"
    assert len(rows(app, customer.id)) == 1


def test_later_addresses_are_not_default_and_the_default_is_listed_first(app, client, customer):
    post(client, "/addresses/new", US_FORM)
    gb = {
        **US_FORM,
        "country": "GB",
        "phone": "020 7946 0958",
        "postcode": "sw1a 1aa",
        "region": "",
        "city": "London",
    }
    assert post(client, "/addresses/new", gb).status_code == 303
    first, second = rows(app, customer.id)
    assert first["is_default"] and not second["is_default"]
    assert second["postcode"] == "SW1A1AA"
    assert second["phone"] == "+442079460958"
    listed = [int(c["data-id"]) for c in cards(client.get("/addresses/"))]
    assert listed == [first["id"], second["id"]]


def test_an_address_without_postcodes_needs_none(app, client, customer):
    hk = {**US_FORM, "country": "HK", "phone": "9123 4567", "postcode": "", "region": ""}
    hk["city"] = "Kowloon"
    assert post(client, "/addresses/new", hk).status_code == 303
    assert rows(app, customer.id)[0]["postcode"] == ""


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "+86 139 1234 5678"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"postcode": "SW1A 1AA"}, "postcode"),
        ({"postcode": ""}, "postcode"),
        ({"tax_id": "123.456.789-09"}, "tax_id"),
        ({"recipient_name": "  "}, "recipient_name"),
        ({"recipient_name": "x" * 101}, "recipient_name"),
        ({"recipient_name": "Li\x00Lei"}, "recipient_name"),
        ({"city": ""}, "city"),
        ({"line1": ""}, "line1"),
        ({"line1": "1 Main St\n2 Other St"}, "line1"),
        ({"line2": "y" * 201}, "line2"),
        ({"region": "r" * 101}, "region"),
        ({"country": ""}, "country"),
        ({"country": "FR"}, "country"),  # a real country we do not ship to
        ({"country": "XX"}, "country"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_bad_fields_get_a_message_beside_them_and_nothing_is_saved(
    app, client, customer, changes, field, htmx
):
    response = post(client, "/addresses/new", {**US_FORM, **changes}, htmx=htmx)
    assert response.status_code == 422
    page = soup(response)
    assert (page.find("html") is None) == htmx
    assert page.find("form", id="address-form") is not None
    assert field_error(response, field)
    assert page.find(id=field)["aria-invalid"] == "true"
    others = [f for f in US_FORM if f != field and field_error(response, f)]
    assert others == []
    assert rows(app, customer.id) == []


def test_every_problem_is_shown_at_once_and_the_typed_values_stay(client, customer):
    typed = {**US_FORM, "phone": "123", "postcode": "abc", "tax_id": "#", "city": ""}
    response = post(client, "/addresses/new", typed)
    assert response.status_code == 422
    for name in ("phone", "postcode", "tax_id", "city"):
        assert field_error(response, name), name
    page = soup(response)
    assert page.find(id="phone")["value"] == "123"
    assert page.find(id="line1")["value"] == US_FORM["line1"]
    assert page.find("select", id="country").find("option", selected=True)["value"] == "US"


def test_the_phone_is_checked_only_once_the_country_is_known(client, customer):
    response = post(client, "/addresses/new", {**US_FORM, "country": ""})
    assert field_error(response, "country")
    assert field_error(response, "phone") is None
    assert field_error(response, "postcode") is None


def test_a_customer_keeps_at_most_max_addresses(app, client, customer, make_address, monkeypatch):
    monkeypatch.setattr(addresses, "MAX_ADDRESSES", 2)
    make_address(customer.id, is_default=True)
    make_address(customer.id)
    response = post(client, "/addresses/new", US_FORM)
    assert response.status_code == 422
    assert soup(response).select_one("#address-form .form-errors").get_text(strip=True)
    assert len(rows(app, customer.id)) == 2


def test_stored_scripts_are_escaped_in_the_list(client, customer, make_address):
    xss = "<script>alert(1)</script>"
    make_address(customer.id, recipient_name=xss, line1='<img src=x onerror="alert(2)">')
    response = client.get("/addresses/")
    body = response.get_data(as_text=True)
    assert xss not in body
    assert soup(response).find("img") is None
    assert xss in soup(response).get_text()


# ---------------------------------------------------------------------------------------------
# Masked ID numbers
# ---------------------------------------------------------------------------------------------


def test_the_id_number_is_masked_in_the_list_and_whole_only_on_the_edit_form(
    client, customer, make_address
):
    address_id = make_address(customer.id, tax_id="P123456789012")
    listing = client.get("/addresses/")
    assert "P123456789012" not in listing.get_data(as_text=True)
    assert soup(listing).select_one("[data-testid=tax-id]").get_text() == "P1*********12"
    fragment = client.get("/addresses/", headers=HTMX)
    assert "P123456789012" not in fragment.get_data(as_text=True)
    confirm = client.get(f"/addresses/{address_id}/delete")
    assert "P123456789012" not in confirm.get_data(as_text=True)
    edit = soup(client.get(f"/addresses/{address_id}/edit"))
    assert edit.find("input", id="tax_id")["value"] == "P123456789012"


# ---------------------------------------------------------------------------------------------
# Editing
# ---------------------------------------------------------------------------------------------


def test_edit_form_is_filled_and_saves_changes(app, client, customer, make_address):
    address_id = make_address(customer.id, is_default=True)
    page = soup(client.get(f"/addresses/{address_id}/edit"))
    form = page.find("form", id="address-form")
    assert form["action"] == f"/addresses/{address_id}/edit"
    assert form.find("input", id="recipient_name")["value"] == "Li Lei"
    assert form.find("select", id="country").find("option", selected=True)["value"] == "US"
    changed = {**US_FORM, "recipient_name": "Han Meimei", "postcode": "94105 1234"}
    response = post(client, f"/addresses/{address_id}/edit", changed, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/addresses/"
    [row] = rows(app, customer.id)
    assert row["recipient_name"] == "Han Meimei"
    assert row["postcode"] == "941051234"
    assert row["is_default"] is True


def test_edit_keeps_a_country_we_no_longer_ship_to(app, client, customer, make_address):
    address_id = make_address(
        customer.id, country="DE", phone="+4930123456", postcode="10115", city="Berlin"
    )
    page = soup(client.get(f"/addresses/{address_id}/edit"))
    options = [o["value"] for o in page.find("select", id="country").find_all("option")]
    assert "DE" in options and "FR" not in options
    de = {**US_FORM, "country": "DE", "phone": "030 123456", "postcode": "10115", "region": ""}
    assert post(client, f"/addresses/{address_id}/edit", de).status_code == 303
    assert rows(app, customer.id)[0]["phone"] == "+4930123456"
    # Moving it to another country we do not ship to is refused.
    fr = {**de, "country": "FR", "phone": "01 23 45 67 89", "postcode": "75001"}
    response = post(client, f"/addresses/{address_id}/edit", fr)
    assert response.status_code == 422
    assert field_error(response, "country")
    # ...and a new address cannot use the kept country either.
    assert field_error(post(client, "/addresses/new", de), "country")


def test_invalid_edit_changes_nothing(app, client, customer, make_address):
    address_id = make_address(customer.id)
    before = rows(app, customer.id)
    response = post(client, f"/addresses/{address_id}/edit", {**US_FORM, "phone": "1"}, htmx=True)
    assert response.status_code == 422
    assert soup(response).find("form", id="address-form") is not None
    assert rows(app, customer.id) == before


def test_posted_ids_and_flags_are_ignored(app, client, customer, make_customer, make_address):
    other = make_customer()
    mine = make_address(customer.id, is_default=True)
    second = make_address(customer.id)
    extra = {
        "id": str(mine),
        "customer_id": str(other.id),
        "is_default": "y",
        "created_at": "2000-01-01",
        "masked_tax_id": "x",
    }
    assert post(client, f"/addresses/{second}/edit", {**US_FORM, **extra}).status_code == 303
    assert post(client, "/addresses/new", {**US_FORM, **extra}).status_code == 303
    mine_row, second_row, new_row = rows(app, customer.id)
    assert (mine_row["id"], second_row["id"]) == (mine, second)
    assert defaults(app, customer.id) == [mine]
    assert second_row["recipient_name"] == "Li Lei" and second_row["line1"] == "1 Market St"
    assert new_row["customer_id"] == customer.id
    assert str(new_row["created_at"].year) != "2000"
    assert rows(app, other.id) == []


# ---------------------------------------------------------------------------------------------
# The default address
# ---------------------------------------------------------------------------------------------


def test_setting_a_default_moves_it(app, client, customer, make_address):
    first = make_address(customer.id, is_default=True)
    second = make_address(customer.id)
    page = soup(client.get("/addresses/"))
    form = page.select_one(f"#address-{second} [data-testid=make-default]").find_parent("form")
    assert form["method"] == "post"
    assert form["action"] == form["hx-post"] == f"/addresses/{second}/default"
    assert form["hx-target"] == "#address-list"
    response = post(client, f"/addresses/{second}/default")
    assert response.status_code == 303
    assert response.headers["Location"] == "/addresses/"
    assert defaults(app, customer.id) == [second]
    response = post(client, f"/addresses/{first}/default", htmx=True)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert defaults(app, customer.id) == [first]
    fragment = soup(response)
    assert fragment.find("html") is None
    assert fragment.find_all(recursive=False)[0]["id"] == "address-list"
    assert [int(c["data-id"]) for c in cards(response)] == [first, second]
    oob = fragment.find(id="flash")
    assert oob["hx-swap-oob"] == "innerHTML"
    assert oob.select_one(".flash-success") is not None


def test_setting_the_default_again_changes_nothing(app, client, customer, make_address):
    first = make_address(customer.id, is_default=True)
    assert post(client, f"/addresses/{first}/default").status_code == 303
    assert defaults(app, customer.id) == [first]


def test_deleting_the_default_makes_the_newest_remaining_one_default(
    app, client, customer, make_address
):
    oldest = make_address(customer.id)
    default = make_address(customer.id, is_default=True)
    newest = make_address(customer.id)
    response = post(client, f"/addresses/{default}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == "/addresses/"
    assert [r["id"] for r in rows(app, customer.id)] == [oldest, newest]
    assert defaults(app, customer.id) == [newest]
    # Deleting a non-default leaves the default alone.
    assert post(client, f"/addresses/{oldest}/delete").status_code == 303
    assert defaults(app, customer.id) == [newest]
    # And the last one leaves an empty book.
    response = post(client, f"/addresses/{newest}/delete", htmx=True)
    assert response.status_code == 200
    assert soup(response).select_one("#address-list [data-testid=no-addresses]") is not None
    assert rows(app, customer.id) == []


def test_concurrent_first_addresses_make_exactly_one_default(app, make_customer, countries):
    account = make_customer()
    data = AddressInput(
        recipient_name="Li Lei",
        phone="(415) 555-2671",
        country="US",
        line1="1 Market St",
        city="San Francisco",
        postcode="94105",
    )

    def work(_i):
        customer = db.session.get(User, account.id)
        address = addresses.add_address(customer, data)
        db.session.commit()
        return address.id

    results = run_together(app, 5, work)
    assert all(isinstance(r, int) for r in results), results
    assert len(rows(app, account.id)) == 5
    assert len(defaults(app, account.id)) == 1


# ---------------------------------------------------------------------------------------------
# Deleting asks first
# ---------------------------------------------------------------------------------------------


def test_delete_link_opens_a_confirmation_page_without_javascript(
    app, client, customer, make_address
):
    address_id = make_address(customer.id, is_default=True)
    link = soup(client.get("/addresses/")).select_one(f"#address-{address_id} [data-testid=delete]")
    assert link.name == "a"
    assert link["href"] == link["hx-get"] == f"/addresses/{address_id}/delete"
    assert link["hx-target"] == f"#address-{address_id}"
    response = client.get(link["href"])
    assert response.status_code == 200
    page = soup(response)
    assert page.find("html") is not None
    form = page.select_one("[data-testid=confirm-delete] form")
    assert form["method"] == "post" and form["action"] == f"/addresses/{address_id}/delete"
    assert not form.has_attr("hx-post")  # the page's plain form: 303 back to the list
    assert page.select_one("[data-testid=cancel]")["href"] == "/addresses/"
    assert len(rows(app, customer.id)) == 1  # asking deletes nothing


def test_htmx_confirmation_replaces_the_card_and_posts_to_the_list(client, customer, make_address):
    address_id = make_address(customer.id)
    response = client.get(f"/addresses/{address_id}/delete", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    assert page.find("html") is None
    [root] = page.find_all(recursive=False)
    assert root["id"] == f"address-{address_id}"
    form = root.find("form")
    assert form["hx-post"] == f"/addresses/{address_id}/delete"
    assert form["hx-target"] == "#address-list"
    assert root.select_one("[data-testid=cancel]")["hx-get"] == "/addresses/"


# ---------------------------------------------------------------------------------------------
# Other customers' addresses
# ---------------------------------------------------------------------------------------------

ID_ROUTES = [
    ("GET", "/addresses/{}/edit"),
    ("POST", "/addresses/{}/edit"),
    ("POST", "/addresses/{}/default"),
    ("GET", "/addresses/{}/delete"),
    ("POST", "/addresses/{}/delete"),
]


def test_every_route_with_an_id_is_listed(app):
    rules = {
        (method, r.rule)
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("addresses.") and r.arguments
        for method in r.methods - {"HEAD", "OPTIONS"}
    }
    assert rules == {(m, p.replace("{}", "<int:address_id>")) for m, p in ID_ROUTES}


def test_another_customers_address_is_not_found_on_every_route(
    app, client, customer, make_customer, make_address
):
    stranger = make_customer()
    theirs = make_address(stranger.id, is_default=True, tax_id="SECRET99")
    make_address(stranger.id)
    before = rows(app, stranger.id)
    for method, path in ID_ROUTES:
        for address_id in (theirs, 987654, 99999999999999999999):
            url = path.format(address_id)
            if method == "GET":
                response = client.get(url)
            else:
                response = post(client, url, {**US_FORM, "recipient_name": "Mallory"})
            assert response.status_code == 404, (method, url)
            assert "SECRET99" not in response.get_data(as_text=True)
            assert "Li Lei" not in response.get_data(as_text=True)
    assert rows(app, stranger.id) == before
    assert rows(app, customer.id) == []


def test_the_service_refuses_other_customers_ids(app, make_customer, make_address):
    owner, stranger = make_customer(), make_customer()
    address_id = make_address(owner.id)
    with app.app_context():
        them = db.session.get(User, stranger.id)
        for address_id_ in (address_id, 0, -1, 2**31, 10**30):
            with pytest.raises(AddressNotFound):
                addresses.get_address(them, address_id_)
        assert addresses.customer_addresses(them) == []
        count = select(func.count()).select_from(Address)
        assert db.session.scalar(count) == 1


# ---------------------------------------------------------------------------------------------
# ?next=
# ---------------------------------------------------------------------------------------------


def test_next_returns_to_the_page_that_sent_the_customer(app, client, customer):
    target = "/orders/new?step=address&parcels=1,2"
    page = soup(client.get("/addresses/new", query_string={"next": target}))
    form = page.find("form", id="address-form")
    assert form["action"] == form["hx-post"]
    assert form["action"].startswith("/addresses/new?next=")
    assert page.select_one("#address-form [data-testid=cancel]")["href"] == target
    response = client.post(
        form["action"],
        data={**US_FORM, "csrf_token": page.find("input", id="csrf_token")["value"]},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == target
    response = post(client, form["action"], US_FORM, htmx=True)
    assert response.headers["HX-Redirect"] == target


def test_next_works_on_the_edit_form(client, customer, make_address):
    address_id = make_address(customer.id)
    url = f"/addresses/{address_id}/edit"
    page = soup(client.get(url, query_string={"next": "/orders/new"}))
    assert page.find("form", id="address-form")["action"] == f"{url}?next=/orders/new"
    response = post(client, f"{url}?next=/orders/new", US_FORM)
    assert response.headers["Location"] == "/orders/new"


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_an_unsafe_next_is_ignored(client, customer, target):
    page = soup(client.get("/addresses/new", query_string={"next": target}))
    assert page.find("form", id="address-form")["action"] == "/addresses/new"
    assert page.select_one("#address-form [data-testid=cancel]")["href"] == "/addresses/"
    response = client.post(
        "/addresses/new",
        query_string={"next": target},
        data={**US_FORM, "csrf_token": page.find("input", id="csrf_token")["value"]},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/addresses/"


def test_pages_and_fragments_are_csp_safe(client, customer, make_address):
    first = make_address(customer.id, is_default=True, tax_id="P123456789012")
    second = make_address(customer.id)
    answers = [
        client.get("/addresses/"),
        client.get("/addresses/", headers=HTMX),
        client.get("/addresses/new"),
        client.get(f"/addresses/{first}/edit", headers=HTMX),
        client.get(f"/addresses/{first}/delete"),
        client.get(f"/addresses/{first}/delete", headers=HTMX),
        post(client, "/addresses/new", {"phone": "x"}, htmx=True),
        post(client, f"/addresses/{second}/default", htmx=True),
    ]
    for response in answers:
        assert response.status_code in (200, 422)
        assert_security_headers(response)
        assert_csp_safe_markup(response)
