"""Staff setting up the warehouses customers send parcels to: adding one, changing its address,
switching it off or on. A warehouse is never deleted: parcels and their history refer to it."""

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import User, Warehouse
from portal.services import audit, setup_records
from portal.services.errors import FieldErrors, ValidationFailed
from portal.services.text import clean_line

# A customer code as customers have them, to show staff what the address will look like.
SAMPLE_CODE = "K8M3Q7"
# Field -> column length.
LENGTHS = {
    "name": 100,
    "contact_name": 50,
    "phone": 30,
    "region": 100,
    "address_line": 200,
    "postcode": 12,
}
FIELDS = tuple(LENGTHS)
PHONE = re.compile(r"\+?[0-9][0-9 ()\-]*[0-9]")
MIN_PHONE_DIGITS = 5
CHINA_POSTCODE = re.compile(r"[0-9]{6}")
REQUIRED = {
    "name": _l("Enter the warehouse's name."),
    "contact_name": _l("Enter the recipient name customers write on shop orders."),
    "phone": _l("Enter the warehouse's phone number."),
    "region": _l("Enter the province, city and district."),
    "address_line": _l("Enter the street address."),
    "postcode": _l("Enter the postcode."),
}


class InvalidWarehouse(FieldErrors):
    """Some fields of a warehouse are not acceptable."""


class StaleWarehouse(ValidationFailed):
    """Someone else changed the warehouse after this form was opened; nothing was written."""

    def __init__(self):
        super().__init__(
            _l(
                "Someone else changed this warehouse after you opened the page. "
                "The current values are shown; make your change again."
            ),
            "version",
        )


@dataclass(frozen=True)
class WarehouseInput:
    """The warehouse form as typed."""

    name: str = ""
    contact_name: str = ""
    phone: str = ""
    region: str = ""
    address_line: str = ""
    postcode: str = ""


def warehouses() -> list[Warehouse]:
    """Every warehouse, the active ones first."""
    return list(
        db.session.scalars(select(Warehouse).order_by(Warehouse.is_active.desc(), Warehouse.id))
    )


def _read(typed: WarehouseInput) -> dict[str, str]:
    errors: dict[str, object] = {}
    values: dict[str, str] = {}
    for field, length in LENGTHS.items():
        try:
            values[field] = clean_line(getattr(typed, field), field, length, REQUIRED[field])
        except ValidationFailed as refused:
            errors[field] = refused.message
    phone = values.get("phone")
    if phone and (
        not phone.isascii()
        or not PHONE.fullmatch(phone)
        or sum(ch.isdigit() for ch in phone) < MIN_PHONE_DIGITS
    ):
        errors["phone"] = _l("Use digits, spaces, brackets, + and - only, e.g. 0755-23456789.")
    postcode = values.get("postcode")
    # Every warehouse is in mainland China, where a postcode is six digits.
    if postcode and not (postcode.isascii() and CHINA_POSTCODE.fullmatch(postcode)):
        errors["postcode"] = _l("Enter the 6-digit postcode, e.g. 518103.")
    if errors:
        raise InvalidWarehouse(errors)
    return values


def version_of(warehouse: Warehouse) -> str:
    """The fingerprint the edit form carries to notice a parallel edit."""
    return setup_records.fingerprint(warehouse, FIELDS)


def create_warehouse(actor: User, typed: WarehouseInput) -> Warehouse:
    """Add an active warehouse (audited); raises InvalidWarehouse naming every bad field."""
    warehouse = Warehouse(**_read(typed), is_active=True)
    db.session.add(warehouse)
    db.session.flush()
    audit.record(actor, "warehouse.create", "warehouse", warehouse.id, None, described(warehouse))
    return warehouse


def update_warehouse(
    actor: User, warehouse: Warehouse, typed: WarehouseInput, version: str
) -> Warehouse:
    """Change a warehouse's name or address (audited, before and after); customers see the new
    address at once. Raises StaleWarehouse when `version` is not the saved one, InvalidWarehouse
    naming every bad field."""
    if version != version_of(warehouse):
        raise StaleWarehouse()
    values = _read(typed)
    before = described(warehouse)
    for name, value in values.items():
        setattr(warehouse, name, value)
    db.session.flush()
    after = described(warehouse)
    if after != before:
        audit.record(actor, "warehouse.update", "warehouse", warehouse.id, before, after)
    return warehouse


def set_active(actor: User, warehouse: Warehouse, active: bool) -> None:
    """Show the warehouse's address to customers again, or stop showing it (audited). Nothing
    happens when it already is in that state."""
    setup_records.switch(actor, warehouse, "warehouse", active)


def described(warehouse: Warehouse) -> dict:
    """The warehouse as the audit log keeps it."""
    return {
        "name": warehouse.name,
        "contact_name": warehouse.contact_name,
        "phone": warehouse.phone,
        "region": warehouse.region,
        "address_line": warehouse.address_line,
        "postcode": warehouse.postcode,
        "is_active": warehouse.is_active,
    }
