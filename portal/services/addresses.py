"""The customer's address book (收货地址): add, edit, delete and choose the default address.

Orders copy an address when they are placed, so editing or deleting an address never changes an
order. The field rules (`parse_phone`, `parse_postcode`, ...) are public so that the address form
shows every problem at once; the acts check everything again.
"""

import re
from dataclasses import asdict, dataclass

import phonenumbers
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import Address, User
from portal.models.base import is_id
from portal.services import rate_cards
from portal.services.errors import DomainError, ValidationFailed
from portal.services.postcodes import POSTCODE_FORMATS, compact_postcode, is_valid_postcode
from portal.services.text import clean_line, has_control_characters

MAX_ADDRESSES = 50
MAX_PHONE_INPUT = 40
TAX_ID_PATTERN = re.compile(r"[A-Z0-9]+(-[A-Z0-9]+)*")


class AddressNotFound(DomainError):
    """No such address, or another customer's (shown as 404)."""


@dataclass(frozen=True)
class AddressInput:
    """An address as typed; the acts store it normalised (phone in E.164, postcode compacted)."""

    recipient_name: str
    phone: str
    country: str
    line1: str
    city: str = ""
    region: str = ""
    postcode: str = ""
    line2: str = ""
    tax_id: str = ""


# ---- field rules -------------------------------------------------------------------------------


def shipping_countries() -> frozenset[str]:
    """The countries some active channel of the rate card in force delivers to."""
    channels = rate_cards.channels_in_force(rate_cards.business_today())
    return frozenset(
        area.country for channel in channels for zone in channel.zones for area in zone.areas
    )


def check_country(country: str | None, allowed: frozenset[str] | set[str]) -> str:
    """The country code if we ship there (or it is the address's own); raises ValidationFailed."""
    if not country:
        raise ValidationFailed(_l("Choose the destination country."), "country")
    if country not in allowed:
        raise ValidationFailed(_l("We do not ship to this country yet."), "country")
    return country


def parse_phone(raw: str | None, country: str) -> str:
    """A phone number valid in the address's country, in E.164 (+12025550123)."""
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(_l("Enter the recipient's phone number."), "phone")
    invalid = ValidationFailed(
        _l("Enter a phone number that is valid in the destination country."), "phone"
    )
    if len(text) > MAX_PHONE_INPUT or has_control_characters(text):
        raise invalid
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException as exc:
        raise invalid from exc
    if not phonenumbers.is_valid_number_for_region(number, country):
        raise invalid
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_postcode(raw: str | None, country: str) -> str:
    """The postcode compacted and upper-cased; required where the country has postcodes we know."""
    text = (raw or "").strip()
    if not text:
        if country in POSTCODE_FORMATS:
            raise ValidationFailed(_l("Enter the postcode."), "postcode")
        return ""
    if len(text) > 20 or has_control_characters(text) or not is_valid_postcode(country, text):
        raise ValidationFailed(_l("This postcode does not look right for the country."), "postcode")
    return compact_postcode(text)


def parse_tax_id(raw: str | None) -> str:
    """An optional recipient ID or tax number (e.g. Korean PCCC, Brazilian CPF), upper-cased:
    ASCII letters and digits, dashes between them, at most 40 characters."""
    text = (raw or "").strip().upper()
    if not text:
        return ""
    if len(text) > 40 or not text.isascii() or not TAX_ID_PATTERN.fullmatch(text):
        raise ValidationFailed(
            _l("Use letters, digits and dashes only, at most 40 characters."), "tax_id"
        )
    return text


def clean_recipient_name(raw: str | None) -> str:
    return clean_line(raw, "recipient_name", 100, _l("Enter the recipient's name."))


def clean_region(raw: str | None) -> str:
    return clean_line(raw, "region", 100)


def clean_city(raw: str | None) -> str:
    return clean_line(raw, "city", 100, _l("Enter the city."))


def clean_line1(raw: str | None) -> str:
    return clean_line(raw, "line1", 200, _l("Enter the street address."))


def clean_line2(raw: str | None) -> str:
    return clean_line(raw, "line2", 200)


def normalise_address(data: AddressInput, countries: frozenset[str] | set[str]) -> AddressInput:
    """The address checked and normalised; raises ValidationFailed naming the first bad field."""
    country = check_country(data.country, countries)
    return AddressInput(
        recipient_name=clean_recipient_name(data.recipient_name),
        phone=parse_phone(data.phone, country),
        country=country,
        region=clean_region(data.region),
        city=clean_city(data.city),
        postcode=parse_postcode(data.postcode, country),
        line1=clean_line1(data.line1),
        line2=clean_line2(data.line2),
        tax_id=parse_tax_id(data.tax_id),
    )


# ---- reading -----------------------------------------------------------------------------------


def customer_addresses(customer: User) -> list[Address]:
    """The customer's addresses, the default first, then the newest."""
    return list(
        db.session.scalars(
            select(Address)
            .where(Address.customer_id == customer.id)
            .order_by(Address.is_default.desc(), Address.created_at.desc(), Address.id.desc())
        )
    )


def get_address(customer: User, address_id: int) -> Address:
    """One of the customer's addresses; raises AddressNotFound for any other id."""
    if not is_id(address_id):
        raise AddressNotFound(_l("No such address."))
    address = db.session.scalars(
        select(Address).where(Address.id == address_id, Address.customer_id == customer.id)
    ).one_or_none()
    if address is None:
        raise AddressNotFound(_l("No such address."))
    return address


def default_address(customer: User) -> Address | None:
    return db.session.scalars(
        select(Address).where(Address.customer_id == customer.id, Address.is_default)
    ).one_or_none()


def order_fields(address: Address) -> dict[str, str]:
    """The address as the `ship_*` columns of an order (a copy: later edits do not reach it)."""
    return {
        "ship_name": address.recipient_name,
        "ship_phone": address.phone,
        "ship_country": address.country,
        "ship_region": address.region,
        "ship_city": address.city,
        "ship_postcode": address.postcode,
        "ship_line1": address.line1,
        "ship_line2": address.line2,
        "ship_tax_id": address.tax_id,
    }


# ---- acts --------------------------------------------------------------------------------------


def _lock_address_book(customer: User) -> None:
    """Serialise a customer's address-book changes, so that two at once cannot make two defaults.

    PostgreSQL locks the customer's row; SQLite's write transactions (BEGIN IMMEDIATE) already
    run one at a time.
    """
    db.session.execute(select(User.id).where(User.id == customer.id).with_for_update())


def _count(customer: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Address).where(Address.customer_id == customer.id)
    )


def add_address(customer: User, data: AddressInput) -> Address:
    """Add an address; the customer's first one becomes the default. Raises ValidationFailed."""
    _lock_address_book(customer)
    clean = normalise_address(data, shipping_countries())
    count = _count(customer)
    if count >= MAX_ADDRESSES:
        raise ValidationFailed(
            _l(
                "You can keep at most %(count)s addresses. Delete one you no longer use.",
                count=MAX_ADDRESSES,
            )
        )
    address = Address(customer_id=customer.id, is_default=count == 0, **asdict(clean))
    db.session.add(address)
    db.session.flush()
    return address


def update_address(customer: User, address_id: int, data: AddressInput) -> Address:
    """Change an address; its country stays acceptable even if we no longer ship there.
    Raises AddressNotFound or ValidationFailed."""
    address = get_address(customer, address_id)
    clean = normalise_address(data, shipping_countries() | {address.country})
    for name, value in asdict(clean).items():
        setattr(address, name, value)
    db.session.flush()
    return address


def set_default_address(customer: User, address_id: int) -> Address:
    """Make an address the default, the old default no longer. Raises AddressNotFound."""
    _lock_address_book(customer)
    address = get_address(customer, address_id)
    if address.is_default:
        return address
    # The partial unique index allows one default per customer: clear the old one first.
    db.session.execute(
        update(Address)
        .where(Address.customer_id == customer.id, Address.is_default)
        .values(is_default=False)
    )
    db.session.flush()
    address.is_default = True
    db.session.flush()
    return address


def delete_address(customer: User, address_id: int) -> None:
    """Delete an address; if it was the default, the newest remaining one becomes the default.
    Raises AddressNotFound."""
    _lock_address_book(customer)
    address = get_address(customer, address_id)
    was_default = address.is_default
    db.session.delete(address)
    db.session.flush()
    if was_default:
        newest = db.session.scalars(
            select(Address)
            .where(Address.customer_id == customer.id)
            .order_by(Address.created_at.desc(), Address.id.desc())
            .limit(1)
        ).first()
        if newest is not None:
            newest.is_default = True
            db.session.flush()
