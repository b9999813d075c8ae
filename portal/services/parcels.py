"""Parcels a customer registers (包裹登记 / 预报): registering one or many, editing and deleting
parcels not bound to an order, and finding one of them or its photos."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import OrderParcel, Parcel, ParcelEvent, ParcelPhoto, UnclaimedParcel, User
from portal.models import base as model_base
from portal.models.base import is_id
from portal.services.errors import DomainError, ValidationFailed
from portal.services.parcel_fields import (
    EXTRA_COLUMNS,
    TOO_MANY_COLUMNS,
    InvalidFields,
    ParcelInput,
    parse_parcel,
)

UNBOUND_STATES = ("expected", "received")
MAX_BULK_ROWS = 500

DUPLICATE = _l("You have already registered this tracking number.")
LOCKED = _l(
    "This parcel is in an order and can no longer be changed here. "
    "Please contact us if something needs to change."
)
FROM_CLAIM = _l(
    "This parcel came to you through a claim, so it is kept for the record. "
    "Please contact us if it should be removed."
)
HAS_HISTORY = _l(
    "This parcel was part of an order, so it is kept for the record. "
    "Please contact us if it should be removed."
)


@dataclass(frozen=True)
class RowError:
    line: int
    message: object  # a lazily translated string


class RowsInvalid(DomainError):
    """Bulk registration refused: nothing was written; `errors` lists every bad row."""

    def __init__(self, errors: Sequence[RowError]):
        super().__init__(_l("Nothing was registered. Please correct these rows:"), "rows")
        self.errors = sorted(errors, key=lambda e: e.line)


class ParcelNotFound(DomainError):
    """No such parcel among the customer's own (another customer's parcel is not found either)."""

    def __init__(self):
        super().__init__(_l("We could not find that parcel."))


class ParcelLocked(DomainError):
    """The parcel is bound to an order (or was): only the forwarder may change it now."""


def _own_numbers(customer_id: int, numbers: Sequence[str]) -> set[str]:
    if not numbers:
        return set()
    return set(
        db.session.scalars(
            select(Parcel.tracking_no).where(
                Parcel.customer_id == customer_id, Parcel.tracking_no.in_(numbers)
            )
        )
    )


def _numbers_of_others(customer_id: int, numbers: Sequence[str]) -> set[str]:
    if not numbers:
        return set()
    return set(
        db.session.scalars(
            select(Parcel.tracking_no)
            .where(Parcel.tracking_no.in_(numbers), Parcel.customer_id != customer_id)
            .distinct()
        )
    )


def _new_parcel(customer: User, data: ParcelInput, shared: bool) -> Parcel:
    return Parcel(
        customer_id=customer.id,
        tracking_no=data.tracking_no,
        courier=data.courier,
        contents=data.contents,
        category=data.category,
        declared_value_fen=data.declared_value_fen,
        quantity=data.quantity,
        declared_weight_g=data.declared_weight_g,
        note=data.note,
        status="expected",
        shared_tracking_no=shared,
    )


def _registered_event(customer: User, parcel: Parcel) -> ParcelEvent:
    return ParcelEvent(
        parcel_id=parcel.id,
        actor_id=customer.id,
        from_status=None,
        to_status="expected",
        reason="registered",
    )


def register_parcel(customer: User, data: ParcelInput) -> Parcel:
    """Register one parcel as expected; raises ValidationFailed (tracking_no) if the customer
    already registered the number. A number another customer has is accepted and flagged."""
    if _own_numbers(customer.id, [data.tracking_no]):
        raise ValidationFailed(DUPLICATE, "tracking_no")
    shared = bool(_numbers_of_others(customer.id, [data.tracking_no]))
    parcel = _new_parcel(customer, data, shared)
    try:
        with db.session.begin_nested():
            db.session.add(parcel)
            db.session.flush()
    except IntegrityError:
        # The same number registered by a parallel request (a double click) a moment ago.
        if _own_numbers(customer.id, [data.tracking_no]):
            raise ValidationFailed(DUPLICATE, "tracking_no") from None
        raise
    db.session.add(_registered_event(customer, parcel))
    db.session.flush()
    return parcel


def register_parcels(
    customer: User, rows: Sequence[tuple[int, Mapping[str, object]]]
) -> list[Parcel]:
    """Register many parcels at once, all or nothing.

    `rows` are (line number, fields) pairs, the fields as parse_parcel() reads them. Raises
    RowsInvalid listing every bad row (bad fields, a number repeated in the list, a number the
    customer registered before) and writes nothing; ValidationFailed for no rows or too many.
    """
    if not rows:
        raise ValidationFailed(_l("Enter at least one tracking number."), "rows")
    if len(rows) > MAX_BULK_ROWS:
        raise ValidationFailed(
            _l("At most %(n)s parcels at once, please.", n=MAX_BULK_ROWS), "rows"
        )
    errors: list[RowError] = []
    parsed: list[ParcelInput] = []
    first_line: dict[str, int] = {}
    for line, values in rows:
        if values.get(EXTRA_COLUMNS):
            errors.append(RowError(line, TOO_MANY_COLUMNS))
            continue
        try:
            data = parse_parcel(values)
        except InvalidFields as err:
            errors.extend(RowError(line, message) for message in err.errors.values())
            continue
        if data.tracking_no in first_line:
            errors.append(
                RowError(
                    line,
                    _l(
                        "The same tracking number as row %(row)s.", row=first_line[data.tracking_no]
                    ),
                )
            )
            continue
        first_line[data.tracking_no] = line
        parsed.append(data)
    numbers = list(first_line)
    errors.extend(RowError(first_line[n], DUPLICATE) for n in _own_numbers(customer.id, numbers))
    if errors:
        raise RowsInvalid(errors)
    shared = _numbers_of_others(customer.id, numbers)
    parcels = [_new_parcel(customer, data, data.tracking_no in shared) for data in parsed]
    try:
        with db.session.begin_nested():
            db.session.add_all(parcels)
            db.session.flush()
    except IntegrityError:
        taken = _own_numbers(customer.id, numbers)
        if not taken:
            raise
        raise RowsInvalid([RowError(first_line[n], DUPLICATE) for n in taken]) from None
    db.session.add_all(_registered_event(customer, parcel) for parcel in parcels)
    db.session.flush()
    return parcels


def get_parcel(customer: User, parcel_id: int) -> Parcel:
    """One of the customer's parcels; raises ParcelNotFound for anyone else's or none."""
    if not is_id(parcel_id):
        raise ParcelNotFound()
    parcel = db.session.scalar(
        select(Parcel).where(Parcel.id == parcel_id, Parcel.customer_id == customer.id)
    )
    if parcel is None:
        raise ParcelNotFound()
    return parcel


def _live_link():
    """The parcel is bound to an order now (correlated with the parcel of the statement)."""
    return (
        select(OrderParcel.id)
        .where(OrderParcel.parcel_id == Parcel.id, OrderParcel.released_at.is_(None))
        .correlate(Parcel)
        .exists()
    )


def any_order_link():
    """The parcel is or was in an order (a released link is the cancelled order's record)."""
    # Correlated with the parcel only: the list also joins order_parcels (the live link).
    return (
        select(OrderParcel.id).where(OrderParcel.parcel_id == Parcel.id).correlate(Parcel).exists()
    )


def from_claim():
    """The parcel is what an approved claim on an unclaimed parcel became."""
    return (
        select(UnclaimedParcel.id)
        .where(UnclaimedParcel.parcel_id == Parcel.id)
        .correlate(Parcel)
        .exists()
    )


def is_bound(parcel: Parcel) -> bool:
    """Whether the parcel is in an order now: consolidated, or linked to a live order."""
    if parcel.status not in UNBOUND_STATES:
        return True
    return bool(db.session.scalar(select(_live_link().where(Parcel.id == parcel.id))))


def had_order(parcel: Parcel) -> bool:
    """Whether the parcel is or was in an order (a cancelled order keeps it as its record)."""
    return bool(db.session.scalar(select(any_order_link().where(Parcel.id == parcel.id))))


def update_parcel(customer: User, parcel_id: int, data: ParcelInput) -> Parcel:
    """Change the customer's description of an unbound parcel.

    The tracking number can change only while the parcel is expected. A compare-and-set on the
    status the parcel had when read, so a parcel bound meanwhile is left alone. Raises
    ParcelNotFound, ParcelLocked (bound) or ValidationFailed (tracking number).
    """
    parcel = get_parcel(customer, parcel_id)
    if is_bound(parcel):
        raise ParcelLocked(LOCKED)
    shared = parcel.shared_tracking_no
    if data.tracking_no != parcel.tracking_no:
        if parcel.status != "expected":
            raise ValidationFailed(
                _l("The tracking number cannot change once the warehouse has the parcel."),
                "tracking_no",
            )
        if _own_numbers(customer.id, [data.tracking_no]):
            raise ValidationFailed(DUPLICATE, "tracking_no")
        shared = bool(_numbers_of_others(customer.id, [data.tracking_no]))
    statement = (
        update(Parcel)
        .where(
            Parcel.id == parcel.id,
            Parcel.customer_id == customer.id,
            Parcel.status == parcel.status,
            ~_live_link(),
        )
        .values(
            tracking_no=data.tracking_no,
            courier=data.courier,
            contents=data.contents,
            category=data.category,
            declared_value_fen=data.declared_value_fen,
            quantity=data.quantity,
            declared_weight_g=data.declared_weight_g,
            note=data.note,
            shared_tracking_no=shared,
            updated_at=model_base.utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    try:
        with db.session.begin_nested():
            result = db.session.execute(statement)
    except IntegrityError:
        if _own_numbers(customer.id, [data.tracking_no]):
            raise ValidationFailed(DUPLICATE, "tracking_no") from None
        raise
    if result.rowcount != 1:
        raise ParcelLocked(LOCKED)
    db.session.refresh(parcel)
    return parcel


def delete_parcel(customer: User, parcel_id: int) -> list[str]:
    """Delete an unbound parcel of the customer's; returns the storage keys of its photos, for
    the caller to remove once the transaction is committed.

    A compare-and-set: the DELETE itself requires the owner, an unbound status and no order
    link, so a parcel bound by a parallel request is never deleted. Raises ParcelNotFound or
    ParcelLocked (bound, or kept as the record of a cancelled order).
    """
    parcel = get_parcel(customer, parcel_id)
    if is_bound(parcel):
        raise ParcelLocked(LOCKED)
    keys = [key for photo in parcel.photos for key in (photo.image_key, photo.thumb_key)]
    db.session.expunge(parcel)
    result = db.session.execute(
        delete(Parcel)
        .where(
            Parcel.id == parcel_id,
            Parcel.customer_id == customer.id,
            Parcel.status.in_(UNBOUND_STATES),
            ~any_order_link(),
            ~from_claim(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        return keys
    # Refused: say why, from the parcel as it is now.
    now = db.session.execute(
        select(Parcel.status, _live_link(), any_order_link(), from_claim()).where(
            Parcel.id == parcel_id, Parcel.customer_id == customer.id
        )
    ).first()
    if now is None:
        raise ParcelNotFound()
    status, live, any_link, claimed = now
    if claimed:
        raise ParcelLocked(FROM_CLAIM)
    if status in UNBOUND_STATES and not live and any_link:
        raise ParcelLocked(HAS_HISTORY)
    raise ParcelLocked(LOCKED)


def get_photo(customer: User, parcel_id: int, photo_id: int) -> ParcelPhoto:
    """An intake photo of one of the customer's parcels; raises ParcelNotFound otherwise."""
    if not (is_id(parcel_id) and is_id(photo_id)):
        raise ParcelNotFound()
    photo = db.session.scalar(
        select(ParcelPhoto)
        .join(Parcel, Parcel.id == ParcelPhoto.parcel_id)
        .where(
            ParcelPhoto.id == photo_id,
            ParcelPhoto.parcel_id == parcel_id,
            Parcel.customer_id == customer.id,
        )
    )
    if photo is None:
        raise ParcelNotFound()
    return photo
