"""Rate cards in the staff console: the list and a card's page, switching channels on and off,
editing a channel's display fields, importing a sheet (row errors listed, nothing written) and
exporting a card as .xlsx."""

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Channel, RateCard, User
from portal.services import rate_card_admin, rate_cards
from portal.services.rate_card_admin import ChangedMeanwhile
from portal.services.rate_sheets import card_summary, export_rate_card
from tests.conftest import run_together
from tests.helpers import field_error, login, post, soup

TODAY = date(2026, 11, 22)  # the business day `demo_card` pins
CHANNEL = "US-STD-AIR"


@pytest.fixture
def admin(app, make_staff, demo_card):
    client = app.test_client()
    account = make_staff("admin")
    login(client, account)
    client.account = account
    return client


def card_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(RateCard.id))


def channel(app, code: str = CHANNEL) -> Channel:
    with app.app_context():
        row = db.session.scalar(select(Channel).where(Channel.code == code))
        db.session.expunge(row)
        return row


def revision(app) -> int:
    with app.app_context():
        return db.session.scalar(select(RateCard.revision))


def audit_rows(app) -> list[tuple]:
    with app.app_context():
        return [
            (e.actor_id, e.action, e.entity_type, e.entity_id, e.before, e.after)
            for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def offered(app) -> set[str]:
    with app.app_context():
        return {c.code for c in rate_cards.channels_in_force(TODAY)}


def card_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RateCard))


# ---- list and page ------------------------------------------------------------------------------


def test_the_list_marks_the_card_in_force(app, admin):
    page = soup(admin.get("/ops/rate-cards"))
    rows = page.find_all(attrs={"data-testid": "rate-card-row"})
    assert len(rows) == 1
    assert rows[0].find("a").get_text(strip=True) == "2026-11"
    assert rows[0].find(attrs={"data-testid": "in-force"}) is not None
    with app.app_context():
        channels = db.session.scalar(select(func.count()).select_from(Channel))
    assert int(rows[0].find(attrs={"data-testid": "channel-count"}).get_text()) == channels
    assert page.find(attrs={"data-testid": "import-link"}) is not None


def test_the_card_page_shows_channels_zones_and_surcharges(app, admin):
    page = soup(admin.get(f"/ops/rate-cards/{card_id(app)}"))
    with app.app_context():
        card = db.session.get(RateCard, card_id(app))
        codes = [c.code for c in card.channels]
        rows = {c.code: sum(len(z.rows) for z in c.zones) for c in card.channels}
        zones = len(card.zones)
        surcharges = sum(len(c.surcharges) for c in card.channels)
    found = page.find_all(attrs={"data-testid": "channel-row"})
    assert [r["data-channel-code"] for r in found] == codes
    assert {
        r["data-channel-code"]: int(r.find(attrs={"data-testid": "row-count"}).get_text())
        for r in found
    } == rows
    assert len(page.find_all(attrs={"data-testid": "zone-row"})) == zones
    assert len(page.find_all(attrs={"data-testid": "surcharge-row"})) == surcharges
    assert page.find(attrs={"data-testid": "export-link"})["href"].endswith("/export")
    dhl = next(r for r in found if r["data-channel-code"] == "US-EXP-DHL")
    longest = dhl.find(attrs={"data-limit": "longest"})
    assert longest.find(attrs={"data-fee-above": "120"}) is not None
    assert longest.find(attrs={"data-refused-above": "270"}) is not None
    ups = next(r for r in found if r["data-channel-code"] == "US-EXP-UPS")
    assert ups.find(attrs={"data-limit": "longest"}).find(attrs={"data-refused-above": "270"})
    assert ups.find(attrs={"data-fee-above": True}) is None


def test_readers_see_the_card_without_buttons(app, make_staff, demo_card):
    client = app.test_client()
    login(client, make_staff("finance"))
    page = soup(client.get(f"/ops/rate-cards/{card_id(app)}"))
    assert page.find_all(attrs={"data-testid": "channel-row"})
    assert page.find(attrs={"data-testid": "toggle-channel"}) is None
    assert page.find(attrs={"data-testid": "edit-channel"}) is None
    ch = channel(app)
    url = f"/ops/rate-cards/{ch.rate_card_id}/channels/{ch.id}/toggle"
    assert post(client, url, {"active": "0"}).status_code == 403
    assert client.get(f"/ops/rate-cards/{ch.rate_card_id}/export").status_code == 200


@pytest.mark.parametrize("path", ["999999", "0", str(2**31), str(2**40), "abc", "-1"])
def test_unknown_cards_are_not_found(admin, path):
    assert admin.get(f"/ops/rate-cards/{path}").status_code == 404
    assert admin.get(f"/ops/rate-cards/{path}/export").status_code == 404


# ---- switching channels ----------------------------------------------------------------------


def toggle(client, ch: Channel, active: str, **kwargs):
    url = f"/ops/rate-cards/{ch.rate_card_id}/channels/{ch.id}/toggle"
    return post(client, url, {"active": active}, **kwargs)


def test_deactivating_a_channel_stops_quotes_offering_it(app, admin):
    ch = channel(app)
    assert CHANNEL in offered(app)
    response = toggle(admin, ch, "0")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ops/rate-cards/{ch.rate_card_id}"
    assert revision(app) == 2
    assert channel(app).is_active is False
    assert CHANNEL not in offered(app)
    assert audit_rows(app) == [
        (
            admin.account.id,
            "channel.deactivate",
            "channel",
            str(ch.id),
            {"code": CHANNEL, "is_active": True},
            {"code": CHANNEL, "is_active": False},
        )
    ]
    row = soup(admin.get(f"/ops/rate-cards/{ch.rate_card_id}")).find(
        attrs={"data-channel-code": CHANNEL}
    )
    assert row.find("input", attrs={"name": "active"})["value"] == "1"

    again = toggle(admin, ch, "1", htmx=True)
    assert again.status_code == 204
    assert again.headers["HX-Redirect"] == f"/ops/rate-cards/{ch.rate_card_id}"
    assert revision(app) == 3
    assert CHANNEL in offered(app)
    assert audit_rows(app)[1][1] == "channel.activate"


def test_the_public_quote_no_longer_lists_a_deactivated_channel(app, admin):
    ch = channel(app)
    query = {"country": "US", "weight": "1.2"}
    before = admin.get("/quote", query_string=query).get_data(as_text=True)
    assert ch.name_zh in before
    toggle(admin, ch, "0")
    after = admin.get("/quote", query_string=query).get_data(as_text=True)
    assert ch.name_zh not in after


def test_deactivating_twice_is_refused(app, admin):
    ch = channel(app)
    toggle(admin, ch, "0")
    again = toggle(admin, ch, "0", htmx=True)
    assert again.status_code == 409
    assert soup(again).find(id="rate-card-channels") is not None
    assert soup(again).find(attrs={"data-testid": "toggle-error"}).get_text(strip=True)
    assert revision(app) == 2
    assert len(audit_rows(app)) == 1


@pytest.mark.parametrize("value", ["", "2", "yes", "true", "00", "1 ", "\x00"])
def test_a_bad_toggle_value_is_refused(app, admin, value):
    response = toggle(admin, channel(app), value)
    assert response.status_code == 422
    assert soup(response).find(attrs={"data-testid": "toggle-error"}) is not None
    assert revision(app) == 1 and channel(app).is_active and audit_rows(app) == []


def test_a_channel_of_another_card_or_none_is_not_found(app, admin):
    ch = channel(app)
    for card, channel_id in ((ch.rate_card_id + 1, ch.id), (ch.rate_card_id, 999999)):
        url = f"/ops/rate-cards/{card}/channels/{channel_id}"
        assert post(admin, url + "/toggle", {"active": "0"}).status_code == 404
        assert admin.get(url).status_code == 404
    assert audit_rows(app) == [] and revision(app) == 1


def test_two_admins_deactivating_at_once_one_wins(app, admin, make_staff):
    ch = channel(app)
    actors = [admin.account.id, make_staff("admin").id]

    def work(i: int):
        actor = db.session.get(User, actors[i])
        rate_card_admin.set_channel_active(actor, ch.rate_card_id, ch.id, False)
        db.session.commit()
        return "ok"

    results = run_together(app, 2, work)
    outcomes = sorted("ok" if r == "ok" else type(r).__name__ for r in results)
    assert outcomes == [ChangedMeanwhile.__name__, "ok"]
    assert revision(app) == 2
    assert len(audit_rows(app)) == 1


# ---- editing a channel -----------------------------------------------------------------------

GOOD = {
    "name_zh": "美国空运标准",
    "name_en": "US Air Standard",
    "transit_min_days": "8",
    "transit_max_days": "14",
    "sort_order": "5",
}


def edit(client, ch: Channel, values: dict, rev: str = "1", **kwargs):
    url = f"/ops/rate-cards/{ch.rate_card_id}/channels/{ch.id}"
    return post(client, url, {**values, "revision": rev}, **kwargs)


def test_the_edit_form_shows_the_channel(app, admin):
    ch = channel(app)
    page = soup(admin.get(f"/ops/rate-cards/{ch.rate_card_id}/channels/{ch.id}"))
    form = page.find(id="channel-form")
    assert form.find(id="name_zh")["value"] == ch.name_zh
    assert form.find(id="transit_max_days")["value"] == str(ch.transit_max_days)
    assert form.find("input", attrs={"name": "revision"})["value"] == "1"


def test_editing_a_channel_saves_bumps_the_revision_and_is_audited(app, admin):
    ch = channel(app)
    response = edit(admin, ch, GOOD)
    assert response.status_code == 303
    saved = channel(app)
    assert (saved.name_zh, saved.name_en, saved.transit_min_days, saved.transit_max_days) == (
        "美国空运标准",
        "US Air Standard",
        8,
        14,
    )
    assert saved.sort_order == 5
    assert revision(app) == 2
    (entry,) = audit_rows(app)
    assert entry[1:4] == ("channel.edit", "channel", str(ch.id))
    assert entry[4]["name_zh"] == ch.name_zh and entry[5]["name_zh"] == "美国空运标准"
    assert entry[4]["code"] == entry[5]["code"] == CHANNEL
    with app.app_context():
        names = {c.code: c.name_zh for c in rate_cards.channels_in_force(TODAY)}
    assert names[CHANNEL] == "美国空运标准"


def test_an_edit_from_a_stale_form_is_refused(app, admin):
    ch = channel(app)
    toggle(admin, ch, "0")  # revision 2 now
    response = edit(admin, ch, GOOD, rev="1")
    assert response.status_code == 409
    assert soup(response).find(attrs={"data-testid": "form-error"}).get_text(strip=True)
    assert channel(app).name_zh == ch.name_zh
    for rev in ("", "abc", "-1", "9" * 30):
        assert edit(admin, ch, GOOD, rev=rev).status_code == 409
    assert revision(app) == 2 and len(audit_rows(app)) == 1


BAD_FIELDS = [
    ("name_zh", ""),
    ("name_zh", "   "),
    ("name_zh", "名" * 101),
    ("name_zh", "a\x00b"),
    ("name_en", "line\nbreak"),
    ("name_en", "x" * 500),
    ("transit_min_days", ""),
    ("transit_min_days", "0"),
    ("transit_min_days", "-3"),
    ("transit_min_days", "3.5"),
    ("transit_min_days", "abc"),
    ("transit_min_days", "366"),
    ("transit_min_days", "9" * 40),
    ("transit_max_days", "7"),  # below the minimum of 8
    ("transit_max_days", "1e3"),
    ("transit_max_days", "٣"),
    ("sort_order", "-1"),
    ("sort_order", "10000"),
    ("sort_order", "x"),
    ("sort_order", "\x1b"),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_bad_channel_fields_are_refused_beside_the_field(app, admin, field, value):
    ch = channel(app)
    response = edit(admin, ch, {**GOOD, field: value})
    assert response.status_code == 422
    assert field_error(response, field)
    assert soup(response).find(id=field)["aria-invalid"] == "true"
    assert channel(app).name_zh == ch.name_zh
    assert revision(app) == 1 and audit_rows(app) == []


def test_every_bad_field_is_reported_at_once_over_htmx(app, admin):
    response = edit(admin, channel(app), {name: "" for name in GOOD}, htmx=True)
    assert response.status_code == 422
    assert "<html" not in response.get_data(as_text=True)
    assert soup(response).find(id="channel-form") is not None
    assert all(field_error(response, name) for name in GOOD)


# ---- import and export -----------------------------------------------------------------------


def exported(app, tmp_path, **card_values):
    """The demo card exported as .xlsx, with cells of its card sheet changed."""
    path = tmp_path / "card.xlsx"
    with app.app_context():
        export_rate_card(db.session.get(RateCard, card_id(app)), path)
    book = load_workbook(path)
    sheet = book["card"]
    header = [cell.value for cell in sheet[1]]
    for name, value in card_values.items():
        sheet.cell(row=2, column=header.index(name) + 1, value=value)
    book.save(path)
    return path, book


def upload(client, data: bytes, name: str = "sheet.xlsx", **fields):
    return post(
        client,
        "/ops/rate-cards/import",
        {"sheet": (io.BytesIO(data), name), **fields},
        content_type="multipart/form-data",
    )


def test_importing_a_good_sheet_adds_a_new_version(app, admin, tmp_path):
    path, _ = exported(app, tmp_path, version="2026-12", valid_from="2026-12-01")
    response = upload(admin, path.read_bytes())
    assert response.status_code == 303
    with app.app_context():
        new = db.session.scalar(select(RateCard).where(RateCard.version == "2026-12"))
        old = db.session.scalar(select(RateCard).where(RateCard.version == "2026-11"))
        imported, original = card_summary(new), card_summary(old)
        assert imported.pop("valid_from") == date(2026, 12, 1)
        original.pop("valid_from")
        assert imported == original
        new_id, channels = new.id, len(new.channels)
    assert response.headers["Location"] == f"/ops/rate-cards/{new_id}"
    assert audit_rows(app) == [
        (
            admin.account.id,
            "rate_card.import",
            "rate_card",
            str(new_id),
            None,
            {"version": "2026-12", "valid_from": "2026-12-01", "channels": channels},
        )
    ]
    listed = soup(admin.get("/ops/rate-cards")).find_all(attrs={"data-testid": "rate-card-row"})
    assert [r.find("a").get_text(strip=True) for r in listed] == ["2026-12", "2026-11"]


def test_the_version_field_replaces_the_sheets(app, admin, tmp_path):
    path, _ = exported(app, tmp_path)
    response = upload(admin, path.read_bytes(), version="2026-11b")
    assert response.status_code == 303
    assert card_count(app) == 2


def test_a_bad_sheet_lists_its_row_errors_and_writes_nothing(app, admin, tmp_path):
    path, book = exported(app, tmp_path, version="2026-12")
    rates = book["rates"]
    header = [cell.value for cell in rates[1]]
    rates.cell(row=3, column=header.index("first_price") + 1, value="abc")
    rates.cell(row=4, column=header.index("unit_kg") + 1, value=-1)
    book.save(path)
    response = upload(admin, path.read_bytes(), htmx=True)
    assert response.status_code == 422
    assert soup(response).find(id="rate-card-import") is not None
    problems = [
        [td.get_text(strip=True) for td in row.find_all("td")]
        for row in soup(response).find_all(attrs={"data-testid": "sheet-problem"})
    ]
    assert [p[:3] for p in problems] == [
        ["rates", "3", "first_price"],
        ["rates", "4", "unit_kg"],
    ]
    assert all(p[3] for p in problems)
    assert field_error(response, "sheet")
    assert card_count(app) == 1 and audit_rows(app) == []


def test_an_existing_version_is_refused(app, admin, tmp_path):
    path, _ = exported(app, tmp_path)
    response = upload(admin, path.read_bytes())
    assert response.status_code == 422
    problem = soup(response).find(attrs={"data-testid": "sheet-problem"})
    assert [td.get_text(strip=True) for td in problem.find_all("td")][:3] == [
        "card",
        "2",
        "version",
    ]
    assert card_count(app) == 1


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"version,name\n2026-12,x\n", "card.csv"),
        (b"version,name\n2026-12,x\n", "card.xlsx"),
        (b"", "empty.xlsx"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "photo.xlsx"),
        (b"PK\x03\x04" + b"\x00" * 100, "broken.xlsx"),
        (b"PK\x03\x04", "sheet.XLSX.exe"),
    ],
)
def test_a_file_that_is_not_an_xlsx_sheet_is_refused(app, admin, data, name):
    response = upload(admin, data, name)
    assert response.status_code == 422
    assert field_error(response, "sheet")
    assert card_count(app) == 1 and audit_rows(app) == []


def test_no_file_is_refused(app, admin):
    response = post(admin, "/ops/rate-cards/import", {}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert field_error(response, "sheet")


def test_export_downloads_the_card_as_xlsx(app, admin, tmp_path):
    response = admin.get(f"/ops/rate-cards/{card_id(app)}/export")
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"] == "attachment; filename=rate-card-2026-11.xlsx"
    book = load_workbook(io.BytesIO(response.data))
    assert {"card", "channels", "zones", "rates"} <= set(book.sheetnames)
    assert book["card"].cell(row=2, column=1).value == "2026-11"
    # What was downloaded imports back as the same card.
    upload(admin, response.data, version="copy")
    with app.app_context():
        cards = db.session.scalars(select(RateCard).order_by(RateCard.id)).all()
        assert [c.version for c in cards] == ["2026-11", "copy"]
        assert card_summary(cards[0]) == card_summary(cards[1])
