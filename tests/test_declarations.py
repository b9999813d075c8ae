"""Declaration templates (/declarations): listing, adding, editing, deleting, field rules with
their messages, ?next=, fragments, other customers' ids and mass assignment."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import DeclarationTemplate, User
from portal.services import declarations
from portal.services.declarations import DeclarationInput, TemplateNotFound
from portal.services.errors import ValidationFailed
from tests.helpers import HTMX, field_error, login, post, soup
from tests.test_http import assert_csp_safe_markup, assert_security_headers

FORM = {
    "name_zh": "手机壳",
    "name_en": "Phone case",
    "category": "general",
    "quantity": "2",
    "unit_value": "25.50",
    "hs_code": "3926.90",
}
FIELDS = tuple(FORM)
EVIL_NEXTS = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]


@pytest.fixture
def customer(client, make_customer):
    account = make_customer()
    assert login(client, account).status_code == 303
    return account


@pytest.fixture
def make_template(app):
    def make(customer_id: int, **attrs) -> int:
        values = {
            "name_zh": "衣服",
            "name_en": "Clothes",
            "category": "general",
            "quantity": 1,
            "unit_value_fen": 5000,
            **attrs,
        }
        with app.app_context():
            template = DeclarationTemplate(customer_id=customer_id, **values)
            db.session.add(template)
            db.session.commit()
            return template.id

    return make


def rows(app, customer_id: int) -> list[dict]:
    with app.app_context():
        found = db.session.scalars(
            select(DeclarationTemplate)
            .where(DeclarationTemplate.customer_id == customer_id)
            .order_by(DeclarationTemplate.id)
        )
        columns = DeclarationTemplate.__table__.columns
        return [{c.name: getattr(t, c.name) for c in columns} for t in found]


def cards(response) -> list:
    return soup(response).select("#declaration-list [data-testid=declaration]")


# ---------------------------------------------------------------------------------------------
# Field rules (no database)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("25.50", 2550), ("25.5", 2550), ("0.01", 1), ("100000", 10_000_000), ("1,000.00", 100_000)],
)
def test_unit_values_become_fen(typed, fen):
    assert declarations.parse_unit_value(typed) == fen


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "0",
        "0.00",
        "-1",
        "0.001",
        "100000.01",
        "1e3",
        "NaN",
        "Infinity",
        "10,00",
        "１０",
        "1_000",
        "0x10",
        ".5",
        "1.",
        "12,34.5",
        "9" * 30,
        " ",
        "¥10",
    ],
)
def test_odd_unit_values_are_refused(typed):
    with pytest.raises(ValidationFailed) as refused:
        declarations.parse_unit_value(typed)
    assert refused.value.field == "unit_value"


@pytest.mark.parametrize(("typed", "count"), [("1", 1), ("9999", 9999), (" 12 ", 12), ("007", 7)])
def test_quantities(typed, count):
    assert declarations.parse_quantity(typed) == count


@pytest.mark.parametrize("typed", ["", "0", "10000", "1.5", "-1", "１０", "²", "1e2", "x"])
def test_odd_quantities_are_refused(typed):
    with pytest.raises(ValidationFailed) as refused:
        declarations.parse_quantity(typed)
    assert refused.value.field == "quantity"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("3926.90", "392690"), ("6109.10.00", "61091000"), ("8517 62 00 99", "8517620099"), ("", "")],
)
def test_hs_codes_lose_their_dots(typed, stored):
    assert declarations.parse_hs_code(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "12345678901", "abc123", "３９２６９０", "39-26-90"])
def test_odd_hs_codes_are_refused(typed):
    with pytest.raises(ValidationFailed) as refused:
        declarations.parse_hs_code(typed)
    assert refused.value.field == "hs_code"


@pytest.mark.parametrize("typed", ["T恤", "USB 数据线", "儿童玩具（塑料）"])
def test_chinese_names_need_a_chinese_character(typed):
    assert declarations.clean_name_zh(typed) == typed


@pytest.mark.parametrize("typed", ["", "Phone case", "123", "手机壳\x00", "手" * 101])
def test_odd_chinese_names_are_refused(typed):
    with pytest.raises(ValidationFailed):
        declarations.clean_name_zh(typed)


@pytest.mark.parametrize("typed", ["", "手机壳", "Café", "123", "...", "Phone\tcase", "x" * 101])
def test_odd_english_names_are_refused(typed):
    with pytest.raises(ValidationFailed) as refused:
        declarations.clean_name_en(typed)
    assert refused.value.field == "name_en"


def test_the_service_checks_typed_values_too():
    good = DeclarationInput("手机壳", "Phone case", "general", 1, 100)
    assert declarations.check_line(good) == good
    bad = [
        (DeclarationInput("手机壳", "Phone case", "general", 0, 100), "quantity"),
        (DeclarationInput("手机壳", "Phone case", "general", 10_000, 100), "quantity"),
        (DeclarationInput("手机壳", "Phone case", "general", 1, 0), "unit_value"),
        (DeclarationInput("手机壳", "Phone case", "general", 1, 10_000_001), "unit_value"),
        (DeclarationInput("手机壳", "Phone case", "plutonium", 1, 100), "category"),
        (DeclarationInput("手机壳", "Phone case", "general", 1, 100, "12"), "hs_code"),
    ]
    for line, field in bad:
        with pytest.raises(ValidationFailed) as refused:
            declarations.check_line(line)
        assert refused.value.field == field


# ---------------------------------------------------------------------------------------------
# Pages and fragments
# ---------------------------------------------------------------------------------------------


def test_pages_need_a_login(app, client, make_customer, make_template):
    owner = make_customer()
    template_id = make_template(owner.id)
    for path in ("/declarations/", "/declarations/new", f"/declarations/{template_id}/edit"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login?next=")
    assert post(client, f"/declarations/{template_id}/delete").status_code == 302
    assert len(rows(app, owner.id)) == 1


def test_empty_list_invites_to_add_one(client, customer):
    response = client.get("/declarations/")
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("#declaration-list [data-testid=no-templates] a")["href"] == (
        "/declarations/new"
    )


def test_list_shows_each_template_and_its_fragment(client, customer, make_template):
    make_template(customer.id, quantity=3, unit_value_fen=1250, hs_code="392690")
    response = client.get("/declarations/")
    [card] = cards(response)
    assert card.select_one("[data-testid=amounts]").get_text(" ", strip=True) == (
        "3 × ¥12.50 = ¥37.50"
    )
    assert card.select_one("[data-testid=hs-code]").get_text() == "392690"
    fragment = client.get("/declarations/", headers=HTMX)
    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers["Vary"]
    page = soup(fragment)
    assert page.find("html") is None
    assert [r.get("id") for r in page.find_all(recursive=False)] == ["declaration-list"]


def test_form_page_and_fragment(client, customer):
    page = soup(client.get("/declarations/new"))
    form = page.find("form", id="declaration-form")
    assert form["method"] == "post"
    assert form["action"] == form["hx-post"] == "/declarations/new"
    options = [o["value"] for o in form.find("select", id="category").find_all("option")]
    assert options[0] == "general" and "battery_in_equipment" in options
    fragment = client.get("/declarations/new", headers=HTMX)
    assert "HX-Request" in fragment.headers["Vary"]
    roots = soup(fragment).find_all(recursive=False)
    assert [r.get("id") for r in roots] == ["declaration-form"]


# ---------------------------------------------------------------------------------------------
# Adding and editing
# ---------------------------------------------------------------------------------------------


def test_add_stores_fen_and_a_bare_hs_code(app, client, customer):
    response = post(client, "/declarations/new", FORM)
    assert response.status_code == 303
    assert response.headers["Location"] == "/declarations/"
    [row] = rows(app, customer.id)
    assert row["name_zh"] == "手机壳" and row["name_en"] == "Phone case"
    assert (row["category"], row["quantity"], row["unit_value_fen"]) == ("general", 2, 2550)
    assert row["hs_code"] == "392690"
    assert soup(client.get("/declarations/")).select_one("#flash .flash-success") is not None


def test_htmx_add_answers_with_hx_redirect(app, client, customer):
    response = post(client, "/declarations/new", {**FORM, "hs_code": ""}, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/declarations/"
    assert rows(app, customer.id)[0]["hs_code"] == ""


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name_zh": ""}, "name_zh"),
        ({"name_zh": "Phone case"}, "name_zh"),
        ({"name_en": ""}, "name_en"),
        ({"name_en": "手机壳"}, "name_en"),
        ({"category": "plutonium"}, "category"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "10000"}, "quantity"),
        ({"quantity": "1.5"}, "quantity"),
        ({"unit_value": "0"}, "unit_value"),
        ({"unit_value": "0.001"}, "unit_value"),
        ({"unit_value": "100000.01"}, "unit_value"),
        ({"unit_value": "NaN"}, "unit_value"),
        ({"hs_code": "1234"}, "hs_code"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_bad_fields_get_a_message_beside_them_and_nothing_is_saved(
    app, client, customer, changes, field, htmx
):
    response = post(client, "/declarations/new", {**FORM, **changes}, htmx=htmx)
    assert response.status_code == 422
    page = soup(response)
    assert (page.find("html") is None) == htmx
    assert page.find("form", id="declaration-form") is not None
    assert field_error(response, field)
    assert [f for f in FIELDS if f != field and field_error(response, f)] == []
    assert rows(app, customer.id) == []


def test_every_problem_is_shown_at_once(client, customer):
    bad = {"name_zh": "", "name_en": "", "category": "", "quantity": "", "unit_value": "x"}
    response = post(client, "/declarations/new", {**bad, "hs_code": "1"})
    assert response.status_code == 422
    for name in FIELDS:
        assert field_error(response, name), name


def test_a_customer_keeps_at_most_max_templates(app, client, customer, make_template, monkeypatch):
    monkeypatch.setattr(declarations, "MAX_TEMPLATES", 1)
    make_template(customer.id)
    response = post(client, "/declarations/new", FORM)
    assert response.status_code == 422
    assert soup(response).select_one("#declaration-form .form-errors").get_text(strip=True)
    assert len(rows(app, customer.id)) == 1


def test_edit_form_is_filled_and_saves(app, client, customer, make_template):
    template_id = make_template(customer.id, unit_value_fen=2550, quantity=4, category="cosmetic")
    page = soup(client.get(f"/declarations/{template_id}/edit"))
    form = page.find("form", id="declaration-form")
    assert form["action"] == f"/declarations/{template_id}/edit"
    assert form.find("input", id="unit_value")["value"] == "25.50"
    assert form.find("input", id="quantity")["value"] == "4"
    assert form.find("select", id="category").find("option", selected=True)["value"] == "cosmetic"
    changed = {**FORM, "name_zh": "口红", "name_en": "Lipstick", "unit_value": "99"}
    response = post(client, f"/declarations/{template_id}/edit", changed, htmx=True)
    assert response.status_code == 204
    [row] = rows(app, customer.id)
    assert (row["id"], row["name_en"], row["unit_value_fen"]) == (template_id, "Lipstick", 9900)


def test_whole_yuan_are_shown_without_decimals_on_the_edit_form(client, customer, make_template):
    template_id = make_template(customer.id, unit_value_fen=5000)
    page = soup(client.get(f"/declarations/{template_id}/edit"))
    assert page.find("input", id="unit_value")["value"] == "50"


def test_invalid_edit_changes_nothing(app, client, customer, make_template):
    template_id = make_template(customer.id)
    before = rows(app, customer.id)
    response = post(client, f"/declarations/{template_id}/edit", {**FORM, "quantity": "0"})
    assert response.status_code == 422
    assert field_error(response, "quantity")
    assert rows(app, customer.id) == before


def test_posted_ids_and_amounts_are_ignored(app, client, customer, make_customer, make_template):
    other = make_customer()
    template_id = make_template(customer.id)
    extra = {
        "id": "999",
        "customer_id": str(other.id),
        "unit_value_fen": "1",
        "created_at": "2000-01-01",
    }
    assert post(client, f"/declarations/{template_id}/edit", {**FORM, **extra}).status_code == 303
    assert post(client, "/declarations/new", {**FORM, **extra}).status_code == 303
    edited, new = rows(app, customer.id)
    assert edited["id"] == template_id
    assert edited["unit_value_fen"] == new["unit_value_fen"] == 2550
    assert new["customer_id"] == customer.id and new["id"] != 999
    assert rows(app, other.id) == []


def test_stored_scripts_are_escaped_in_the_list(client, customer, make_template):
    xss = "<script>alert(1)</script>"
    make_template(customer.id, name_zh=xss, name_en='<img src=x onerror="alert(2)">')
    response = client.get("/declarations/")
    assert xss not in response.get_data(as_text=True)
    assert soup(response).find("img") is None


# ---------------------------------------------------------------------------------------------
# Deleting
# ---------------------------------------------------------------------------------------------


def test_delete_asks_first_then_deletes(app, client, customer, make_template):
    keep = make_template(customer.id)
    gone = make_template(customer.id, name_zh="鞋子", name_en="Shoes")
    link = soup(client.get("/declarations/")).select_one(
        f"#declaration-{gone} [data-testid=delete]"
    )
    assert link["href"] == link["hx-get"] == f"/declarations/{gone}/delete"
    assert link["hx-target"] == f"#declaration-{gone}"
    page = soup(client.get(link["href"]))
    form = page.select_one("[data-testid=confirm-delete] form")
    assert form["method"] == "post" and form["action"] == f"/declarations/{gone}/delete"
    assert not form.has_attr("hx-post")
    assert len(rows(app, customer.id)) == 2
    response = post(client, form["action"])
    assert response.status_code == 303
    assert response.headers["Location"] == "/declarations/"
    assert [r["id"] for r in rows(app, customer.id)] == [keep]


def test_htmx_delete_refreshes_the_list(app, client, customer, make_template):
    template_id = make_template(customer.id)
    confirm = client.get(f"/declarations/{template_id}/delete", headers=HTMX)
    [root] = soup(confirm).find_all(recursive=False)
    assert root["id"] == f"declaration-{template_id}"
    assert root.find("form")["hx-target"] == "#declaration-list"
    response = post(client, f"/declarations/{template_id}/delete", htmx=True)
    assert response.status_code == 200
    page = soup(response)
    assert page.find("html") is None
    assert page.select_one("#declaration-list [data-testid=no-templates]") is not None
    assert page.find(id="flash")["hx-swap-oob"] == "innerHTML"
    assert rows(app, customer.id) == []


# ---------------------------------------------------------------------------------------------
# Other customers' templates
# ---------------------------------------------------------------------------------------------

ID_ROUTES = [
    ("GET", "/declarations/{}/edit"),
    ("POST", "/declarations/{}/edit"),
    ("GET", "/declarations/{}/delete"),
    ("POST", "/declarations/{}/delete"),
]


def test_every_route_with_an_id_is_listed(app):
    rules = {
        (method, r.rule)
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("declarations.") and r.arguments
        for method in r.methods - {"HEAD", "OPTIONS"}
    }
    assert rules == {(m, p.replace("{}", "<int:template_id>")) for m, p in ID_ROUTES}


def test_another_customers_template_is_not_found_on_every_route(
    app, client, customer, make_customer, make_template
):
    stranger = make_customer()
    theirs = make_template(stranger.id, name_en="Secret gadget")
    before = rows(app, stranger.id)
    for method, path in ID_ROUTES:
        for template_id in (theirs, 987654, 99999999999999999999):
            url = path.format(template_id)
            response = client.get(url) if method == "GET" else post(client, url, FORM)
            assert response.status_code == 404, (method, url)
            assert "Secret gadget" not in response.get_data(as_text=True)
    assert rows(app, stranger.id) == before
    assert rows(app, customer.id) == []


def test_the_service_refuses_other_customers_ids(app, make_customer, make_template):
    owner, stranger = make_customer(), make_customer()
    template_id = make_template(owner.id)
    with app.app_context():
        them = db.session.get(User, stranger.id)
        for template_id_ in (template_id, 0, -5, 2**31, 10**30):
            with pytest.raises(TemplateNotFound):
                declarations.get_template(them, template_id_)
        assert declarations.customer_templates(them) == []
        mine = declarations.get_template(db.session.get(User, owner.id), template_id)
        assert declarations.as_line(mine) == DeclarationInput("衣服", "Clothes", "general", 1, 5000)


# ---------------------------------------------------------------------------------------------
# ?next=
# ---------------------------------------------------------------------------------------------


def test_next_returns_to_the_page_that_sent_the_customer(client, customer, make_template):
    target = "/orders/new?step=declare"
    page = soup(client.get("/declarations/new", query_string={"next": target}))
    form = page.find("form", id="declaration-form")
    assert form["action"] == form["hx-post"]
    assert page.select_one("#declaration-form [data-testid=cancel]")["href"] == target
    response = post(client, form["action"], FORM)
    assert response.status_code == 303
    assert response.headers["Location"] == target
    template_id = make_template(customer.id)
    url = f"/declarations/{template_id}/edit?next=/orders/new"
    assert post(client, url, FORM, htmx=True).headers["HX-Redirect"] == "/orders/new"


@pytest.mark.parametrize("target", EVIL_NEXTS)
def test_an_unsafe_next_is_ignored(client, customer, target):
    page = soup(client.get("/declarations/new", query_string={"next": target}))
    assert page.find("form", id="declaration-form")["action"] == "/declarations/new"
    assert page.select_one("#declaration-form [data-testid=cancel]")["href"] == "/declarations/"
    response = post(client, "/declarations/new", FORM, query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/declarations/"


def test_pages_and_fragments_are_csp_safe(client, customer, make_template):
    first = make_template(customer.id, hs_code="392690")
    answers = [
        client.get("/declarations/"),
        client.get("/declarations/", headers=HTMX),
        client.get("/declarations/new"),
        client.get(f"/declarations/{first}/edit", headers=HTMX),
        client.get(f"/declarations/{first}/delete"),
        client.get(f"/declarations/{first}/delete", headers=HTMX),
        post(client, "/declarations/new", {"quantity": "x"}, htmx=True),
        post(client, f"/declarations/{first}/delete", htmx=True),
    ]
    for response in answers:
        assert response.status_code in (200, 422)
        assert_security_headers(response)
        assert_csp_safe_markup(response)
