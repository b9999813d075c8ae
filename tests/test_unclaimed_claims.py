"""Unclaimed parcels and claims: the staff list, the customers' masked search, claiming with the
whole number, approving (the parcel becomes the customer's, received) and rejecting; two
approvals at once give one winner; photos and proofs are for staff (and the new owner) only."""

import io

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AuditEntry,
    Notification,
    Parcel,
    ParcelClaim,
    ParcelEvent,
    ParcelPhoto,
    UnclaimedParcel,
    User,
)
from portal.services import claims, storage, unclaimed
from portal.services.claims import ClaimClosed
from portal.services.errors import DomainError
from tests.conftest import run_together
from tests.helpers import HTMX, csrf_token, field_error, soup
from tests.test_ops_intake import (
    client_of,
    count,
    png,
    record_unclaimed,
    stored_files,
)

NUMBER = "YT9876543215678"


@pytest.fixture
def upload_dir(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


@pytest.fixture
def lost(app, upload_dir, make_staff):
    """An unclaimed parcel (NUMBER, 0.8 kg, 2 photos) recorded by a warehouse clerk."""
    staff = make_staff("warehouse")
    clerk = client_of(app, staff)
    response = record_unclaimed(
        clerk, NUMBER, photos=[png(), png(200, 200)], length="20", width="15", height="10"
    )
    assert response.status_code == 303
    with app.app_context():
        found = db.session.scalar(select(UnclaimedParcel))
        return {"id": found.id, "staff": staff, "clerk": clerk}


def claim(client, unclaimed_id: int, number: str = NUMBER, proof: bytes | None = None, **fields):
    data = {
        "csrf_token": csrf_token(client),
        "tracking_no": number,
        "contents": "两件T恤",
        **fields,
    }
    if proof is not None:
        data["proof"] = (io.BytesIO(proof), "order.png")
    return client.post(
        f"/parcels/unclaimed/{unclaimed_id}/claim", data=data, content_type="multipart/form-data"
    )


def claim_ids(app, **where) -> list[int]:
    with app.app_context():
        query = select(ParcelClaim.id).filter_by(**where).order_by(ParcelClaim.id)
        return list(db.session.scalars(query))


def shown(app, message) -> str:
    """A message as a customer sees it (in the default language)."""
    with app.test_request_context():
        return str(message)


def user(account) -> User:
    return db.session.get(User, account.id)


# ---------------------------------------------------------------------------------------------
# The staff list
# ---------------------------------------------------------------------------------------------


def test_the_staff_list_shows_photos_and_filters(app, lost, make_customer):
    clerk = lost["clerk"]
    page = soup(clerk.get("/ops/unclaimed"))
    (row,) = page.select("[data-testid=unclaimed-row]")
    assert NUMBER in row.get_text() and row["data-status"] == "unclaimed"
    thumbs = [img["src"] for img in row.select("img")]
    assert len(thumbs) == 2 and all(src.endswith("/thumb") for src in thumbs)
    photo = clerk.get(thumbs[0])
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    photo.close()
    assert soup(clerk.get("/ops/unclaimed?q=5678")).select("[data-testid=unclaimed-row]")
    assert not soup(clerk.get("/ops/unclaimed?q=0000")).select("[data-testid=unclaimed-row]")
    assert not soup(clerk.get("/ops/unclaimed?status=claimed")).select(
        "[data-testid=unclaimed-row]"
    )
    fragment = clerk.get("/ops/unclaimed?status=unclaimed", headers=HTMX)
    assert soup(fragment).find().get("id") == "unclaimed-list"
    for bad in ({"status": "gone"}, {"q": "x" * 61}, {"q": "a\x00"}):
        assert clerk.get("/ops/unclaimed", query_string=bad).status_code == 422
    # Customers never reach the staff pages or photos.
    customer = client_of(app, make_customer())
    assert customer.get("/ops/unclaimed").status_code == 404
    assert customer.get(thumbs[0]).status_code == 404


# ---------------------------------------------------------------------------------------------
# The customers' search
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "part", "masked"),
    [
        ("YT9876543215678", "5678", "****5678"),
        ("YT9876543215678", "YT98", "YT98****"),
        ("YT9876543215678", "6543", "****6543****"),
        ("YT9876543215678", "YT9876543215678", "YT9876543215678"),
        ("YT9876543215678", "0000", "****"),
    ],
)
def test_mask_shows_only_the_part_searched(number, part, masked):
    assert unclaimed.mask(number, part) == masked


def test_a_customer_finds_it_by_part_of_the_number_never_seeing_the_rest(app, lost, make_customer):
    customer = client_of(app, make_customer())
    response = customer.get("/parcels/unclaimed", query_string={"q": "32-15678"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert NUMBER not in html and "9876" not in html
    page = soup(response)
    (match,) = page.select("[data-testid=unclaimed-match]")
    assert match.find(attrs={"data-testid": "masked-no"}).get_text() == "****3215678"
    assert "0.8 kg" in match.get_text()
    assert match.find("img") is None  # no photos for customers
    link = match.find(attrs={"data-testid": "claim-link"})["href"]
    assert link == f"/parcels/unclaimed/{lost['id']}/claim?q=3215678"
    claim_page = customer.get(link)
    assert claim_page.status_code == 200
    assert NUMBER not in claim_page.get_data(as_text=True)
    assert soup(claim_page).find(attrs={"data-testid": "masked-no"}).get_text() == "****3215678"
    fragment = customer.get("/parcels/unclaimed?q=5678", headers=HTMX)
    assert soup(fragment).find().get("id") == "unclaimed-results"
    assert NUMBER not in fragment.get_data(as_text=True)


@pytest.mark.parametrize("q", ["567", "  ab ", "56<7>8", "5678\x00", "x" * 61, "５６７"])
def test_a_short_or_odd_search_is_refused(app, lost, make_customer, q):
    customer = client_of(app, make_customer())
    response = customer.get("/parcels/unclaimed", query_string={"q": q})
    assert response.status_code == 422
    assert soup(response).find(id="q-error").get_text(strip=True)
    assert not soup(response).select("[data-testid=unclaimed-match]")


def test_the_search_page_links_from_the_parcel_list(app, make_customer):
    customer = client_of(app, make_customer())
    link = soup(customer.get("/parcels/")).find(attrs={"data-testid": "unclaimed-link"})
    assert link["href"] == "/parcels/unclaimed"
    page = soup(customer.get(link["href"]))
    assert page.find(attrs={"data-testid": "no-claims"}) is not None
    assert app.test_client().get("/parcels/unclaimed").status_code == 302  # log in first


# ---------------------------------------------------------------------------------------------
# Claiming
# ---------------------------------------------------------------------------------------------


def test_a_claim_with_the_whole_number_and_a_proof_is_pending(
    app,
    lost,
    make_customer,
    upload_dir,
):
    account = make_customer()
    customer = client_of(app, account)
    files_before = len(stored_files(upload_dir))
    response = claim(customer, lost["id"], number="yt 9876-5432-15678", proof=png(400, 800))
    assert response.status_code == 303 and response.headers["Location"] == "/parcels/unclaimed"
    with app.app_context():
        (made,) = db.session.scalars(select(ParcelClaim)).all()
        assert (made.customer_id, made.status, made.tracking_no, made.contents) == (
            account.id,
            "pending",
            NUMBER,
            "两件T恤",
        )
        assert storage.open_path(made.proof_key).read_bytes().startswith(b"\xff\xd8\xff")
    assert len(stored_files(upload_dir)) == files_before + 1  # the proof, no thumbnail
    page = soup(customer.get("/parcels/unclaimed"))
    (mine,) = page.select("[data-testid=my-claim]")
    assert mine["data-status"] == "pending"
    # A second claim on the same parcel by the same customer is refused.
    again = claim(customer, lost["id"])
    assert again.status_code == 422
    assert soup(again).find(class_="form-errors").get_text() == shown(app, claims.ALREADY_CLAIMED)
    assert len(claim_ids(app)) == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"tracking_no": "YT9876543210000"}, "tracking_no", claims.NOT_MATCHING),
        ({"tracking_no": "5678"}, "tracking_no", None),
        ({"tracking_no": ""}, "tracking_no", None),
        ({"tracking_no": "YT98765432<5678"}, "tracking_no", None),
        ({"contents": ""}, "contents", None),
        ({"contents": "x" * 101}, "contents", None),
        ({"contents": "衣服\n鞋"}, "contents", None),
    ],
)
def test_a_claim_with_a_wrong_number_or_bad_fields_is_refused(
    app,
    lost,
    make_customer,
    upload_dir,
    fields,
    field,
    message,
):
    customer = client_of(app, make_customer())
    files_before = stored_files(upload_dir)
    fields = dict(fields)  # the parameters are shared by both databases' runs
    number = fields.pop("tracking_no", NUMBER)
    response = claim(customer, lost["id"], number, **fields)
    assert response.status_code == 422
    error = field_error(response, f"claim-{field}")
    assert error and (message is None or error == shown(app, message)), error
    assert claim_ids(app) == []
    assert stored_files(upload_dir) == files_before


@pytest.mark.parametrize("proof", [b"not an image", png()[:100]])
def test_a_bad_proof_is_refused(app, lost, make_customer, upload_dir, proof):
    customer = client_of(app, make_customer())
    files_before = stored_files(upload_dir)
    response = claim(customer, lost["id"], proof=proof)
    assert response.status_code == 422
    assert field_error(response, "claim-proof")
    assert claim_ids(app) == [] and stored_files(upload_dir) == files_before


def test_an_unknown_or_claimed_parcel_cannot_be_claimed(app, lost, make_customer):
    customer = client_of(app, make_customer())
    for unclaimed_id in (999999, 2**31, 2**40):
        assert customer.get(f"/parcels/unclaimed/{unclaimed_id}/claim").status_code == 404
        assert claim(customer, unclaimed_id).status_code == 404
    with app.app_context():
        db.session.get(UnclaimedParcel, lost["id"]).status = "claimed"
        db.session.commit()
    assert customer.get(f"/parcels/unclaimed/{lost['id']}/claim").status_code == 404
    assert claim(customer, lost["id"]).status_code == 404
    assert not soup(customer.get("/parcels/unclaimed?q=5678")).select(
        "[data-testid=unclaimed-match]"
    )


# ---------------------------------------------------------------------------------------------
# The staff queue, approving and rejecting
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def claimed(app, lost, make_customer, make_staff):
    """Two customers claim the lost parcel (the first with a proof); a service agent reviews."""
    first, second = make_customer(), make_customer()
    assert claim(client_of(app, first), lost["id"], proof=png(300, 600)).status_code == 303
    assert claim(client_of(app, second), lost["id"], contents="书").status_code == 303
    agent = make_staff("service")
    first_id, second_id = claim_ids(app)
    return {
        **lost,
        "first": first,
        "second": second,
        "agent": agent,
        "desk": client_of(app, agent),
        "first_claim": first_id,
        "second_claim": second_id,
    }


def test_the_queue_shows_photos_proof_and_customer(app, claimed, make_customer):
    desk = claimed["desk"]
    page = soup(desk.get("/ops/claims"))
    cards = page.select("[data-testid=claim]")
    assert [int(c["data-claim-id"]) for c in cards] == [
        claimed["first_claim"],
        claimed["second_claim"],
    ]
    first = cards[0]
    assert first.find(attrs={"data-testid": "customer-code"}).get_text() == (
        claimed["first"].customer_code
    )
    assert first.find(attrs={"data-testid": "rivals"}) is not None
    assert len(first.select("[data-testid=photo]")) == 2
    proof_url = first.find(attrs={"data-testid": "proof"})["href"]
    proof = desk.get(proof_url)
    assert proof.status_code == 200 and proof.mimetype == "image/jpeg"
    proof.close()
    photo = desk.get(first.select("[data-testid=photo] img")[0]["src"])
    assert photo.status_code == 200
    photo.close()
    assert cards[1].find(attrs={"data-testid": "proof"}) is None
    # The claimant, and any customer, get 404 on the staff URLs.
    for account in (claimed["first"], make_customer()):
        client = client_of(app, account)
        assert client.get(proof_url).status_code == 404
        assert client.get("/ops/claims").status_code == 404
    assert desk.get(f"/ops/claims/{claimed['second_claim']}/proof").status_code == 404
    assert desk.get("/ops/claims/999999/proof").status_code == 404


def approve(client, claim_id: int, htmx: bool = False):
    return client.post(
        f"/ops/claims/{claim_id}/approve",
        data={"csrf_token": csrf_token(client)},
        headers=HTMX if htmx else {},
    )


def reject(client, claim_id: int, reason: str, htmx: bool = False):
    return client.post(
        f"/ops/claims/{claim_id}/reject",
        data={"csrf_token": csrf_token(client), "reason": reason},
        headers=HTMX if htmx else {},
    )


def test_approving_gives_the_parcel_and_rejects_the_rivals(app, claimed):
    response = approve(claimed["desk"], claimed["first_claim"])
    assert response.status_code == 303 and response.headers["Location"] == "/ops/claims"
    with app.app_context():
        found = db.session.get(UnclaimedParcel, claimed["id"])
        parcel = db.session.get(Parcel, found.parcel_id)
        assert found.status == "claimed"
        assert (parcel.customer_id, parcel.tracking_no, parcel.status, parcel.contents) == (
            claimed["first"].id,
            NUMBER,
            "received",
            "两件T恤",
        )
        assert (parcel.weight_g, parcel.length_cm, parcel.width_cm, parcel.height_cm) == (
            800,
            20,
            15,
            10,
        )
        assert parcel.received_at == found.received_at and parcel.courier == "YTO"
        assert sorted((p.image_key, p.thumb_key) for p in parcel.photos) == sorted(
            (p.image_key, p.thumb_key) for p in found.photos
        )
        first = db.session.get(ParcelClaim, claimed["first_claim"])
        second = db.session.get(ParcelClaim, claimed["second_claim"])
        assert (first.status, first.reviewed_by) == ("approved", claimed["agent"].id)
        assert second.status == "rejected" and second.review_reason
        notes = {(n.user_id, n.kind): n.params for n in db.session.scalars(select(Notification))}
        assert notes[(claimed["first"].id, "claim_approved")] == {"tracking_no": NUMBER}
        assert notes[(claimed["second"].id, "claim_rejected")]["reason"] == second.review_reason
        event = db.session.scalar(select(ParcelEvent).where(ParcelEvent.parcel_id == parcel.id))
        assert (event.from_status, event.to_status) == (None, "received")
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "claim.approve"))
        assert (entry.actor_id, entry.entity_id) == (
            claimed["agent"].id,
            str(claimed["first_claim"]),
        )
        assert entry.after["parcel_id"] == parcel.id
        assert entry.after["rejected_claims"] == [claimed["second_claim"]]
        parcel_id = parcel.id
        photo_id = parcel.photos[0].id
    # The new owner sees it in stock with its photos; the other claimant sees the refusal.
    owner = client_of(app, claimed["first"])
    card = soup(owner.get("/parcels/?status=received")).find(id=f"parcel-{parcel_id}")
    assert len(card.select("[data-testid=photo]")) == 2
    photo = owner.get(f"/parcels/{parcel_id}/photos/{photo_id}")
    assert photo.status_code == 200
    photo.close()
    assert soup(owner.get("/parcels/unclaimed")).find(attrs={"data-testid": "my-claim"})[
        "data-status"
    ] == ("approved")
    other = client_of(app, claimed["second"])
    assert other.get(f"/parcels/{parcel_id}/photos/{photo_id}").status_code == 404
    mine = soup(other.get("/parcels/unclaimed")).find(attrs={"data-testid": "my-claim"})
    assert mine["data-status"] == "rejected"
    assert mine.find(attrs={"data-testid": "claim-reason"}) is not None
    assert soup(claimed["desk"].get("/ops/claims")).find(attrs={"data-testid": "claims-empty"})


def test_approving_receives_the_parcel_the_customer_had_registered(app, claimed, make_parcel):
    registered = make_parcel(claimed["first"].id, tracking_no=NUMBER, contents="T恤")
    response = approve(claimed["desk"], claimed["first_claim"], htmx=True)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/ops/claims"
    with app.app_context():
        assert db.session.get(UnclaimedParcel, claimed["id"]).parcel_id == registered
        parcel = db.session.get(Parcel, registered)
        assert (parcel.status, parcel.weight_g, parcel.contents) == ("received", 800, "T恤")
        assert len(parcel.photos) == 2
        assert count(Parcel) == 1
        event = db.session.scalar(select(ParcelEvent).where(ParcelEvent.parcel_id == registered))
        assert (event.from_status, event.to_status) == ("expected", "received")


def test_approving_twice_is_refused_and_changes_nothing(app, claimed):
    assert approve(claimed["desk"], claimed["first_claim"]).status_code == 303
    for claim_id in (claimed["first_claim"], claimed["second_claim"]):
        refused = approve(claimed["desk"], claim_id, htmx=True)
        assert refused.status_code == 409
        assert refused.headers["HX-Retarget"] == "#flash"
    assert approve(claimed["desk"], 999999).status_code == 404
    with app.app_context():
        assert count(Parcel) == 1
        assert count(AuditEntry, AuditEntry.action == "claim.approve") == 1


def test_rejecting_needs_a_reason_and_tells_the_customer(app, claimed):
    desk, claim_id = claimed["desk"], claimed["second_claim"]
    for reason in ("", "   ", "x" * 201, "no\x00"):
        refused = reject(desk, claim_id, reason)
        assert refused.status_code == 422
        assert field_error(refused, f"claim-{claim_id}-reason")
    fragment = reject(desk, claim_id, "", htmx=True)
    assert fragment.status_code == 422
    assert soup(fragment).find().get("id") == f"claim-{claim_id}"
    assert claim_ids(app, status="pending") == [claimed["first_claim"], claim_id]
    response = reject(desk, claim_id, "照片里的包裹与描述不符")
    assert response.status_code == 303
    with app.app_context():
        made = db.session.get(ParcelClaim, claim_id)
        assert (made.status, made.review_reason, made.reviewed_by) == (
            "rejected",
            "照片里的包裹与描述不符",
            claimed["agent"].id,
        )
        (note,) = db.session.scalars(
            select(Notification).where(Notification.kind == "claim_rejected")
        ).all()
        assert note.user_id == claimed["second"].id
        assert note.params == {"tracking_no": NUMBER, "reason": "照片里的包裹与描述不符"}
        (entry,) = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "claim.reject")
        ).all()
        assert (entry.before, entry.after, entry.reason) == (
            {"status": "pending"},
            {"status": "rejected"},
            "照片里的包裹与描述不符",
        )
        assert db.session.get(UnclaimedParcel, claimed["id"]).status == "unclaimed"
    assert reject(desk, claim_id, "again").status_code == 409
    assert reject(desk, 999999, "why").status_code == 404


def test_warehouse_may_review_claims_finance_may_not(app, claimed, make_staff):
    finance = client_of(app, make_staff("finance"))
    assert finance.get("/ops/claims").status_code == 403
    assert approve(finance, claimed["first_claim"]).status_code == 403
    warehouse = client_of(app, make_staff("warehouse"))
    assert approve(warehouse, claimed["first_claim"]).status_code == 303


def split(results):
    assert None not in results, results
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, DomainError) for e in losses), [repr(e) for e in losses]
    return wins, losses


def test_two_approvals_of_one_claim_at_once_one_wins(app, claimed):
    def work(_i: int):
        parcel = claims.approve_claim(user(claimed["agent"]), claimed["first_claim"])
        db.session.commit()
        return parcel.id

    wins, losses = split(run_together(app, 2, work))
    assert len(wins) == 1 and len(losses) == 1
    assert isinstance(losses[0], ClaimClosed)
    with app.app_context():
        assert count(Parcel) == 1
        assert count(ParcelPhoto) == 2
        assert count(Notification, Notification.kind == "claim_approved") == 1


def test_approving_rival_claims_at_once_gives_the_parcel_once(app, claimed):
    rival_claims = [claimed["first_claim"], claimed["second_claim"]]

    def work(i: int):
        parcel = claims.approve_claim(user(claimed["agent"]), rival_claims[i])
        db.session.commit()
        return parcel.customer_id

    wins, losses = split(run_together(app, 2, work))
    assert len(wins) == 1 and len(losses) == 1
    with app.app_context():
        assert count(Parcel) == 1
        statuses = sorted(db.session.scalars(select(ParcelClaim.status)))
        assert statuses == ["approved", "rejected"]
        found = db.session.get(UnclaimedParcel, claimed["id"])
        assert db.session.get(Parcel, found.parcel_id).customer_id == wins[0]


def test_a_rejection_racing_an_approval_never_leaves_both(app, claimed):
    def work(i: int):
        if i == 0:
            claims.approve_claim(user(claimed["agent"]), claimed["first_claim"])
        else:
            claims.reject_claim(user(claimed["agent"]), claimed["first_claim"], "不像")
        db.session.commit()
        return i

    wins, _losses = split(run_together(app, 2, work))
    assert len(wins) == 1
    with app.app_context():
        first = db.session.get(ParcelClaim, claimed["first_claim"])
        found = db.session.get(UnclaimedParcel, claimed["id"])
        if wins == [0]:
            assert (first.status, found.status) == ("approved", "claimed")
        else:
            assert (first.status, found.status, found.parcel_id) == ("rejected", "unclaimed", None)


def test_a_parcel_from_a_claim_is_kept_when_its_owner_tries_to_delete_it(app, claimed):
    """It shares its photo files with the unclaimed record, which must keep pointing at it."""
    assert approve(claimed["desk"], claimed["first_claim"]).status_code == 303
    with app.app_context():
        found = db.session.get(UnclaimedParcel, claimed["id"])
        parcel_id = found.parcel_id
        files = [storage.open_path(p.image_key) for p in found.photos]
    owner = client_of(app, claimed["first"])
    response = owner.post(
        f"/parcels/{parcel_id}/delete", data={"csrf_token": csrf_token(owner), "confirm": "y"}
    )
    assert response.status_code == 409
    assert "认领" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Parcel, parcel_id) is not None
        assert db.session.get(UnclaimedParcel, claimed["id"]).parcel_id == parcel_id
    assert all(path.exists() for path in files)
