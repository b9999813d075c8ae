"""Unclaimed parcels (无主件): recording a parcel no customer registered, the staff list, and
the customers' search that shows only the part of a number they already know."""

import math
import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Parcel, ParcelClaim, UnclaimedParcel, UnclaimedParcelPhoto, User
from portal.models import base as model_base
from portal.models.base import is_id
from portal.services import audit, couriers, images
from portal.services.errors import DomainError, ValidationFailed
from portal.services.intake import MAX_PHOTOS, PHOTO_REQUIRED, Measurements

PER_PAGE = 50
MAX_SEARCH = 60
MIN_CUSTOMER_SEARCH = 4
CUSTOMER_RESULTS = 20
MASK = "****"
_SEARCHABLE = re.compile(r"[A-Z0-9]+")

REGISTERED = _l(
    "A customer has registered this number: scan it again and receive it as their parcel."
)
ALREADY_RECORDED = _l("This number is already recorded as an unclaimed parcel.")


class UnclaimedNotFound(DomainError):
    """No such unclaimed parcel (or, for customers, none that can still be claimed)."""

    def __init__(self):
        super().__init__(_l("We could not find that unclaimed parcel."))


def _is_registered(tracking_no: str) -> bool:
    return (
        db.session.scalar(select(Parcel.id).where(Parcel.tracking_no == tracking_no).limit(1))
        is not None
    )


def _is_waiting(tracking_no: str) -> bool:
    return (
        db.session.scalar(
            select(UnclaimedParcel.id)
            .where(
                UnclaimedParcel.tracking_no == tracking_no, UnclaimedParcel.status == "unclaimed"
            )
            .limit(1)
        )
        is not None
    )


def _lock_number(tracking_no: str) -> None:
    """Serialise recordings of one number (SQLite writers are serialised already)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('unclaimed:' || :number))"),
            {"number": tracking_no},
        )


def record_unclaimed(
    actor: User, tracking_no: str, measurements: Measurements, photos: list[bytes]
) -> UnclaimedParcel:
    """Record a parcel whose (normalised) number no customer registered, with its photos.

    Raises ValidationFailed: tracking_no when a customer registered the number or it waits
    unclaimed already (a second scan); photos when none or a bad one is given.
    """
    _lock_number(tracking_no)
    if _is_registered(tracking_no):
        raise ValidationFailed(REGISTERED, "tracking_no")
    if _is_waiting(tracking_no):
        raise ValidationFailed(ALREADY_RECORDED, "tracking_no")
    if not photos:
        raise ValidationFailed(PHOTO_REQUIRED, "photos")
    stored = images.store_images(photos, "photos", limit=MAX_PHOTOS)
    try:
        unclaimed = UnclaimedParcel(
            tracking_no=tracking_no,
            courier=couriers.guess_courier(tracking_no) or "",
            status="unclaimed",
            received_by=actor.id,
            received_at=model_base.utcnow(),
            **measurements.as_dict(),
        )
        unclaimed.photos = [
            UnclaimedParcelPhoto(image_key=s.image_key, thumb_key=s.thumb_key) for s in stored
        ]
        db.session.add(unclaimed)
        db.session.flush()
        audit.record(
            actor,
            "unclaimed.record",
            "unclaimed_parcel",
            unclaimed.id,
            None,
            {
                "tracking_no": tracking_no,
                "status": "unclaimed",
                **measurements.as_dict(),
                "photos": len(stored),
            },
        )
    except BaseException:
        images.discard(stored)
        raise
    return unclaimed


def get_unclaimed(unclaimed_id: int, waiting_only: bool = False) -> UnclaimedParcel:
    """An unclaimed parcel (only one still unclaimed if asked); raises UnclaimedNotFound."""
    found = db.session.get(UnclaimedParcel, unclaimed_id) if is_id(unclaimed_id) else None
    if found is None or (waiting_only and found.status != "unclaimed"):
        raise UnclaimedNotFound()
    return found


def get_photo(unclaimed_id: int, photo_id: int) -> UnclaimedParcelPhoto:
    """A photo of an unclaimed parcel, for staff; raises UnclaimedNotFound."""
    if not (is_id(unclaimed_id) and is_id(photo_id)):
        raise UnclaimedNotFound()
    photo = db.session.scalar(
        select(UnclaimedParcelPhoto).where(
            UnclaimedParcelPhoto.id == photo_id, UnclaimedParcelPhoto.unclaimed_id == unclaimed_id
        )
    )
    if photo is None:
        raise UnclaimedNotFound()
    return photo


# ---------------------------------------------------------------------------------------------
# The staff list
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnclaimedQuery:
    status: str = ""
    q: str = ""
    page: int = 1


@dataclass(frozen=True)
class UnclaimedRow:
    unclaimed: UnclaimedParcel
    owner_code: str  # the customer whose parcel it became, once claimed
    pending_claims: int


@dataclass(frozen=True)
class UnclaimedPage:
    rows: list[UnclaimedRow]
    page: int
    pages: int
    total: int


def _number_filter(q: str) -> list:
    """Numbers containing the search; a search that no number can contain finds nothing."""
    if not q:
        return []
    number = couriers.normalise_tracking_no(q).upper()
    if not _SEARCHABLE.fullmatch(number):
        return [UnclaimedParcel.id.is_(None)]
    return [UnclaimedParcel.tracking_no.contains(number, autoescape=True)]


def find_unclaimed(query: UnclaimedQuery) -> UnclaimedPage:
    """One page of unclaimed parcels, newest first, with photos, owner and open claims."""
    conditions = _number_filter(query.q)
    if query.status:
        conditions.append(UnclaimedParcel.status == query.status)
    total = db.session.scalar(select(func.count()).select_from(UnclaimedParcel).where(*conditions))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(query.page, pages)
    pending = (
        select(func.count())
        .where(ParcelClaim.unclaimed_id == UnclaimedParcel.id, ParcelClaim.status == "pending")
        .correlate(UnclaimedParcel)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(UnclaimedParcel, User.customer_code, pending)
        .outerjoin(Parcel, Parcel.id == UnclaimedParcel.parcel_id)
        .outerjoin(User, User.id == Parcel.customer_id)
        .where(*conditions)
        .options(selectinload(UnclaimedParcel.photos))
        .order_by(UnclaimedParcel.received_at.desc(), UnclaimedParcel.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return UnclaimedPage(
        [UnclaimedRow(u, code or "", count) for u, code, count in rows], page, pages, total
    )


# ---------------------------------------------------------------------------------------------
# The customers' search
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskedMatch:
    """What a customer may see of an unclaimed parcel: the part of the number they typed."""

    id: int
    masked_no: str
    received_at: datetime
    weight_g: int


def mask(number: str, part: str) -> str:
    """The number with everything but the first occurrence of `part` hidden: "****5678****".

    The masks do not say how many characters they hide.
    """
    start = number.find(part)
    if start < 0:
        return MASK
    before = MASK if start > 0 else ""
    after = MASK if start + len(part) < len(number) else ""
    return before + part + after


def customer_search_term(raw: str | None) -> str:
    """The part of a number a customer searches for, normalised; raises ValidationFailed (q)
    when it is shorter than 4 characters, too long or not letters and digits."""
    value = (raw or "").strip()
    if len(value) > MAX_SEARCH:
        raise ValidationFailed(_l("Search for at most %(n)s characters.", n=MAX_SEARCH), "q")
    number = couriers.normalise_tracking_no(value).upper()
    if not _SEARCHABLE.fullmatch(number):
        raise ValidationFailed(_l("Enter letters and digits of the tracking number only."), "q")
    if len(number) < MIN_CUSTOMER_SEARCH:
        raise ValidationFailed(
            _l("Enter at least %(n)s characters of the tracking number.", n=MIN_CUSTOMER_SEARCH),
            "q",
        )
    return number


def search_for_customer(term: str) -> list[MaskedMatch]:
    """Unclaimed parcels whose number contains the term, newest first, masked (no photos)."""
    rows = db.session.execute(
        select(
            UnclaimedParcel.id,
            UnclaimedParcel.tracking_no,
            UnclaimedParcel.received_at,
            UnclaimedParcel.weight_g,
        )
        .where(
            UnclaimedParcel.status == "unclaimed",
            UnclaimedParcel.tracking_no.contains(term, autoescape=True),
        )
        .order_by(UnclaimedParcel.received_at.desc(), UnclaimedParcel.id.desc())
        .limit(CUSTOMER_RESULTS)
    ).all()
    return [
        MaskedMatch(row.id, mask(row.tracking_no, term), row.received_at, row.weight_g)
        for row in rows
    ]
