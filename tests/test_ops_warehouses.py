"""The admin's warehouse screens: adding one, changing its address (with a preview of what
customers see), switching it off and on, bad fields refused beside them with nothing saved,
a parallel edit noticed, and the audit trail."""

import time

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Warehouse
from portal.services import warehouse_admin
from portal.services.dashboard import active_warehouses
from tests.conftest import run_together
from tests.helpers import HTMX, csrf_token, field_error, login, post, soup

GOOD = {
    "name": "上海青浦集运仓",
    "contact_name": "青浦仓",
    "phone": "021-5988 7766",
    "region": "上海市青浦区",
    "address_line": "华新镇华腾路 88 号",
    "postcode": "201708",
}


@pytest.fixture
def admin(app, make_staff):
    client = app.test_client()
    staff = make_staff("admin")
    login(client, staff)
    return client, staff


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def only_warehouse_id() -> int:
    return db.session.scalar(select(Warehouse.id))


def test_admin_adds_a_warehouse_customers_then_see_and_it_is_audited(app, admin):
    client, staff = admin
    page = client.get("/ops/warehouses")
    assert page.status_code == 200
    assert soup(page).find(attrs={"data-testid": "no-active-warehouse"})
    nav = soup(page).find(attrs={"data-testid": "ops-nav"})
    assert nav.find("a", href="/ops/warehouses").get("aria-current") == "page"
    assert (
        post(client, "/ops/warehouses", {**GOOD, "name": f"  {GOOD['name']} "}).status_code == 303
    )
    with app.app_context():
        (warehouse,) = active_warehouses()
        assert (warehouse.name, warehouse.phone, warehouse.postcode) == (
            "上海青浦集运仓",
            "021-5988 7766",
            "201708",
        )
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "warehouse.create"))
        assert entry.actor_id == staff.id and entry.after["address_line"] == GOOD["address_line"]
        warehouse_id = warehouse.id
    listed = soup(client.get("/ops/warehouses"))
    assert listed.find(attrs={"data-testid": f"warehouse-{warehouse_id}"})
    assert not listed.find(attrs={"data-testid": "no-active-warehouse"})


def test_the_edit_page_previews_the_address_and_a_change_is_audited(app, admin, make_warehouse):
    client, _ = admin
    warehouse_id = make_warehouse()
    page = client.get(f"/ops/warehouses/{warehouse_id}")
    preview = soup(page).find(attrs={"data-testid": "warehouse-preview"})
    with app.app_context():
        warehouse = db.session.get(Warehouse, warehouse_id)
        code = warehouse_admin.SAMPLE_CODE
        recipient, address = warehouse.recipient_for(code), warehouse.address_for(code)
    assert preview.find(attrs={"data-testid": "preview-recipient"}).get_text() == recipient
    assert preview.find(attrs={"data-testid": "preview-address"}).get_text() == address
    version = soup(page).find("input", attrs={"name": "version"})["value"]
    data = {**GOOD, "version": version}
    response = post(client, f"/ops/warehouses/{warehouse_id}", data, headers=HTMX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/ops/warehouses"
    with app.app_context():
        assert db.session.get(Warehouse, warehouse_id).region == GOOD["region"]
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "warehouse.update"))
        assert entry.before["region"] == "广东省深圳市龙华区"
        assert entry.after["region"] == GOOD["region"]
    assert client.get("/ops/warehouses/999999").status_code == 404


def test_an_edit_from_a_page_opened_before_another_change_is_refused(app, admin, make_warehouse):
    client, _ = admin
    warehouse_id = make_warehouse()
    page = client.get(f"/ops/warehouses/{warehouse_id}")
    version = soup(page).find("input", attrs={"name": "version"})["value"]
    assert (
        post(client, f"/ops/warehouses/{warehouse_id}", {**GOOD, "version": version}).status_code
        == 303
    )
    stale = {**GOOD, "name": "旧页面的改动", "version": version}
    response = post(client, f"/ops/warehouses/{warehouse_id}", stale, headers=HTMX)
    assert response.status_code == 409
    assert soup(response).find(id="version-error")
    assert soup(response).find(id="warehouse-name")["value"] == GOOD["name"]
    with app.app_context():
        assert db.session.get(Warehouse, warehouse_id).name == GOOD["name"]
        assert count(AuditEntry, AuditEntry.action == "warehouse.update") == 1


def test_switching_off_hides_the_address_from_customers_and_on_shows_it(app, admin, make_warehouse):
    client, _ = admin
    warehouse_id = make_warehouse()
    url = f"/ops/warehouses/{warehouse_id}/active"
    assert post(client, url, {"active": "0"}).status_code == 303
    with app.app_context():
        assert active_warehouses() == []
        assert db.session.get(Warehouse, warehouse_id) is not None
    listed = soup(client.get("/ops/warehouses"))
    assert listed.find(attrs={"data-testid": "no-active-warehouse"})
    assert post(client, url, {"active": "0"}).status_code == 303  # already off: nothing to record
    assert post(client, url, {"active": "1"}, headers=HTMX).status_code == 204
    with app.app_context():
        assert [w.id for w in active_warehouses()] == [warehouse_id]
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["warehouse.deactivate", "warehouse.activate"]
    assert post(client, "/ops/warehouses/999999/active", {"active": "1"}).status_code == 404
    for tampered in ("", "y", "２"):
        assert post(client, url, {"active": tampered}).status_code == 400


BAD = [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"contact_name": "   "}, "contact_name"),
    ({"contact_name": "x" * 51}, "contact_name"),
    ({"contact_name": "仓\x00库"}, "contact_name"),
    ({"phone": ""}, "phone"),
    ({"phone": "0755 abc"}, "phone"),
    ({"phone": "０７５５２３４５６７８"}, "phone"),
    ({"phone": "1234"}, "phone"),
    ({"phone": "1" * 31}, "phone"),
    ({"region": "广东\n深圳"}, "region"),
    ({"address_line": "x" * 201}, "address_line"),
    ({"postcode": ""}, "postcode"),
    ({"postcode": "51810"}, "postcode"),
    ({"postcode": "5181034"}, "postcode"),
    ({"postcode": "５１８１０３"}, "postcode"),
]


@pytest.mark.parametrize(("changes", "field"), BAD)
def test_a_bad_warehouse_is_422_beside_the_field_and_nothing_is_saved(
    app, admin, make_warehouse, changes, field
):
    client, _ = admin
    warehouse_id = make_warehouse()
    edit = f"/ops/warehouses/{warehouse_id}"
    version = soup(client.get(edit)).find("input", attrs={"name": "version"})["value"]
    for url in ("/ops/warehouses", edit):
        response = post(client, url, {**GOOD, **changes, "version": version}, headers=HTMX)
        assert response.status_code == 422, url
        assert field_error(response, field), url
        assert soup(response).find(id="warehouse-form") and b"<html" not in response.data
    with app.app_context():
        assert count(Warehouse) == 1
        assert db.session.get(Warehouse, warehouse_id).name == "深圳测试仓"
        assert count(AuditEntry) == 0


def test_two_admins_saving_the_same_form_at_once_one_wins(app, admin, make_warehouse, monkeypatch):
    """The row lock (PostgreSQL) or BEGIN IMMEDIATE (SQLite) makes the second save read the
    first's result, so its fingerprint is stale: 409, nothing overwritten. Each save dawdles
    after its fingerprint check, so without the lock both would pass it."""
    read = warehouse_admin._read

    def slow_read(typed):
        time.sleep(0.3)
        return read(typed)

    monkeypatch.setattr(warehouse_admin, "_read", slow_read)
    first, staff = admin
    second = app.test_client()
    login(second, staff)
    warehouse_id = make_warehouse()
    url = f"/ops/warehouses/{warehouse_id}"
    version = soup(first.get(url)).find("input", attrs={"name": "version"})["value"]
    forms = [
        (client, {**GOOD, "name": name, "version": version})
        for client, name in ((first, "甲的改动"), (second, "乙的改动"))
    ]
    bodies = [{"csrf_token": csrf_token(client), **data} for client, data in forms]
    answers = run_together(app, 2, lambda i: forms[i][0].post(url, data=bodies[i]).status_code)
    assert sorted(answers) == [303, 409]
    winner = ("甲的改动", "乙的改动")[answers.index(303)]
    with app.app_context():
        assert db.session.get(Warehouse, warehouse_id).name == winner
        assert count(AuditEntry, AuditEntry.action == "warehouse.update") == 1
