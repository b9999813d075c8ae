"""The intake desk: scanning a number, receiving a registered parcel (weight, sides, photos),
recording an unknown number as unclaimed, the staff parcel list and its photos; refusals of bad
input leave nothing behind, and of ten desks receiving one parcel at once exactly one wins."""

import io
import struct
import zlib
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEntry,
    Notification,
    Parcel,
    ParcelEvent,
    ParcelPhoto,
    UnclaimedParcel,
    UnclaimedParcelPhoto,
    User,
    utcnow,
)
from portal.services import intake, storage
from portal.services.errors import DomainError
from portal.services.intake import AlreadyReceived, Measurements
from tests.conftest import run_together
from tests.helpers import HTMX, csrf_token, field_error, login, soup

NUMBER = "SF1234567890123"


# ---------------------------------------------------------------------------------------------
# Images and fixtures (also used by tests/test_unclaimed_claims.py and the browser tests)
# ---------------------------------------------------------------------------------------------


def png(width: int = 640, height: int = 480, color=(200, 120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge image (a decompression bomb's first bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
def upload_dir(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


def stored_files(folder) -> list:
    return sorted(folder.iterdir()) if folder.exists() else []


def client_of(app, account):
    client = app.test_client()
    assert login(client, account).status_code == 303
    return client


@pytest.fixture
def desk(app, upload_dir, make_customer, make_staff, make_parcel):
    """A warehouse clerk logged in, a customer with an expected parcel under NUMBER."""
    customer = make_customer()
    staff = make_staff("warehouse")
    parcel_id = make_parcel(customer.id, tracking_no=NUMBER)
    return {
        "customer": customer,
        "staff": staff,
        "parcel_id": parcel_id,
        "client": client_of(app, staff),
    }


def receive(client, parcel_id: int, photos=None, htmx: bool = False, **fields):
    values = {"weight": "1.25", "length": "30", "width": "20", "height": "10", **fields}
    files = [(io.BytesIO(data), f"photo{i}.png") for i, data in enumerate(photos or [png()])]
    data = {"csrf_token": csrf_token(client), **values, "photos": files}
    return client.post(
        f"/ops/intake/parcels/{parcel_id}",
        data=data,
        content_type="multipart/form-data",
        headers=HTMX if htmx else {},
    )


def record_unclaimed(client, number: str, photos=None, **fields):
    values = {"tracking_no": number, "weight": "0.8", **fields}
    files = [(io.BytesIO(data), f"photo{i}.png") for i, data in enumerate(photos or [png()])]
    data = {"csrf_token": csrf_token(client), **values, "photos": files}
    return client.post("/ops/intake/unclaimed", data=data, content_type="multipart/form-data")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def footprint(app, folder) -> dict:
    """What receiving or recording may write, to show that a refusal wrote nothing."""
    with app.app_context():
        return {
            "parcels": db.session.execute(
                select(
                    Parcel.id, Parcel.status, Parcel.weight_g, Parcel.received_at, Parcel.length_cm
                ).order_by(Parcel.id)
            ).all(),
            "photos": count(ParcelPhoto),
            "events": count(ParcelEvent),
            "notifications": count(Notification),
            "audit": count(AuditEntry),
            "unclaimed": count(UnclaimedParcel),
            "unclaimed_photos": count(UnclaimedParcelPhoto),
            "files": stored_files(folder),
        }


# ---------------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------------


def test_the_scan_field_is_focused_and_empty(desk):
    page = soup(desk["client"].get("/ops/intake"))
    field = page.find(id="scan-tracking-no")
    assert field.has_attr("autofocus") and field["value"] == "" and field["name"] == "tracking_no"
    form = page.find(id="intake-scan")
    assert form["method"] == "get" and form["hx-push-url"] == "true"
    assert form["hx-target"] == "#intake-desk"
    assert page.find(attrs={"data-testid": "scan-results"}) is None


def test_a_scan_finds_the_parcel_normalised_and_offers_the_receive_form(desk):
    response = desk["client"].get(
        "/ops/intake", query_string={"tracking_no": " sf-1234 5678 90123"}
    )
    assert response.status_code == 200
    page = soup(response)
    assert page.find(attrs={"data-testid": "scanned-no"}).get_text() == NUMBER
    (match,) = page.select("[data-testid=intake-match]")
    assert match["data-parcel-id"] == str(desk["parcel_id"])
    assert match.find(attrs={"data-testid": "customer-code"}).get_text() == (
        desk["customer"].customer_code
    )
    form = match.find("form", attrs={"data-testid": "receive-form"})
    assert form["action"] == f"/ops/intake/parcels/{desk['parcel_id']}"
    assert form["enctype"] == "multipart/form-data"
    photos = form.find("input", attrs={"name": "photos"})
    assert photos["accept"] == "image/*" and photos["capture"] == "environment"
    assert photos.has_attr("multiple")
    # One parcel to receive: the weight is next, and the scan field is empty again.
    assert form.find("input", attrs={"name": "weight"}).has_attr("autofocus")
    assert not page.find(id="scan-tracking-no").has_attr("autofocus")
    assert page.find(id="scan-tracking-no")["value"] == ""
    assert page.find(attrs={"data-testid": "unclaimed-form"}) is None


def test_a_scan_answers_htmx_with_the_desk_fragment(desk):
    response = desk["client"].get("/ops/intake?tracking_no=" + NUMBER, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]
    page = soup(response)
    assert page.find().get("id") == "intake-desk"
    assert len(page.select("[data-testid=intake-match]")) == 1


def test_a_shared_number_shows_every_owner_and_a_warning(app, desk, make_customer, make_parcel):
    other = make_customer()
    make_parcel(other.id, tracking_no=NUMBER, shared_tracking_no=True)
    page = soup(desk["client"].get("/ops/intake?tracking_no=" + NUMBER))
    codes = [m.get_text() for m in page.select("[data-testid=customer-code]")]
    assert codes == [desk["customer"].customer_code, other.customer_code]
    assert page.find(attrs={"data-testid": "shared-warning"}) is not None
    assert len(page.select("[data-testid=shared]")) == 1
    assert len(page.select("[data-testid=receive-form]")) == 2
    # Two to choose from: the scan field keeps the focus until staff pick one.
    assert page.find(id="scan-tracking-no").has_attr("autofocus")
    assert not page.select("[data-testid=receive-form] [autofocus]")


def test_a_received_parcel_says_when_and_by_whom_and_offers_nothing(desk):
    assert receive(desk["client"], desk["parcel_id"]).status_code == 303
    page = soup(desk["client"].get("/ops/intake?tracking_no=" + NUMBER))
    done = page.find(attrs={"data-testid": "already-received"}).get_text(" ", strip=True)
    assert desk["staff"].identifier in done and "1.25 kg" in done
    assert page.find("form", attrs={"data-testid": "receive-form"}) is None
    assert page.find(attrs={"data-testid": "unclaimed-form"}) is None
    assert page.find(id="scan-tracking-no").has_attr("autofocus")


def test_an_unknown_number_offers_the_unclaimed_form(desk):
    page = soup(desk["client"].get("/ops/intake?tracking_no=yt 9876543210123"))
    assert page.find(attrs={"data-testid": "no-registration"}) is not None
    form = page.find("form", attrs={"data-testid": "unclaimed-form"})
    assert form["action"] == "/ops/intake/unclaimed"
    assert form.find("input", attrs={"name": "tracking_no"})["value"] == "YT9876543210123"
    assert page.find(id="scan-tracking-no").has_attr("autofocus")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ab12",
        "X" * 41,
        "Y" * 500,
        "SF123<script>",
        "SF123456\x00",
        "SF1234567\x0789",
        "顺丰1234567",
        "SF12345'; DROP TABLE parcels;--",
        "%%%%%%%%",
    ],
)
def test_a_malformed_number_is_refused_beside_the_field(desk, raw):
    response = desk["client"].get("/ops/intake", query_string={"tracking_no": raw})
    assert response.status_code == 422
    assert field_error(response, "scan-tracking-no")
    page = soup(response)
    assert page.find(id="scan-tracking-no")["aria-invalid"] == "true"
    assert page.find(attrs={"data-testid": "scan-results"}) is None
    assert page.find(attrs={"data-testid": "unclaimed-form"}) is None


# ---------------------------------------------------------------------------------------------
# Receiving
# ---------------------------------------------------------------------------------------------


def test_receiving_weighs_photographs_notifies_and_audits(app, desk, upload_dir):
    before = utcnow()
    response = receive(
        desk["client"], desk["parcel_id"], photos=[png(), png(300, 900)], condition_note="纸箱压扁"
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/ops/intake"
    with app.app_context():
        parcel = db.session.get(Parcel, desk["parcel_id"])
        assert parcel.status == "received"
        assert (parcel.weight_g, parcel.length_cm, parcel.width_cm, parcel.height_cm) == (
            1250,
            30,
            20,
            10,
        )
        assert parcel.condition_note == "纸箱压扁"
        assert before <= parcel.received_at <= utcnow()
        assert len(parcel.photos) == 2
        for photo in parcel.photos:
            image = storage.open_path(photo.image_key).read_bytes()
            thumb = storage.open_path(photo.thumb_key).read_bytes()
            assert image.startswith(b"\xff\xd8\xff") and thumb.startswith(b"\xff\xd8\xff")
            big, small = Image.open(io.BytesIO(image)), Image.open(io.BytesIO(thumb))
            assert max(small.size) <= 320 < max(big.size)
        event = db.session.scalar(select(ParcelEvent).where(ParcelEvent.to_status == "received"))
        assert (event.parcel_id, event.actor_id, event.from_status) == (
            parcel.id,
            desk["staff"].id,
            "expected",
        )
        (note,) = db.session.scalars(select(Notification)).all()
        assert note.user_id == desk["customer"].id and note.kind == "parcel_received"
        assert note.params == {"tracking_no": NUMBER, "weight": "1.25"}
        (entry,) = db.session.scalars(select(AuditEntry)).all()
        assert (entry.actor_id, entry.action, entry.entity_type, entry.entity_id) == (
            desk["staff"].id,
            "parcel.receive",
            "parcel",
            str(parcel.id),
        )
        assert entry.before == {"status": "expected", "received_at": None}
        assert entry.after["status"] == "received" and entry.after["weight_g"] == 1250
        assert entry.after["photos"] == 2
    assert len(stored_files(upload_dir)) == 4
    # Back at the scan field, with the flash, ready for the next parcel.
    page = soup(desk["client"].get("/ops/intake"))
    assert NUMBER in page.find(id="flash").get_text()
    assert page.find(id="scan-tracking-no").has_attr("autofocus")


def test_receiving_with_htmx_redirects_with_hx_redirect(app, desk):
    response = receive(desk["client"], desk["parcel_id"], htmx=True, length="", width="", height="")
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/ops/intake"
    with app.app_context():
        parcel = db.session.get(Parcel, desk["parcel_id"])
        assert parcel.status == "received" and parcel.length_cm is None


def test_the_customer_sees_the_received_parcel_with_its_photo(app, desk):
    assert receive(desk["client"], desk["parcel_id"]).status_code == 303
    customer = client_of(app, desk["customer"])
    page = soup(customer.get("/parcels/?status=received"))
    card = page.find(id=f"parcel-{desk['parcel_id']}")
    assert card.find(attrs={"data-testid": "weight"}).get_text() == "1.25 kg"
    (link,) = card.select("[data-testid=photo]")
    photo = customer.get(link["href"])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    photo.close()


def test_a_parcel_already_in_an_order_is_received_and_stays_in_it(app, desk, make_parcel):
    ordered = make_parcel(desk["customer"].id, status="consolidated")
    assert receive(desk["client"], ordered).status_code == 303
    with app.app_context():
        parcel = db.session.get(Parcel, ordered)
        assert parcel.status == "consolidated" and parcel.received_at is not None
        assert parcel.weight_g == 1250
        event = db.session.scalar(select(ParcelEvent).where(ParcelEvent.parcel_id == ordered))
        assert (event.from_status, event.to_status) == ("consolidated", "consolidated")


def test_receiving_twice_is_refused_with_a_message_and_writes_nothing(app, desk, upload_dir):
    assert receive(desk["client"], desk["parcel_id"]).status_code == 303
    before = footprint(app, upload_dir)
    response = receive(desk["client"], desk["parcel_id"], weight="9")
    assert response.status_code == 409
    assert soup(response).find(attrs={"data-testid": "refusal"}) is not None
    partial = receive(desk["client"], desk["parcel_id"], htmx=True)
    assert partial.status_code == 409
    assert soup(partial).find().get("id") == f"receive-{desk['parcel_id']}"
    assert footprint(app, upload_dir) == before


@pytest.mark.parametrize("parcel_id", [999999, 2**31, 2**63])
def test_receiving_an_unknown_parcel_is_404(desk, parcel_id):
    assert receive(desk["client"], parcel_id).status_code == 404


BAD_MEASUREMENTS = [
    ("weight", {"weight": ""}),
    ("weight", {"weight": "0"}),
    ("weight", {"weight": "0.0001"}),
    ("weight", {"weight": "0.000"}),
    ("weight", {"weight": "-1"}),
    ("weight", {"weight": "100.001"}),
    ("weight", {"weight": "101"}),
    ("weight", {"weight": "1000"}),
    ("weight", {"weight": "1e3"}),
    ("weight", {"weight": "1,5"}),
    ("weight", {"weight": "1.2.3"}),
    ("weight", {"weight": "abc"}),
    ("weight", {"weight": "NaN"}),
    ("weight", {"weight": "inf"}),
    ("weight", {"weight": "１.５"}),
    ("weight", {"weight": "1.5kg"}),
    ("weight", {"weight": "9" * 5000}),
    ("weight", {"weight": "+1"}),
    ("weight", {"weight": ".5"}),
    ("weight", {"weight": "1\x00"}),
    ("length", {"length": "0"}),
    ("length", {"length": "-5"}),
    ("length", {"length": "301"}),
    ("length", {"length": "1000"}),
    ("length", {"length": "2.5"}),
    ("width", {"width": "abc"}),
    ("width", {"width": "３０"}),
    ("height", {"height": "1e2"}),
    ("height", {"height": ""}),
    ("width", {"width": "", "height": ""}),
    ("height", {"height": "9" * 400}),
    ("condition_note", {"condition_note": "x" * 201}),
    ("condition_note", {"condition_note": "破损\n漏液"}),
    ("condition_note", {"condition_note": "bad\x07bell"}),
    ("condition_note", {"condition_note": "破\u2028损"}),
]


def test_bad_measurements_are_refused_beside_their_field_and_write_nothing(app, desk, upload_dir):
    assert len(BAD_MEASUREMENTS) >= 30
    before = footprint(app, upload_dir)
    for field, values in BAD_MEASUREMENTS:
        response = receive(desk["client"], desk["parcel_id"], **values)
        assert response.status_code == 422, values
        message = field_error(response, f"receive-{desk['parcel_id']}-{field}")
        assert message, (field, values)
        page = soup(response)
        assert page.find(id=f"receive-{desk['parcel_id']}-{field}")["aria-invalid"] == "true"
        assert page.find(id=f"receive-{desk['parcel_id']}-{field}").has_attr("autofocus")
        partial = receive(desk["client"], desk["parcel_id"], htmx=True, **values)
        assert partial.status_code == 422
        assert soup(partial).find().get("id") == f"receive-{desk['parcel_id']}"
    assert footprint(app, upload_dir) == before


def test_the_measurement_rules_accept_the_edges():
    edges = [
        ({"weight": "0.001"}, 1),
        ({"weight": "100"}, 100_000),
        ({"weight": " 2.5 "}, 2_500),
        ({"weight": "12.345"}, 12_345),
    ]
    for values, grams in edges:
        assert intake.parse_measurements(values).weight_g == grams
    sides = intake.parse_measurements({"weight": "1", "length": "1", "width": "300", "height": "7"})
    assert (sides.length_cm, sides.width_cm, sides.height_cm) == (1, 300, 7)


BAD_UPLOADS = [
    ("text", [b"hello, I am not a photo"]),
    ("html", [b"<html><script>alert(1)</script></html>"]),
    ("truncated", [png()[:200]]),
    ("huge pixels", [png_claiming(20000, 20000)]),
    ("empty file", [b""]),
    ("one bad of two", [png(), b"GIF89a broken"]),
    ("seven", [png(20, 20)] * 7),
]


@pytest.mark.parametrize(("name", "photos"), BAD_UPLOADS, ids=[n for n, _p in BAD_UPLOADS])
def test_bad_photos_are_refused_with_a_message_and_nothing_stored(
    app, desk, upload_dir, name, photos
):
    before = footprint(app, upload_dir)
    response = receive(desk["client"], desk["parcel_id"], photos=photos)
    assert response.status_code == 422, name
    assert field_error(response, f"receive-{desk['parcel_id']}-photos")
    assert footprint(app, upload_dir) == before


def test_a_photo_is_required(app, desk, upload_dir):
    client = desk["client"]
    response = client.post(
        f"/ops/intake/parcels/{desk['parcel_id']}",
        data={"csrf_token": csrf_token(client), "weight": "1", "photos": (io.BytesIO(b""), "")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert field_error(response, f"receive-{desk['parcel_id']}-photos")
    with app.app_context():
        assert db.session.get(Parcel, desk["parcel_id"]).status == "expected"


def test_ten_desks_receiving_one_parcel_at_once_one_wins(app, desk, upload_dir):
    def work(i: int):
        actor = db.session.get(User, desk["staff"].id)
        measured = Measurements(weight_g=1000 + i)
        parcel = intake.receive_parcel(actor, desk["parcel_id"], measured, [png(64, 64)])
        db.session.commit()
        return parcel.weight_g

    results = run_together(app, 10, work)
    assert None not in results
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1, results
    assert all(isinstance(e, AlreadyReceived) for e in losses), [repr(e) for e in losses]
    with app.app_context():
        parcel = db.session.get(Parcel, desk["parcel_id"])
        assert parcel.status == "received" and parcel.weight_g == wins[0]
        assert count(ParcelPhoto) == 1
        assert count(ParcelEvent) == count(Notification) == count(AuditEntry) == 1
        keys = {parcel.photos[0].image_key, parcel.photos[0].thumb_key}
    # The losers' stored photos were removed: only the winner's two files remain.
    assert {f.name for f in stored_files(upload_dir)} == keys


# ---------------------------------------------------------------------------------------------
# Recording an unclaimed parcel
# ---------------------------------------------------------------------------------------------


def test_an_unknown_number_is_recorded_as_unclaimed(app, desk, upload_dir):
    response = record_unclaimed(
        desk["client"], "yt-9876543210123", length="10", width="10", height="5"
    )
    assert response.status_code == 303 and response.headers["Location"] == "/ops/intake"
    with app.app_context():
        (found,) = db.session.scalars(select(UnclaimedParcel)).all()
        assert (found.tracking_no, found.courier, found.status) == (
            "YT9876543210123",
            "YTO",
            "unclaimed",
        )
        assert (found.weight_g, found.length_cm, found.received_by) == (800, 10, desk["staff"].id)
        assert len(found.photos) == 1
        assert storage.open_path(found.photos[0].image_key).exists()
        (entry,) = db.session.scalars(select(AuditEntry)).all()
        assert (entry.action, entry.entity_type, entry.entity_id) == (
            "unclaimed.record",
            "unclaimed_parcel",
            str(found.id),
        )
        assert entry.after["tracking_no"] == "YT9876543210123"
    # Scanning it again says it is waiting, and offers no second record.
    page = soup(desk["client"].get("/ops/intake?tracking_no=YT9876543210123"))
    assert page.find(attrs={"data-testid": "unclaimed-known"})["data-status"] == "unclaimed"
    assert page.find(attrs={"data-testid": "unclaimed-form"}) is None


@pytest.mark.parametrize(
    ("number", "photos", "field"),
    [
        (NUMBER, None, "tracking_no"),  # registered by a customer
        ("YT9876543210123", None, "tracking_no"),  # recorded a moment ago (a second scan)
        ("YT1111111111111", [], "photos"),
        ("YT1111111111111", [b"not a photo"], "photos"),
        ("bad number!", None, "tracking_no"),
        ("", None, "tracking_no"),
    ],
)
def test_recording_unclaimed_is_refused_for_known_numbers_and_without_photos(
    app, desk, upload_dir, number, photos, field
):
    assert record_unclaimed(desk["client"], "YT9876543210123").status_code == 303
    before = footprint(app, upload_dir)
    if photos == []:
        client = desk["client"]
        response = client.post(
            "/ops/intake/unclaimed",
            data={"csrf_token": csrf_token(client), "tracking_no": number, "weight": "1"},
            content_type="multipart/form-data",
        )
    else:
        response = record_unclaimed(desk["client"], number, photos)
    assert response.status_code == 422
    page = soup(response)
    assert page.find(id=f"unclaimed-{field}-error") is not None
    assert page.find("form", attrs={"data-testid": "unclaimed-form"}) is not None
    assert footprint(app, upload_dir) == before


def test_two_desks_recording_one_unknown_number_at_once_record_it_once(app, desk, upload_dir):
    from portal.services import unclaimed

    def work(_i: int):
        actor = db.session.get(User, desk["staff"].id)
        found = unclaimed.record_unclaimed(
            actor, "YT5555555555555", Measurements(weight_g=500), [png(32, 32)]
        )
        db.session.commit()
        return found.id

    results = run_together(app, 4, work)
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1 and len(losses) == 3, results
    assert all(isinstance(e, DomainError) and e.field == "tracking_no" for e in losses)
    with app.app_context():
        assert count(UnclaimedParcel) == 1


# ---------------------------------------------------------------------------------------------
# The staff parcel list and photos
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def stock(app, make_customer, make_parcel):
    """Two customers' parcels: expected, received today, received last week, consolidated."""
    alice, bob = make_customer(), make_customer()
    ids = {
        "expected": make_parcel(alice.id, tracking_no="SF1000000000001"),
        "today": make_parcel(alice.id, received=True, tracking_no="SF1000000000002"),
        "old": make_parcel(
            bob.id,
            received=True,
            tracking_no="YT2000000000003",
            received_at=utcnow() - timedelta(days=7),
        ),
        "ordered": make_parcel(bob.id, status="consolidated", tracking_no="YT2000000000004"),
    }
    return alice, bob, ids


def listed(response) -> list[int]:
    return [int(row["data-parcel-id"]) for row in soup(response).select("[data-testid=parcel-row]")]


def test_the_parcel_list_filters_by_status_day_number_and_customer(app, stock, make_staff):
    alice, bob, ids = stock
    client = client_of(app, make_staff("finance"))  # reading parcels is everyone's job
    assert sorted(listed(client.get("/ops/parcels"))) == sorted(ids.values())
    assert listed(client.get("/ops/parcels?status=expected")) == [ids["expected"]]
    assert listed(client.get("/ops/parcels?status=received")) == [ids["today"], ids["old"]]
    assert listed(client.get("/ops/parcels?status=received&received=today")) == [ids["today"]]
    assert sorted(listed(client.get("/ops/parcels?q=yt2000"))) == [ids["old"], ids["ordered"]]
    assert sorted(listed(client.get("/ops/parcels", query_string={"q": bob.customer_code}))) == [
        ids["old"],
        ids["ordered"],
    ]
    page = soup(client.get("/ops/parcels?status=expected"))
    assert page.find(attrs={"data-testid": "customer-code"}).get_text() == alice.customer_code
    # Finance may read the list but not use the desk: no link into it.
    assert page.find(attrs={"data-testid": "to-intake"}) is None


def test_the_parcel_list_links_into_the_desk_and_answers_htmx(app, stock, make_staff):
    _alice, _bob, ids = stock
    client = client_of(app, make_staff("warehouse"))
    response = client.get("/ops/parcels?status=expected", headers=HTMX)
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    page = soup(response)
    assert page.find().get("id") == "parcels-list"
    link = page.find(attrs={"data-testid": "to-intake"})
    assert link["href"] == "/ops/intake?tracking_no=SF1000000000001"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"status": "lost"}, "parcels-status"),
        ({"status": "<b>"}, "parcels-status"),
        ({"received": "yesterday"}, "parcels-received"),
        ({"q": "x" * 61}, "parcels-q"),
        ({"q": "SF\x00"}, "parcels-q"),
    ],
)
def test_bad_list_filters_are_refused_beside_the_field(app, stock, make_staff, args, field):
    client = client_of(app, make_staff("warehouse"))
    response = client.get("/ops/parcels", query_string=args)
    assert response.status_code == 422
    assert field_error(response, field)
    assert listed(response) == []


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999999"])
def test_a_bad_page_number_is_404(app, stock, make_staff, page):
    client = client_of(app, make_staff("warehouse"))
    assert client.get(f"/ops/parcels?page={page}").status_code == 404


def test_the_parcel_list_pages_by_fifty(app, make_customer, make_staff):
    customer = make_customer()
    with app.app_context():
        db.session.add_all(
            Parcel(customer_id=customer.id, tracking_no=f"JT{n:013d}", contents="书")
            for n in range(51)
        )
        db.session.commit()
    client = client_of(app, make_staff("warehouse"))
    first = client.get("/ops/parcels")
    assert len(listed(first)) == 50
    assert soup(first).find(attrs={"data-testid": "page-next"})["href"] == "/ops/parcels?page=2"
    assert len(listed(client.get("/ops/parcels?page=2"))) == 1


def test_intake_photos_are_served_to_staff_only(app, desk, make_customer, make_staff):
    assert receive(desk["client"], desk["parcel_id"]).status_code == 303
    with app.app_context():
        photo = db.session.scalar(select(ParcelPhoto))
    base = f"/ops/parcels/{desk['parcel_id']}/photos/{photo.id}"
    reader = client_of(app, make_staff("service"))
    full, thumb = reader.get(base), reader.get(base + "/thumb")
    assert full.status_code == thumb.status_code == 200
    assert full.mimetype == "image/jpeg" and len(thumb.data) < len(full.data)
    assert "private" in full.headers["Cache-Control"]
    full.close()
    thumb.close()
    page = soup(reader.get("/ops/parcels"))
    assert [a["href"] for a in page.select("[data-testid=photo]")] == [base]
    # The owner and other customers never reach the staff URL; the wrong parcel is 404.
    assert client_of(app, desk["customer"]).get(base).status_code == 404
    assert client_of(app, make_customer()).get(base).status_code == 404
    assert app.test_client().get(base).status_code == 404
    assert reader.get(f"/ops/parcels/{desk['parcel_id'] + 1}/photos/{photo.id}").status_code == 404
    assert reader.get(f"/ops/parcels/{2**31}/photos/{photo.id}").status_code == 404


def test_the_desk_is_refused_to_finance_and_hidden_from_customers(app, desk, make_staff):
    finance = client_of(app, make_staff("finance"))
    assert finance.get("/ops/intake").status_code == 403
    assert receive(finance, desk["parcel_id"]).status_code == 403
    customer = client_of(app, desk["customer"])
    assert customer.get("/ops/intake").status_code == 404
    assert receive(customer, desk["parcel_id"]).status_code == 404
    with app.app_context():
        assert db.session.get(Parcel, desk["parcel_id"]).status == "expected"
