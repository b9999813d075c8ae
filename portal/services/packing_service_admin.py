"""Staff setting up the packing and value-added services customers may add to an order (加固,
去鞋盒, ...): adding one, changing its names, price or place in the list, switching it off or on.
Orders keep a copy of each chosen service's name and price, so a change applies to new orders only.
"""

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import PackingService, User
from portal.services import audit, setup_records
from portal.services.amounts import parse_yuan
from portal.services.errors import FieldErrors, ValidationFailed
from portal.services.text import clean_line

MAX_PRICE_FEN = 100_000_00
MAX_CODE = 30
MAX_NAME = 100
CODE = re.compile(r"[a-z0-9][a-z0-9_-]*")
FREE = re.compile(r"0(\.0{1,2})?")
SORT = re.compile(r"-?(0|[1-9][0-9]{0,5})")
FIELDS = ("code", "name_zh", "name_en", "price", "sort")
SAVED_FIELDS = ("code", "name_zh", "name_en", "price_fen", "sort")


class InvalidPackingService(FieldErrors):
    """Some fields of a packing service are not acceptable."""


class StalePackingService(ValidationFailed):
    """Someone else changed the service after this form was opened; nothing was written."""

    def __init__(self):
        super().__init__(
            _l(
                "Someone else changed this service after you opened the page. "
                "The current values are shown; make your change again."
            ),
            "version",
        )


@dataclass(frozen=True)
class PackingServiceInput:
    """The service form as typed (the code is only read for a new service)."""

    code: str = ""
    name_zh: str = ""
    name_en: str = ""
    price: str = ""
    sort: str = "0"


def packing_services() -> list[PackingService]:
    """Every service: the active ones first, each group in the order customers see them."""
    return list(
        db.session.scalars(
            select(PackingService).order_by(
                PackingService.is_active.desc(), PackingService.sort, PackingService.id
            )
        )
    )


def code_taken_error():
    return _l("Another service already has this code; choose another.")


def _code(raw: str, errors: dict) -> str:
    try:
        text = clean_line(raw, "code", MAX_CODE, _l("Enter a short code, e.g. bubble_wrap."))
    except ValidationFailed as refused:
        errors["code"] = refused.message
        return ""
    text = text.lower()
    if not text.isascii() or not CODE.fullmatch(text):
        errors["code"] = _l("Use lower-case letters a-z, digits, - and _ only, e.g. bubble_wrap.")
    elif db.session.scalar(select(PackingService.id).where(PackingService.code == text)):
        errors["code"] = code_taken_error()
    return text


def _price_fen(raw: str, errors: dict) -> int:
    text = raw.strip()
    # parse_yuan reads only amounts above 0; a free service is a price of exactly 0.
    if text.isascii() and FREE.fullmatch(text):
        return 0
    try:
        return parse_yuan(text, "price", MAX_PRICE_FEN)
    except ValidationFailed as refused:
        errors["price"] = refused.message
        return 0


def _read(typed: PackingServiceInput, new: bool) -> dict[str, object]:
    errors: dict[str, object] = {}
    values: dict[str, object] = {}
    if new:
        values["code"] = _code(typed.code, errors)
    for field, message in (
        ("name_zh", _l("Enter the name customers read in Chinese.")),
        ("name_en", _l("Enter the name customers read in English.")),
    ):
        try:
            values[field] = " ".join(
                clean_line(getattr(typed, field), field, MAX_NAME, message).split()
            )
        except ValidationFailed as refused:
            errors[field] = refused.message
    values["price_fen"] = _price_fen(typed.price, errors)
    sort = typed.sort.strip() or "0"
    if sort.isascii() and SORT.fullmatch(sort):
        values["sort"] = int(sort)
    else:
        errors["sort"] = _l("Enter a whole number, e.g. 10.")
    if errors:
        raise InvalidPackingService(errors)
    return values


def version_of(service: PackingService) -> str:
    """The fingerprint the edit form carries to notice a parallel edit."""
    return setup_records.fingerprint(service, SAVED_FIELDS)


def create_service(actor: User, typed: PackingServiceInput) -> PackingService:
    """Offer a new service (audited); raises InvalidPackingService naming every bad field,
    the code included when another request took it a moment ago."""
    service = PackingService(**_read(typed, new=True), is_active=True)
    try:
        with db.session.begin_nested():
            db.session.add(service)
            db.session.flush()
    except IntegrityError:
        raise InvalidPackingService({"code": code_taken_error()}) from None
    audit.record(
        actor, "packing_service.create", "packing_service", service.id, None, described(service)
    )
    return service


def update_service(
    actor: User, service: PackingService, typed: PackingServiceInput, version: str
) -> PackingService:
    """Change a service's names, price or sort order (audited, before and after); its code stays,
    and orders already placed keep the name and price they were placed with. Raises
    StalePackingService when `version` is not the saved one, InvalidPackingService naming
    every bad field."""
    if version != version_of(service):
        raise StalePackingService()
    values = _read(typed, new=False)
    before = described(service)
    for name, value in values.items():
        setattr(service, name, value)
    db.session.flush()
    after = described(service)
    if after != before:
        audit.record(actor, "packing_service.update", "packing_service", service.id, before, after)
    return service


def set_active(actor: User, service: PackingService, active: bool) -> None:
    """Offer the service in the order wizard again, or stop offering it (audited); orders that
    already have it keep it. Nothing happens when it already is in that state."""
    setup_records.switch(actor, service, "packing_service", active)


def described(service: PackingService) -> dict:
    """The service as the audit log keeps it."""
    return {
        "code": service.code,
        "name_zh": service.name_zh,
        "name_en": service.name_en,
        "price_fen": service.price_fen,
        "sort": service.sort,
        "is_active": service.is_active,
    }
