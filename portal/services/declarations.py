"""Declaration templates (常用申报): customs lines a customer saves once and reuses when ordering.

The field rules (`parse_quantity`, `parse_unit_value`, ...) turn what was typed into values; the
acts check the values again, so other callers (the order wizard) cannot skip a rule.
"""

import re
from dataclasses import asdict, dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import GOODS_CATEGORIES, DeclarationTemplate, User
from portal.models.base import is_id
from portal.services.errors import DomainError, ValidationFailed
from portal.services.text import clean_line

MAX_TEMPLATES = 100
MAX_QUANTITY = 9999
MAX_UNIT_VALUE_FEN = 10_000_000  # 100,000 CNY
# Han ideographs (basic, extension A, compatibility, extensions B and later).
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
ENGLISH = re.compile(r"[ -~]+")  # printable ASCII: letters, digits, punctuation, spaces
AMOUNT = re.compile(r"(\d+|\d{1,3}(,\d{3})+)(\.\d{1,2})?")
HS_CODE = re.compile(r"\d{6,10}")


class TemplateNotFound(DomainError):
    """No such declaration template, or another customer's (shown as 404)."""


@dataclass(frozen=True)
class DeclarationInput:
    """One declaration line: names, goods category, quantity and unit value in fen."""

    name_zh: str
    name_en: str
    category: str
    quantity: int
    unit_value_fen: int
    hs_code: str = ""

    @property
    def total_fen(self) -> int:
        return self.quantity * self.unit_value_fen


# ---- field rules -------------------------------------------------------------------------------


def clean_name_zh(raw: str | None) -> str:
    text = clean_line(raw, "name_zh", 100, _l("Enter the item's name in Chinese."))
    if not HAN.search(text):
        raise ValidationFailed(_l("Write the name in Chinese, e.g. 手机壳."), "name_zh")
    return text


def clean_name_en(raw: str | None) -> str:
    text = clean_line(raw, "name_en", 100, _l("Enter the item's name in English."))
    if not ENGLISH.fullmatch(text) or not any(ch.isalpha() for ch in text):
        raise ValidationFailed(
            _l("Use English letters, digits and punctuation, e.g. Phone case."), "name_en"
        )
    return text


def check_category(category: str | None) -> str:
    if category not in GOODS_CATEGORIES:
        raise ValidationFailed(_l("Choose one of the listed kinds of goods."), "category")
    return category


def parse_quantity(raw: str | None) -> int:
    """A whole number of pieces from 1 to 9999 (ASCII digits only)."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdecimal() or len(text) > 4 or int(text) < 1:
        raise ValidationFailed(_l("A whole number from 1 to 9999."), "quantity")
    return int(text)


def parse_unit_value(raw: str | None) -> int:
    """A unit value in CNY (more than 0, at most 100,000, two decimals at most) as fen."""
    text = (raw or "").strip()
    value: Decimal | None = None
    if text.isascii() and AMOUNT.fullmatch(text):
        value = Decimal(text.replace(",", ""))  # the pattern allows nothing Decimal would refuse
    if value is None or not 0 < value * 100 <= MAX_UNIT_VALUE_FEN:
        raise ValidationFailed(
            _l("Enter an amount in CNY above 0 and up to 100,000, e.g. 25.50."), "unit_value"
        )
    return int(value * 100)


def parse_hs_code(raw: str | None) -> str:
    """An optional HS code: 6 to 10 digits; dots and spaces are allowed and dropped."""
    text = (raw or "").strip()
    if not text:
        return ""
    digits = text.replace(".", "").replace(" ", "")
    if len(text) > 20 or not digits.isascii() or not HS_CODE.fullmatch(digits):
        raise ValidationFailed(_l("An HS code has 6 to 10 digits, e.g. 3926.90."), "hs_code")
    return digits


def check_line(data: DeclarationInput) -> DeclarationInput:
    """The line checked, names trimmed; raises ValidationFailed naming the first bad field."""
    if not 1 <= data.quantity <= MAX_QUANTITY:
        raise ValidationFailed(_l("A whole number from 1 to 9999."), "quantity")
    if not 0 < data.unit_value_fen <= MAX_UNIT_VALUE_FEN:
        raise ValidationFailed(
            _l("Enter an amount in CNY above 0 and up to 100,000, e.g. 25.50."), "unit_value"
        )
    hs_code = parse_hs_code(data.hs_code)
    return DeclarationInput(
        name_zh=clean_name_zh(data.name_zh),
        name_en=clean_name_en(data.name_en),
        category=check_category(data.category),
        quantity=data.quantity,
        unit_value_fen=data.unit_value_fen,
        hs_code=hs_code,
    )


# ---- reading -----------------------------------------------------------------------------------


def customer_templates(customer: User) -> list[DeclarationTemplate]:
    """The customer's templates, the newest first."""
    return list(
        db.session.scalars(
            select(DeclarationTemplate)
            .where(DeclarationTemplate.customer_id == customer.id)
            .order_by(DeclarationTemplate.created_at.desc(), DeclarationTemplate.id.desc())
        )
    )


def get_template(customer: User, template_id: int) -> DeclarationTemplate:
    """One of the customer's templates; raises TemplateNotFound for any other id."""
    if not is_id(template_id):
        raise TemplateNotFound(_l("No such declaration template."))
    template = db.session.scalars(
        select(DeclarationTemplate).where(
            DeclarationTemplate.id == template_id, DeclarationTemplate.customer_id == customer.id
        )
    ).one_or_none()
    if template is None:
        raise TemplateNotFound(_l("No such declaration template."))
    return template


def as_line(template: DeclarationTemplate) -> DeclarationInput:
    """A template as a declaration line for an order (a copy)."""
    return DeclarationInput(
        name_zh=template.name_zh,
        name_en=template.name_en,
        category=template.category,
        quantity=template.quantity,
        unit_value_fen=template.unit_value_fen,
        hs_code=template.hs_code,
    )


# ---- acts --------------------------------------------------------------------------------------


def add_template(customer: User, data: DeclarationInput) -> DeclarationTemplate:
    """Save a declaration line as a template. Raises ValidationFailed."""
    clean = check_line(data)
    count = db.session.scalar(
        select(func.count())
        .select_from(DeclarationTemplate)
        .where(DeclarationTemplate.customer_id == customer.id)
    )
    if count >= MAX_TEMPLATES:
        raise ValidationFailed(
            _l(
                "You can keep at most %(count)s templates. Delete one you no longer use.",
                count=MAX_TEMPLATES,
            )
        )
    template = DeclarationTemplate(customer_id=customer.id, **asdict(clean))
    db.session.add(template)
    db.session.flush()
    return template


def update_template(
    customer: User, template_id: int, data: DeclarationInput
) -> DeclarationTemplate:
    """Change a template. Raises TemplateNotFound or ValidationFailed."""
    template = get_template(customer, template_id)
    for name, value in asdict(check_line(data)).items():
        setattr(template, name, value)
    db.session.flush()
    return template


def delete_template(customer: User, template_id: int) -> None:
    """Delete a template (orders keep their own copies of the lines). Raises TemplateNotFound."""
    db.session.delete(get_template(customer, template_id))
    db.session.flush()
