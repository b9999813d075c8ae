"""The intake desk (入库): reading a scanned number, checking what staff measured, finding the
parcels a number names, and receiving a registered parcel (weighed, measured, photographed)."""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.i18n import format_kg
from portal.models import Parcel, ParcelEvent, ParcelPhoto, UnclaimedParcel, User
from portal.models import base as model_base
from portal.models.base import is_id
from portal.services import audit, couriers, images, notifications, rate_cards
from portal.services.errors import DomainError, FieldErrors, ValidationFailed
from portal.services.parcel_fields import InvalidFields, parse_parcel
from portal.services.parcels import ParcelNotFound
from portal.services.text import has_control_characters

MAX_WEIGHT_G = 100_000
MAX_SIDE_CM = 300
MAX_CONDITION = 200
MAX_PHOTOS = 6
SIDES = ("length", "width", "height")
# A parcel is received once; its owner may have put it in an order before it arrived.
RECEIVABLE_STATES = ("expected", "consolidated")
# The reasons of the parcel events that put a parcel in stock: the desk, or an approved claim.
INTAKE_REASON = "intake"
CLAIM_REASON = "claim approved"
RECEIPT_REASONS = (INTAKE_REASON, CLAIM_REASON)
PER_PAGE = 50
MAX_SEARCH = 60
_SEARCHABLE = re.compile(r"[A-Z0-9]+")
# Kilograms with at most 3 decimals, plain ASCII: no sign, exponent or separators.
_KG = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")
_CM = re.compile(r"[0-9]{1,3}")

PHOTO_REQUIRED = _l("Add at least one photo of the parcel.")


class InvalidMeasurements(FieldErrors):
    """Some measured values are not acceptable."""


class AlreadyReceived(DomainError):
    """The parcel is in stock already: another desk received it meanwhile."""

    def __init__(self):
        super().__init__(
            _l("This parcel has just been received by someone else; nothing was changed.")
        )


@dataclass(frozen=True)
class Measurements:
    """What the desk measured: weight in grams, sides in cm (all three or none), a note."""

    weight_g: int
    length_cm: int | None = None
    width_cm: int | None = None
    height_cm: int | None = None
    condition_note: str = ""

    def as_dict(self) -> dict:
        return {
            "weight_g": self.weight_g,
            "length_cm": self.length_cm,
            "width_cm": self.width_cm,
            "height_cm": self.height_cm,
            "condition_note": self.condition_note,
        }


def parse_tracking_no(raw: object) -> str:
    """A scanned number, normalised exactly as a customer's registration is; raises
    ValidationFailed (tracking_no) when it is empty, too long or has other characters."""
    try:
        return parse_parcel({"tracking_no": raw}).tracking_no
    except InvalidFields as err:
        raise ValidationFailed(err.errors["tracking_no"], "tracking_no") from None


def _text(values: Mapping[str, object], name: str) -> str:
    raw = values.get(name)
    return raw.strip() if isinstance(raw, str) else ""


def _weight(value: str, errors: dict) -> int:
    grams = int(Decimal(value) * 1000) if _KG.fullmatch(value) else 0
    if not 1 <= grams <= MAX_WEIGHT_G:
        errors["weight"] = _l(
            "Enter the weight in kg, from 0.001 to 100, with at most 3 decimals, e.g. 1.25."
        )
    return grams


def _sides(values: Mapping[str, object], errors: dict) -> dict[str, int | None]:
    given = {side: _text(values, side) for side in SIDES}
    if not any(given.values()):
        return dict.fromkeys(SIDES)
    sides: dict[str, int | None] = {}
    for side, value in given.items():
        if not value:
            errors[side] = _l("Enter all three sides, or none.")
        elif not _CM.fullmatch(value) or not 1 <= int(value) <= MAX_SIDE_CM:
            errors[side] = _l("Enter whole centimetres from 1 to 300.")
        sides[side] = int(value) if side not in errors else None
    return sides


def parse_measurements(values: Mapping[str, object]) -> Measurements:
    """Check the desk's fields: weight (kg), length/width/height (cm), condition_note.

    Raises InvalidMeasurements naming every bad field.
    """
    errors: dict[str, object] = {}
    weight_g = _weight(_text(values, "weight"), errors)
    sides = _sides(values, errors)
    note = _text(values, "condition_note")
    if has_control_characters(note):
        errors["condition_note"] = _l("Remove the line breaks and control characters.")
    elif len(note) > MAX_CONDITION:
        errors["condition_note"] = _l("At most %(n)s characters.", n=MAX_CONDITION)
    if errors:
        raise InvalidMeasurements(errors)
    return Measurements(
        weight_g=weight_g,
        length_cm=sides["length"],
        width_cm=sides["width"],
        height_cm=sides["height"],
        condition_note=note,
    )


@dataclass(frozen=True)
class Match:
    """A registered parcel with a scanned number, its owner's code, and who received it."""

    parcel: Parcel
    customer_code: str
    received_by: str = ""


@dataclass(frozen=True)
class Scan:
    """Everything the desk knows about a number: registrations, and unclaimed parcels."""

    tracking_no: str
    matches: list[Match]
    unclaimed: list[UnclaimedParcel]

    @property
    def receivable(self) -> list[Match]:
        return [m for m in self.matches if is_receivable(m.parcel)]


def _receivers(parcel_ids: list[int]) -> dict[int, str]:
    """Who received each parcel (the staff member of its latest receipt event)."""
    if not parcel_ids:
        return {}
    rows = db.session.execute(
        select(ParcelEvent.parcel_id, User)
        .join(User, User.id == ParcelEvent.actor_id)
        .where(ParcelEvent.parcel_id.in_(parcel_ids), ParcelEvent.reason.in_(RECEIPT_REASONS))
        .order_by(ParcelEvent.id)
    ).all()
    return {parcel_id: user.login_name for parcel_id, user in rows}


def lookup(tracking_no: str) -> Scan:
    """The parcels registered under a (normalised) number, with their owners, oldest first,
    and the unclaimed parcels recorded under it."""
    rows = db.session.execute(
        select(Parcel, User.customer_code)
        .join(User, User.id == Parcel.customer_id)
        .where(Parcel.tracking_no == tracking_no)
        .order_by(Parcel.id)
    ).all()
    receivers = _receivers([parcel.id for parcel, _code in rows if parcel.received_at])
    unclaimed = db.session.scalars(
        select(UnclaimedParcel)
        .where(UnclaimedParcel.tracking_no == tracking_no)
        .order_by(UnclaimedParcel.id)
    ).all()
    matches = [Match(parcel, code, receivers.get(parcel.id, "")) for parcel, code in rows]
    return Scan(tracking_no, matches, list(unclaimed))


def find_parcel(parcel_id: int) -> Parcel:
    """Any customer's parcel, for staff; raises ParcelNotFound."""
    parcel = db.session.get(Parcel, parcel_id) if is_id(parcel_id) else None
    if parcel is None:
        raise ParcelNotFound()
    return parcel


def receive_parcel(
    actor: User, parcel_id: int, measurements: Measurements, photos: list[bytes]
) -> Parcel:
    """Receive a parcel not yet in stock: measurements, photos, event, notice to its owner,
    audit. An expected parcel becomes received; one already ordered (consolidated) stays in
    its order, now in stock.

    A compare-and-set on "not received yet": of two desks receiving the same parcel one wins,
    the other gets AlreadyReceived and its stored photos are removed. Raises ParcelNotFound,
    AlreadyReceived or ValidationFailed (photos).
    """
    parcel = find_parcel(parcel_id)
    if not is_receivable(parcel):
        raise AlreadyReceived()
    if not photos:
        raise ValidationFailed(PHOTO_REQUIRED, "photos")
    stored = images.store_images(photos, "photos", limit=MAX_PHOTOS)
    try:
        now = model_base.utcnow()
        result = db.session.execute(
            update(Parcel)
            .where(
                Parcel.id == parcel.id,
                Parcel.status.in_(RECEIVABLE_STATES),
                Parcel.received_at.is_(None),
            )
            .values(
                status=case((Parcel.status == "expected", "received"), else_=Parcel.status),
                received_at=now,
                updated_at=now,
                **measurements.as_dict(),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise AlreadyReceived()
        db.session.refresh(parcel)
        db.session.add_all(
            ParcelPhoto(parcel_id=parcel.id, image_key=s.image_key, thumb_key=s.thumb_key)
            for s in stored
        )
        before = "expected" if parcel.status == "received" else parcel.status
        db.session.add(
            ParcelEvent(
                parcel_id=parcel.id,
                actor_id=actor.id,
                from_status=before,
                to_status=parcel.status,
                reason=INTAKE_REASON,
            )
        )
        notifications.notify(
            parcel.customer_id,
            notifications.PARCEL_RECEIVED,
            "/parcels/?status=received",
            tracking_no=parcel.tracking_no,
            weight=format_kg(measurements.weight_g),
        )
        audit.record(
            actor,
            "parcel.receive",
            "parcel",
            parcel.id,
            {"status": before, "received_at": None},
            {
                "status": parcel.status,
                "received_at": now.isoformat(),
                **measurements.as_dict(),
                "photos": len(stored),
            },
        )
    except BaseException:
        images.discard(stored)
        raise
    return parcel


def is_receivable(parcel: Parcel) -> bool:
    """Not in stock yet: expected, or already put in an order by its owner."""
    return parcel.received_at is None and parcel.status in RECEIVABLE_STATES


def get_photo(parcel_id: int, photo_id: int) -> ParcelPhoto:
    """An intake photo of any parcel, for staff; raises ParcelNotFound."""
    if not (is_id(parcel_id) and is_id(photo_id)):
        raise ParcelNotFound()
    photo = db.session.scalar(
        select(ParcelPhoto).where(ParcelPhoto.id == photo_id, ParcelPhoto.parcel_id == parcel_id)
    )
    if photo is None:
        raise ParcelNotFound()
    return photo


# ---------------------------------------------------------------------------------------------
# The staff list of parcels across customers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParcelQuery:
    """Filters of the staff list: a status, received today (Beijing day), number or code."""

    status: str = ""
    received_today: bool = False
    q: str = ""
    page: int = 1


@dataclass(frozen=True)
class ParcelPage:
    rows: list[tuple[Parcel, str]]  # each parcel with its owner's customer code
    page: int
    pages: int
    total: int


def _today_range() -> tuple[datetime, datetime]:
    start = datetime.combine(rate_cards.business_today(), time.min, rate_cards.BUSINESS_ZONE)
    return start, start + timedelta(days=1)


def _search(q: str) -> list:
    if not q:
        return []
    conditions = [User.customer_code == q.upper()]
    number = couriers.normalise_tracking_no(q).upper()
    if _SEARCHABLE.fullmatch(number):
        conditions.append(Parcel.tracking_no.contains(number, autoescape=True))
    return [or_(*conditions)]


def find_parcels(query: ParcelQuery) -> ParcelPage:
    """One page of parcels of every customer, newest first (newest received when filtering
    received parcels), with their photos and owners' codes loaded."""
    conditions = _search(query.q)
    if query.status:
        conditions.append(Parcel.status == query.status)
    if query.received_today:
        start, end = _today_range()
        conditions += [Parcel.received_at >= start, Parcel.received_at < end]
    base = select(Parcel, User.customer_code).join(User, User.id == Parcel.customer_id)
    total = db.session.scalar(select(func.count()).select_from(base.where(*conditions).subquery()))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(query.page, pages)
    newest = (
        (Parcel.received_at.desc(), Parcel.id.desc())
        if query.received_today or query.status == "received"
        else (Parcel.created_at.desc(), Parcel.id.desc())
    )
    rows = db.session.execute(
        base.where(*conditions)
        .options(selectinload(Parcel.photos))
        .order_by(*newest)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return ParcelPage([(parcel, code) for parcel, code in rows], page, pages, total)
