"""The admin's packing service screens: offering a service, changing its price (orders keep their
copies), switching it off and on, bad fields and a taken code refused beside the field with
nothing saved, and the audit trail."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, PackingService, User
from portal.services import packing_service_admin
from portal.services.order_estimate import active_packing_services
from portal.services.packing_service_admin import InvalidPackingService, PackingServiceInput
from tests.conftest import run_together
from tests.helpers import HTMX, field_error, login, post, soup

GOOD = {
    "code": "Bubble_Wrap",
    "name_zh": "气泡膜包裹",
    "name_en": "Bubble wrap",
    "price": "5.50",
    "sort": "20",
}


@pytest.fixture
def admin(app, make_staff):
    client = app.test_client()
    staff = make_staff("admin")
    login(client, staff)
    return client, staff


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def add_service(client, **changes) -> int:
    assert post(client, "/ops/packing-services", {**GOOD, **changes}).status_code == 303
    return db.session.scalar(
        select(PackingService.id).where(
            PackingService.code == (changes.get("code") or "bubble_wrap").lower()
        )
    )


def test_admin_offers_a_service_the_wizard_then_lists_and_it_is_audited(app, admin):
    client, staff = admin
    page = client.get("/ops/packing-services")
    assert page.status_code == 200 and soup(page).find(id="packing-service-form")
    with app.app_context():
        service_id = add_service(client)
        free_id = add_service(client, code="strip-boxes", price="0", sort="30")
        service = db.session.get(PackingService, service_id)
        assert (service.code, service.price_fen, service.sort, service.is_active) == (
            "bubble_wrap",
            550,
            20,
            True,
        )
        assert db.session.get(PackingService, free_id).price_fen == 0
        assert [s.id for s in active_packing_services()] == [service_id, free_id]
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_id == str(service_id)))
        assert (entry.action, entry.actor_id) == ("packing_service.create", staff.id)
        assert entry.after["price_fen"] == 550
    row = soup(client.get("/ops/packing-services")).find(
        attrs={"data-testid": f"service-{service_id}"}
    )
    assert "5.50" in row.find(attrs={"data-testid": "price"}).get_text()


def test_a_new_price_is_saved_and_audited_and_the_code_stays(app, admin):
    client, _ = admin
    with app.app_context():
        service_id = add_service(client)
    page = soup(client.get(f"/ops/packing-services/{service_id}"))
    assert page.find(attrs={"data-testid": "future-orders-only"})
    assert page.find(id="service-price")["value"] == "5.50"
    assert page.find(id="service-code") is None
    version = page.find("input", attrs={"name": "version"})["value"]
    data = {**GOOD, "code": "other", "price": "8", "name_en": "Bubble  wrap x2", "version": version}
    response = post(client, f"/ops/packing-services/{service_id}", data, headers=HTMX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/ops/packing-services"
    with app.app_context():
        service = db.session.get(PackingService, service_id)
        assert (service.code, service.price_fen, service.name_en) == (
            "bubble_wrap",
            800,
            "Bubble wrap x2",
        )
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "packing_service.update")
        )
        assert (entry.before["price_fen"], entry.after["price_fen"]) == (550, 800)
    stale = post(client, f"/ops/packing-services/{service_id}", {**data, "price": "9"})
    assert stale.status_code == 409 and soup(stale).find(id="version-error")
    with app.app_context():
        assert db.session.get(PackingService, service_id).price_fen == 800
    assert client.get("/ops/packing-services/999999").status_code == 404


def test_a_switched_off_service_is_no_longer_offered_in_the_wizard(app, admin):
    client, _ = admin
    with app.app_context():
        service_id = add_service(client)
    url = f"/ops/packing-services/{service_id}/active"
    assert post(client, url, {"active": "0"}, headers=HTMX).status_code == 204
    with app.app_context():
        assert active_packing_services() == []
        assert db.session.get(PackingService, service_id).is_active is False
    assert post(client, url, {"active": "1"}).status_code == 303
    with app.app_context():
        assert [s.id for s in active_packing_services()] == [service_id]
        actions = db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "packing_service")
            .order_by(AuditEntry.id)
        ).all()
        assert actions == [
            "packing_service.create",
            "packing_service.deactivate",
            "packing_service.activate",
        ]


BAD = [
    ({"code": ""}, "code"),
    ({"code": "x" * 31}, "code"),
    ({"code": "bubble wrap"}, "code"),
    ({"code": "气泡"}, "code"),
    ({"code": "_wrap"}, "code"),
    ({"code": "taken"}, "code"),
    ({"code": "TAKEN"}, "code"),
    ({"name_zh": ""}, "name_zh"),
    ({"name_en": "x" * 101}, "name_en"),
    ({"name_en": "Wrap\x07"}, "name_en"),
    ({"price": ""}, "price"),
    ({"price": "-1"}, "price"),
    ({"price": "1.005"}, "price"),
    ({"price": "1e3"}, "price"),
    ({"price": "５"}, "price"),
    ({"price": "100000.01"}, "price"),
    ({"sort": "1.5"}, "sort"),
]


@pytest.mark.parametrize(("changes", "field"), BAD)
def test_a_bad_service_is_422_beside_the_field_and_nothing_is_saved(app, admin, changes, field):
    client, _ = admin
    with app.app_context():
        taken_id = add_service(client, code="taken")
    response = post(client, "/ops/packing-services", {**GOOD, **changes}, headers=HTMX)
    assert response.status_code == 422
    assert field_error(response, field)
    assert soup(response).find(id="packing-service-form") and b"<html" not in response.data
    if field != "code":
        edit = f"/ops/packing-services/{taken_id}"
        version = soup(client.get(edit)).find("input", attrs={"name": "version"})["value"]
        response = post(client, edit, {**GOOD, **changes, "version": version})
        assert response.status_code == 422 and field_error(response, field)
    with app.app_context():
        assert count(PackingService) == 1
        assert db.session.get(PackingService, taken_id).price_fen == 550
        assert count(AuditEntry) == 1


def test_two_admins_adding_the_same_code_at_once_get_one_service(app, make_staff):
    staff_id = make_staff("admin").id

    def create(_i: int):
        actor = db.session.get(User, staff_id)
        service = packing_service_admin.create_service(actor, PackingServiceInput(**GOOD))
        db.session.commit()
        return service.id

    results = run_together(app, 3, create)
    refused = [r for r in results if isinstance(r, InvalidPackingService)]
    assert len(refused) == 2 and all("code" in r.errors for r in refused)
    with app.app_context():
        assert count(PackingService) == 1
