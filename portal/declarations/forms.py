"""The declaration template form; its rules are the declaration service's."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, ValidationError

from portal.forms import strip
from portal.models import GOODS_CATEGORIES
from portal.quote.labels import CATEGORY_LABELS
from portal.services import declarations
from portal.services.declarations import DeclarationInput
from portal.services.errors import ValidationFailed


def _checked(rule, value):
    """Run a service field rule; its refusal becomes the field's error."""
    try:
        return rule(value)
    except ValidationFailed as err:
        raise ValidationError(err.message) from None


class DeclarationForm(FlaskForm):
    name_zh = StringField(_l("Item name in Chinese"), filters=[strip])
    name_en = StringField(_l("Item name in English"), filters=[strip])
    category = SelectField(
        _l("Kind of goods"),
        choices=[SelectChoice(c, CATEGORY_LABELS[c]) for c in GOODS_CATEGORIES],
        default="general",
        validate_choice=False,
    )
    quantity = StringField(_l("Quantity"), filters=[strip], default="1")
    unit_value = StringField(_l("Unit value (CNY)"), filters=[strip])
    hs_code = StringField(_l("HS code (optional)"), filters=[strip])

    def validate_name_zh(self, field) -> None:
        _checked(declarations.clean_name_zh, field.data)

    def validate_name_en(self, field) -> None:
        _checked(declarations.clean_name_en, field.data)

    def validate_category(self, field) -> None:
        _checked(declarations.check_category, field.data)

    def validate_quantity(self, field) -> None:
        _checked(declarations.parse_quantity, field.data)

    def validate_unit_value(self, field) -> None:
        _checked(declarations.parse_unit_value, field.data)

    def validate_hs_code(self, field) -> None:
        _checked(declarations.parse_hs_code, field.data)

    def to_input(self) -> DeclarationInput:
        """The validated form as a declaration line (call after validate())."""
        return DeclarationInput(
            name_zh=self.name_zh.data,
            name_en=self.name_en.data,
            category=self.category.data,
            quantity=declarations.parse_quantity(self.quantity.data),
            unit_value_fen=declarations.parse_unit_value(self.unit_value.data),
            hs_code=self.hs_code.data or "",
        )

    @classmethod
    def for_template(cls, template) -> "DeclarationForm":
        """The form filled with a template's values, unit value in yuan."""
        yuan, fen = divmod(template.unit_value_fen, 100)
        return cls(
            data={
                "name_zh": template.name_zh,
                "name_en": template.name_en,
                "category": template.category,
                "quantity": str(template.quantity),
                "unit_value": f"{yuan}.{fen:02d}" if fen else str(yuan),
                "hs_code": template.hs_code,
            }
        )
