"""Parse what a person types as their login: a mobile number or an email address."""

from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from portal.services.errors import ValidationFailed

MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


@dataclass(frozen=True)
class LoginIdentifier:
    kind: str  # "phone" or "email"
    value: str  # E.164 phone number or lower-cased email address


def parse_phone(raw: str) -> str:
    """A mobile number in E.164; numbers without a country code are read as mainland China (+86)."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(_l("Enter a valid mobile number."), field="identifier") from exc
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in (
        MOBILE_TYPES
    ):
        raise ValidationFailed(_l("Enter a valid mobile number."), field="identifier")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(raw: str) -> str:
    """A syntactically valid email address, lower-cased (no DNS look-up)."""
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(_l("Enter a valid email address."), field="identifier") from exc
    return info.normalized.lower()


def parse_identifier(raw: str) -> LoginIdentifier:
    """Read an email when the text has an @, a mobile number otherwise."""
    if not raw or not raw.strip():
        raise ValidationFailed(_l("Enter your mobile number or email address."), "identifier")
    if "@" in raw:
        return LoginIdentifier("email", parse_email(raw))
    return LoginIdentifier("phone", parse_phone(raw))
