"""The rules for a parcel's fields as a customer gives them: one function for the registration
form and for every bulk row, returning the values in our units or every bad field's message."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from portal.models import GOODS_CATEGORIES
from portal.quote.labels import CATEGORY_LABELS
from portal.services import couriers
from portal.services.errors import FieldErrors
from portal.services.text import has_control_characters

MAX_CONTENTS = 100
MAX_NOTE = 200
MAX_QUANTITY = 9999
MAX_DECLARED_FEN = 1_000_000 * 100
MAX_WEIGHT_G = 1000 * 1000
# A bulk row's key for the number of columns beyond the four a row may have.
EXTRA_COLUMNS = "extra_columns"
# Plain ASCII decimals only: no exponent, sign, thousands separator or full-width digits.
_AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
_WEIGHT = re.compile(r"[0-9]{1,4}(\.[0-9]{1,3})?")
_WHOLE = re.compile(r"[0-9]{1,4}")

TOO_MANY_COLUMNS = _l(
    "Too many columns: a row has the tracking number, contents, category and value, "
    "separated by commas."
)
TEXT_CONTROL = _l("Remove the line breaks and control characters from this field.")


class InvalidFields(FieldErrors):
    """Some fields of a parcel are not acceptable."""


@dataclass(frozen=True)
class ParcelInput:
    """A parcel's fields as the customer gave them, checked and in our units."""

    tracking_no: str
    courier: str = ""
    contents: str = ""
    category: str = "general"
    declared_value_fen: int = 0
    quantity: int = 1
    declared_weight_g: int | None = None
    note: str = ""


def parse_parcel(values: Mapping[str, object]) -> ParcelInput:
    """Check and convert one parcel's fields, from the form or from a bulk row.

    Fields: tracking_no, courier ("" to guess, a code, or OTHER with courier_other), contents,
    category (a code, or its label in a portal language), declared_value (CNY), quantity,
    weight (kg, optional), note. Raises InvalidFields naming every bad field.
    """
    errors: dict[str, object] = {}

    def text(name: str, limit: int) -> str:
        raw = values.get(name)
        value = raw.strip() if isinstance(raw, str) else ""
        if has_control_characters(value):
            errors[name] = TEXT_CONTROL
            return ""
        if len(value) > limit:
            errors[name] = _l("At most %(n)s characters.", n=limit)
            return ""
        return value

    tracking_no = _tracking_no(values.get("tracking_no"), errors)
    courier = _courier(text("courier", 40), tracking_no, text, errors)
    contents = text("contents", MAX_CONTENTS)
    category = _category(text("category", 100), errors)
    declared_value_fen = _declared_value(text("declared_value", 40), errors)
    quantity = _quantity(text("quantity", 40), errors)
    weight_g = _weight(text("weight", 40), errors)
    note = text("note", MAX_NOTE)
    if errors:
        raise InvalidFields(errors)
    return ParcelInput(
        tracking_no=tracking_no,
        courier=courier,
        contents=contents,
        category=category,
        declared_value_fen=declared_value_fen,
        quantity=quantity,
        declared_weight_g=weight_g,
        note=note,
    )


def _tracking_no(raw: object, errors: dict) -> str:
    value = raw.strip() if isinstance(raw, str) else ""
    number = couriers.normalise_tracking_no(value)
    if not number:
        errors["tracking_no"] = _l("Enter the courier tracking number.")
    elif not couriers.is_valid_tracking_no(number):
        if len(number) > couriers.MAX_TRACKING_LENGTH or (number.isascii() and number.isalnum()):
            errors["tracking_no"] = _l("A tracking number has 6 to 40 letters and digits.")
        else:
            errors["tracking_no"] = _l(
                "A tracking number has only letters and digits (spaces and dashes are ignored)."
            )
    return number


def _courier(code: str, tracking_no: str, text, errors: dict) -> str:
    if "courier" in errors:
        return ""
    if not code:
        return couriers.guess_courier(tracking_no) or ""
    if code == couriers.OTHER:
        name = text("courier_other", couriers.MAX_OTHER_NAME)
        if not name and "courier_other" not in errors:
            errors["courier_other"] = _l("Enter the courier's name.")
        return name
    if code not in couriers.BY_CODE:
        errors["courier"] = _l("Choose a courier from the list.")
        return ""
    return code


_category_names_cache: dict[tuple[str, ...], dict[str, str]] = {}


def _category_names() -> dict[str, str]:
    """Each goods category's label in every portal language (case-folded) -> its code."""
    if not has_app_context():
        return {}
    languages = tuple(current_app.config["LANGUAGES"])
    names = _category_names_cache.get(languages)
    if names is None:
        names = {}
        for locale in languages:
            with force_locale(locale):
                names.update(
                    {str(label).casefold(): code for code, label in CATEGORY_LABELS.items()}
                )
        _category_names_cache[languages] = names
    return names


def _category(value: str, errors: dict) -> str:
    if "category" in errors:
        return "general"
    if not value:
        return "general"
    if value.lower() in GOODS_CATEGORIES:
        return value.lower()
    code = _category_names().get(value.casefold())
    if code is None:
        errors["category"] = _l("Choose one of the listed kinds of goods.")
        return "general"
    return code


def _declared_value(value: str, errors: dict) -> int:
    if "declared_value" in errors or not value:
        return 0
    if not _AMOUNT.fullmatch(value) or Decimal(value) * 100 > MAX_DECLARED_FEN:
        errors["declared_value"] = _l(
            "Enter an amount in CNY from 0 to 1000000, with at most 2 decimals, e.g. 199.90."
        )
        return 0
    return int(Decimal(value) * 100)


def _quantity(value: str, errors: dict) -> int:
    if "quantity" in errors or not value:
        return 1
    if not _WHOLE.fullmatch(value) or not 1 <= int(value) <= MAX_QUANTITY:
        errors["quantity"] = _l("Enter a whole number from 1 to 9999.")
        return 1
    return int(value)


def _weight(value: str, errors: dict) -> int | None:
    if "weight" in errors or not value:
        return None
    grams = int(Decimal(value) * 1000) if _WEIGHT.fullmatch(value) else 0
    if not 0 < grams <= MAX_WEIGHT_G:
        errors["weight"] = _l(
            "Enter the weight in kg, more than 0 and at most 1000, e.g. 1.25 (3 decimals at most)."
        )
        return None
    return grams
