"""Claims on unclaimed parcels: a customer claims one with its whole number and proof; staff
approve (the parcel becomes the customer's, received) or reject with a reason."""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Parcel,
    ParcelClaim,
    ParcelEvent,
    ParcelPhoto,
    UnclaimedParcel,
    User,
)
from portal.models import base as model_base
from portal.models.base import is_id
from portal.services import audit, images, notifications, storage
from portal.services.errors import DomainError, FieldErrors, ValidationFailed
from portal.services.intake import CLAIM_REASON, parse_tracking_no
from portal.services.text import has_control_characters
from portal.services.unclaimed import get_unclaimed

PER_PAGE = 50
MAX_CONTENTS = 100
MAX_REASON = 200
CUSTOMER_CLAIMS = 50
PARCELS_LINK = "/parcels/?status=received"
CLAIMS_LINK = "/parcels/unclaimed"

ALREADY_CLAIMED = _l("You have already claimed this parcel; we are checking your claim.")
NOT_MATCHING = _l("This tracking number does not match the parcel.")
OTHER_OWNER = _l("Another customer has proved that this parcel is theirs.")


class InvalidClaim(FieldErrors):
    """Some fields of a claim are not acceptable."""


class ClaimNotFound(DomainError):
    def __init__(self):
        super().__init__(_l("We could not find that claim."))


class ClaimClosed(DomainError):
    """The claim or its parcel was decided meanwhile; nothing was changed."""


def _line(raw: object, field: str, limit: int, required, errors: dict) -> str:
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        errors[field] = required
    elif has_control_characters(value):
        errors[field] = _l("Remove the line breaks and control characters.")
    elif len(value) > limit:
        errors[field] = _l("At most %(n)s characters.", n=limit)
    return value


def _has_open_claim(customer_id: int, unclaimed_id: int) -> bool:
    return (
        db.session.scalar(
            select(ParcelClaim.id).where(
                ParcelClaim.customer_id == customer_id,
                ParcelClaim.unclaimed_id == unclaimed_id,
                ParcelClaim.status == "pending",
            )
        )
        is not None
    )


def submit_claim(
    customer: User, unclaimed_id: int, values: Mapping[str, object], proof: bytes | None
) -> ParcelClaim:
    """Claim an unclaimed parcel: `values` has tracking_no (the whole number, which must match)
    and contents; `proof` is an optional screenshot. Raises UnclaimedNotFound, InvalidClaim
    (every bad field) or ValidationFailed (an open claim already, a bad proof image)."""
    unclaimed = get_unclaimed(unclaimed_id, waiting_only=True)
    errors: dict[str, object] = {}
    try:
        number = parse_tracking_no(values.get("tracking_no"))
    except ValidationFailed as err:
        errors["tracking_no"] = err.message
    else:
        if number != unclaimed.tracking_no:
            errors["tracking_no"] = NOT_MATCHING
    contents = _line(
        values.get("contents"),
        "contents",
        MAX_CONTENTS,
        _l("Say what is inside the parcel."),
        errors,
    )
    if errors:
        raise InvalidClaim(errors)
    if _has_open_claim(customer.id, unclaimed.id):
        raise ValidationFailed(ALREADY_CLAIMED)
    stored = images.store_image(proof, "proof") if proof else None
    claim = ParcelClaim(
        unclaimed_id=unclaimed.id,
        customer_id=customer.id,
        status="pending",
        tracking_no=unclaimed.tracking_no,
        contents=contents,
        proof_key=stored.image_key if stored else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(claim)
            db.session.flush()
    except IntegrityError:
        # The same claim sent twice at once (a double tap): the partial unique index refused it.
        images.discard([stored] if stored else [])
        raise ValidationFailed(ALREADY_CLAIMED) from None
    if stored:
        storage.delete(stored.thumb_key)
    return claim


def customer_claims(customer: User) -> list[ParcelClaim]:
    """The customer's latest claims, newest first, with their parcels."""
    return list(
        db.session.scalars(
            select(ParcelClaim)
            .where(ParcelClaim.customer_id == customer.id)
            .options(selectinload(ParcelClaim.unclaimed))
            .order_by(ParcelClaim.created_at.desc(), ParcelClaim.id.desc())
            .limit(CUSTOMER_CLAIMS)
        )
    )


# ---------------------------------------------------------------------------------------------
# Staff: the queue, approving, rejecting
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimRow:
    claim: ParcelClaim
    customer_code: str
    rivals: int  # other open claims on the same parcel


@dataclass(frozen=True)
class ClaimPage:
    rows: list[ClaimRow]
    page: int
    pages: int
    total: int


def _rows(*conditions) -> list[ClaimRow]:
    rival = ParcelClaim.__table__.alias("rival")
    rivals = (
        select(func.count())
        .select_from(rival)
        .where(
            rival.c.unclaimed_id == ParcelClaim.unclaimed_id,
            rival.c.status == "pending",
            rival.c.id != ParcelClaim.id,
        )
        .correlate(ParcelClaim)
        .scalar_subquery()
    )
    return [
        ClaimRow(claim, code, count)
        for claim, code, count in db.session.execute(
            select(ParcelClaim, User.customer_code, rivals)
            .join(User, User.id == ParcelClaim.customer_id)
            .where(ParcelClaim.status == "pending", *conditions)
            .options(selectinload(ParcelClaim.unclaimed).selectinload(UnclaimedParcel.photos))
            .order_by(ParcelClaim.created_at, ParcelClaim.id)
        )
    ]


def pending_claims(page: int = 1) -> ClaimPage:
    """One page of open claims, oldest first, with their parcels, photos and customers."""
    total = db.session.scalar(
        select(func.count()).select_from(ParcelClaim).where(ParcelClaim.status == "pending")
    )
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(page, pages)
    window = ParcelClaim.id.in_(
        select(ParcelClaim.id)
        .where(ParcelClaim.status == "pending")
        .order_by(ParcelClaim.created_at, ParcelClaim.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    return ClaimPage(_rows(window), page, pages, total)


def pending_row(claim_id: int) -> ClaimRow | None:
    """One open claim as the queue shows it, or None once it is decided."""
    rows = _rows(ParcelClaim.id == claim_id) if is_id(claim_id) else []
    return rows[0] if rows else None


def get_claim(claim_id: int) -> ParcelClaim:
    """Any claim, for staff; raises ClaimNotFound."""
    claim = db.session.get(ParcelClaim, claim_id) if is_id(claim_id) else None
    if claim is None:
        raise ClaimNotFound()
    return claim


def _decide(claim_id: int, status: str, actor: User, reason: str) -> None:
    """Compare-and-set a claim from pending to `status`; raises ClaimClosed when it moved on."""
    result = db.session.execute(
        update(ParcelClaim)
        .where(ParcelClaim.id == claim_id, ParcelClaim.status == "pending")
        .values(
            status=status,
            review_reason=reason,
            reviewed_by=actor.id,
            reviewed_at=model_base.utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ClaimClosed(_l("This claim has already been decided; nothing was changed."))


def _in_language_of(customer_id: int, message) -> str:
    """A message as stored text, in the customer's language (it is shown to them later)."""
    locale = db.session.scalar(select(User.locale).where(User.id == customer_id))
    languages = current_app.config["LANGUAGES"]
    with force_locale(
        locale if locale in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
    ):
        return str(message)


def _customers_parcel(claim: ParcelClaim, unclaimed: UnclaimedParcel) -> tuple[Parcel, bool]:
    """The customer's parcel the claimed one becomes, and whether they had registered it: their
    expected parcel with that number (received now), else a new received parcel. Raises
    ClaimClosed if theirs is already in stock."""
    measured = {
        "weight_g": unclaimed.weight_g,
        "length_cm": unclaimed.length_cm,
        "width_cm": unclaimed.width_cm,
        "height_cm": unclaimed.height_cm,
        "condition_note": unclaimed.condition_note,
        "received_at": unclaimed.received_at,
    }
    registered = db.session.scalar(
        select(Parcel).where(
            Parcel.customer_id == claim.customer_id, Parcel.tracking_no == unclaimed.tracking_no
        )
    )
    if registered is not None:
        result = db.session.execute(
            update(Parcel)
            .where(Parcel.id == registered.id, Parcel.status == "expected")
            .values(status="received", updated_at=model_base.utcnow(), **measured)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise ClaimClosed(
                _l("The customer's parcel with this number is already in stock; check the claim.")
            )
        db.session.refresh(registered)
        return registered, True
    shared = db.session.scalar(
        select(Parcel.id).where(Parcel.tracking_no == unclaimed.tracking_no).limit(1)
    )
    parcel = Parcel(
        customer_id=claim.customer_id,
        tracking_no=unclaimed.tracking_no,
        courier=unclaimed.courier,
        contents=claim.contents,
        status="received",
        shared_tracking_no=shared is not None,
        **measured,
    )
    try:
        with db.session.begin_nested():
            db.session.add(parcel)
            db.session.flush()
    except IntegrityError:
        # The customer registered the number this very moment: approving again will find it.
        raise ClaimClosed(
            _l("The customer has just registered this number; please try again.")
        ) from None
    return parcel, False


def approve_claim(actor: User, claim_id: int) -> Parcel:
    """Give an unclaimed parcel to the claiming customer, as received with its measurements and
    photos; the other open claims on it are rejected, every claimant is told, and it is audited.

    A compare-and-set on the unclaimed parcel (unclaimed -> claimed): of two approvals at once,
    on the same claim or on rival claims, one wins. Raises ClaimNotFound or ClaimClosed.
    """
    claim = get_claim(claim_id)
    if claim.status != "pending":
        raise ClaimClosed(_l("This claim has already been decided; nothing was changed."))
    moved = db.session.execute(
        update(UnclaimedParcel)
        .where(UnclaimedParcel.id == claim.unclaimed_id, UnclaimedParcel.status == "unclaimed")
        .values(status="claimed", updated_at=model_base.utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise ClaimClosed(_l("This parcel has already been given to a customer."))
    _decide(claim.id, "approved", actor, "")
    unclaimed = db.session.get(UnclaimedParcel, claim.unclaimed_id)
    db.session.refresh(unclaimed)
    parcel, registered = _customers_parcel(claim, unclaimed)
    unclaimed.parcel_id = parcel.id
    db.session.add_all(
        ParcelPhoto(parcel_id=parcel.id, image_key=p.image_key, thumb_key=p.thumb_key)
        for p in unclaimed.photos
    )
    db.session.add(
        ParcelEvent(
            parcel_id=parcel.id,
            actor_id=actor.id,
            from_status="expected" if registered else None,
            to_status="received",
            reason=CLAIM_REASON,
        )
    )
    notifications.notify(
        claim.customer_id,
        notifications.CLAIM_APPROVED,
        PARCELS_LINK,
        tracking_no=unclaimed.tracking_no,
    )
    rejected = _reject_rivals(actor, claim)
    audit.record(
        actor,
        "claim.approve",
        "parcel_claim",
        claim.id,
        {"status": "pending", "unclaimed": "unclaimed"},
        {
            "status": "approved",
            "unclaimed": "claimed",
            "parcel_id": parcel.id,
            "rejected_claims": rejected,
        },
    )
    db.session.flush()
    return parcel


def _reject_rivals(actor: User, approved: ParcelClaim) -> list[int]:
    """Reject the other open claims on the approved claim's parcel and tell their customers."""
    rivals = db.session.execute(
        select(ParcelClaim.id, ParcelClaim.customer_id, ParcelClaim.tracking_no)
        .where(
            ParcelClaim.unclaimed_id == approved.unclaimed_id,
            ParcelClaim.status == "pending",
            ParcelClaim.id != approved.id,
        )
        .order_by(ParcelClaim.id)
    ).all()
    rejected = []
    for claim_id, customer_id, tracking_no in rivals:
        reason = _in_language_of(customer_id, OTHER_OWNER)
        try:
            _decide(claim_id, "rejected", actor, reason)
        except ClaimClosed:
            continue  # rejected by hand a moment ago
        notifications.notify(
            customer_id,
            notifications.CLAIM_REJECTED,
            CLAIMS_LINK,
            tracking_no=tracking_no,
            reason=reason,
        )
        rejected.append(claim_id)
    return rejected


def reject_claim(actor: User, claim_id: int, reason: object) -> ParcelClaim:
    """Reject an open claim with a reason the customer is told; audited. Raises ClaimNotFound,
    ValidationFailed (reason) or ClaimClosed (decided meanwhile)."""
    claim = get_claim(claim_id)
    errors: dict[str, object] = {}
    text = _line(reason, "reason", MAX_REASON, _l("Give the customer a reason."), errors)
    if errors:
        raise ValidationFailed(errors["reason"], "reason")
    _decide(claim.id, "rejected", actor, text)
    notifications.notify(
        claim.customer_id,
        notifications.CLAIM_REJECTED,
        CLAIMS_LINK,
        tracking_no=claim.tracking_no,
        reason=text,
    )
    audit.record(
        actor,
        "claim.reject",
        "parcel_claim",
        claim.id,
        {"status": "pending"},
        {"status": "rejected"},
        text,
    )
    db.session.refresh(claim)
    return claim


def proof_key(claim_id: int) -> str:
    """The stored proof of a claim, for staff; raises ClaimNotFound when there is none."""
    claim = get_claim(claim_id)
    if not claim.proof_key:
        raise ClaimNotFound()
    return claim.proof_key
