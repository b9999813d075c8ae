"""Site settings: saved by an admin, shown in the header, the titles, the home pages' notice and
the footer; the configured name before that; revision conflicts; bad input; the process cache."""

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import SiteSettings
from portal.services import site_settings
from tests.finance_helpers import audit_entries
from tests.helpers import field_error, login, post, soup

GOOD = {
    "site_name": "飞鸟集运",
    "service_phone": "+86 755-8888 6666",
    "service_wechat": "feiniao_kf",
    "service_email": "KF@Example.com",
    "service_hours": "周一至周六 9:00–18:00",
    "notice": "春节期间 2 月 1 日至 7 日停止发货。",
}


@pytest.fixture
def admin(app, make_staff):
    client = app.test_client()
    client.account = make_staff("admin")
    login(client, client.account)
    return client


def revision(client) -> str:
    return soup(client.get("/ops/site-settings")).find(attrs={"name": "revision"})["value"]


def save(client, fields=None, rev=None, **kwargs):
    data = {**GOOD, **(fields or {}), "revision": rev if rev is not None else revision(client)}
    return post(client, "/ops/site-settings", data, **kwargs)


def brand(response) -> str:
    return soup(response).find(attrs={"data-testid": "site-name"}).get_text(strip=True)


def by_testid(response, name: str):
    return soup(response).find(attrs={"data-testid": name})


def rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SiteSettings))


def test_saved_settings_show_in_the_header_title_notice_and_footer(app, admin, make_customer):
    visitor = app.test_client()
    before = visitor.get("/")
    assert brand(before) == app.config["SITE_NAME"]
    assert by_testid(before, "site-notice") is None and by_testid(before, "site-footer") is None

    response = save(admin)
    assert (response.status_code, response.headers["Location"]) == (303, "/ops/site-settings")
    with app.app_context():
        saved = db.session.scalar(select(SiteSettings))
        assert (saved.revision, saved.updated_by) == (1, admin.account.id)
        assert saved.service_email == "kf@example.com"
    (entry,) = audit_entries(app, "site_settings.edit")
    assert entry.after["site_name"] == GOOD["site_name"] and entry.before == {}

    customer = app.test_client()
    login(customer, make_customer())
    for page in (visitor.get("/"), customer.get("/"), customer.get("/parcels/")):
        assert brand(page) == GOOD["site_name"]
        assert soup(page).title.get_text().endswith(GOOD["site_name"])
        footer = by_testid(page, "site-footer")
        assert (
            footer.find(attrs={"data-testid": "service-wechat"})
            .get_text(strip=True)
            .endswith(GOOD["service_wechat"])
        )
        assert footer.find("a", href="tel:+86755-88886666")
    for page in (visitor.get("/"), customer.get("/")):
        assert by_testid(page, "site-notice").get_text(strip=True) == GOOD["notice"]
    assert by_testid(customer.get("/parcels/"), "site-notice") is None

    # An empty name falls back to the configured one; an empty notice shows none.
    assert save(admin, {"site_name": "", "notice": ""}).status_code == 303
    page = customer.get("/")
    assert brand(page) == app.config["SITE_NAME"]
    assert by_testid(page, "site-notice") is None
    assert revision(admin) == "2"


def test_a_save_over_someone_elses_is_refused_with_409(app, admin):
    assert save(admin, rev="0").status_code == 303
    refused = save(admin, {"site_name": "别人"}, rev="0", htmx=True)
    assert refused.status_code == 409
    assert by_testid(refused, "settings-conflict")
    assert soup(refused).find(id="site-settings") and soup(refused).find("html") is None
    assert save(admin, rev="abc").status_code == 409
    with app.app_context():
        assert db.session.scalar(select(SiteSettings.site_name)) == GOOD["site_name"]
        assert db.session.scalar(select(SiteSettings.revision)) == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("site_name", "x" * 41),
        ("site_name", "名\x00字"),
        ("service_phone", "call us"),
        ("service_phone", "12"),
        ("service_wechat", "客服"),
        ("service_wechat", "abc"),
        ("service_email", "kf@"),
        ("service_hours", "9\n18"),
        ("notice", "y" * 301),
    ],
)
def test_bad_input_is_refused_beside_the_field(app, admin, field, value):
    response = save(admin, {field: value})
    assert response.status_code == 422
    assert field_error(response, field)
    assert soup(response).find(id=f"site-{field}")["aria-invalid"] == "true"
    assert rows(app) == 0
    assert audit_entries(app, "site_settings.edit") == []


def test_other_processes_saves_show_after_the_cache_delay(app, admin, monkeypatch):
    app.config["SITE_SETTINGS_CACHE_SECONDS"] = 5.0  # as in production (tests never expire it)
    assert save(admin).status_code == 303
    client = app.test_client()
    assert brand(client.get("/")) == GOOD["site_name"]
    with app.app_context():  # as another worker process would: this process's cache is not told
        db.session.execute(update(SiteSettings).values(site_name="别处保存"))
        db.session.commit()
    assert brand(client.get("/")) == GOOD["site_name"]
    later = site_settings.monotonic() + app.config["SITE_SETTINGS_CACHE_SECONDS"] + 1
    monkeypatch.setattr(site_settings, "monotonic", lambda: later)
    assert brand(client.get("/")) == "别处保存"
