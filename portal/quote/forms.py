"""The quote form: destination, one piece's weight and size, goods category, declared value."""

import re
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, ValidationError
from wtforms.validators import Length, Optional

from portal.forms import strip
from portal.models import GOODS_CATEGORIES
from portal.quote.labels import CATEGORY_LABELS
from portal.services.postcodes import compact_postcode, is_valid_postcode
from portal.services.pricing_types import Destination, Piece, QuoteRequest

MAX_WEIGHT_KG = Decimal(1000)
MAX_SIDE_CM = 300
MAX_DECLARED_CNY = Decimal(1_000_000)
# ASCII digits with an optional point; a minus sign is read so that the form can say "more than 0".
PLAIN_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def parse_decimal(text: str | None, places: int) -> Decimal | None:
    """A plain decimal number with at most `places` decimals, or None (never a float).

    Only ASCII digits with an optional point and thousands commas, as the intake and packing
    forms take them: no plus sign, exponent ("1e3"), "NaN" or other scripts' digits."""
    text = (text or "").strip().replace(",", "")
    if not text or len(text) > 20 or not PLAIN_DECIMAL.fullmatch(text):
        return None
    value = Decimal(text)
    if value.as_tuple().exponent < -places:
        return None
    return value


class QuoteForm(FlaskForm):
    class Meta:
        csrf = False

    country = SelectField(_l("Destination"), validate_choice=False)
    postcode = StringField(_l("Postcode"), filters=[strip], validators=[Optional(), Length(max=12)])
    city = StringField(
        _l("City / region"), filters=[strip], validators=[Optional(), Length(max=60)]
    )
    weight = StringField(_l("Weight (kg)"), filters=[strip])
    length = StringField(_l("Length (cm)"), filters=[strip])
    width = StringField(_l("Width (cm)"), filters=[strip])
    height = StringField(_l("Height (cm)"), filters=[strip])
    category = SelectField(
        _l("Goods"),
        choices=[SelectChoice(c, CATEGORY_LABELS[c]) for c in GOODS_CATEGORIES],
        default="general",
        validate_choice=False,
    )
    declared = StringField(_l("Declared value (CNY)"), filters=[strip])
    insure = BooleanField(_l("Insure the shipment"))

    def __init__(self, *args, countries: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice("", _l("Choose a country"))] + [
            SelectChoice(code, name) for code, name in countries
        ]

    def validate_country(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Choose the destination country."))
        if field.data not in {choice.value for choice in self.country.choices if choice.value}:
            raise ValidationError(_l("We do not ship to this country yet."))

    def validate_postcode(self, field) -> None:
        if (
            field.data
            and self.country.data
            and not is_valid_postcode(self.country.data, field.data)
        ):
            raise ValidationError(_l("This postcode does not look right for the country."))

    def validate_weight(self, field) -> None:
        value = parse_decimal(field.data, 3)
        if value is None:
            raise ValidationError(_l("Enter the weight in kg, e.g. 1.25 (at most 3 decimals)."))
        if value <= 0:
            raise ValidationError(_l("The weight must be more than 0 kg."))
        if value > MAX_WEIGHT_KG:
            raise ValidationError(_l("Parcels over 1000 kg need a freight quote from our staff."))

    def validate_length(self, field) -> None:
        self._check_side(field)

    def validate_width(self, field) -> None:
        self._check_side(field)

    def validate_height(self, field) -> None:
        self._check_side(field)
        sides = [self.length.data, self.width.data, self.height.data]
        if any(sides) and not all(sides):
            raise ValidationError(_l("Give all three sides, or none."))

    @staticmethod
    def _check_side(field) -> None:
        if not field.data:
            return
        # isdecimal, not isdigit: int() refuses "²"; and no more digits than int() converts.
        text = field.data
        if not text.isdecimal() or len(text) > 10 or not 1 <= int(text) <= MAX_SIDE_CM:
            raise ValidationError(_l("Whole centimetres from 1 to 300."))

    def validate_category(self, field) -> None:
        if field.data not in GOODS_CATEGORIES:
            raise ValidationError(_l("Choose one of the listed kinds of goods."))

    def validate_declared(self, field) -> None:
        if not field.data:
            return
        value = parse_decimal(field.data, 2)
        if value is None or value < 0 or value > MAX_DECLARED_CNY:
            raise ValidationError(_l("Enter an amount in CNY from 0 to 1,000,000."))

    def weight_g(self) -> int:
        return int(parse_decimal(self.weight.data, 3) * 1000)

    def to_request(self, on, member_percent=Decimal(0), coupon=None) -> QuoteRequest:
        """The validated form as a pricing request (call after validate())."""
        sides = (self.length.data, self.width.data, self.height.data)
        piece = (
            Piece(self.weight_g(), *(int(s) for s in sides))
            if all(sides)
            else Piece(self.weight_g())
        )
        declared = parse_decimal(self.declared.data, 2) or Decimal(0)
        return QuoteRequest(
            destination=Destination(
                self.country.data, self.city.data or "", compact_postcode(self.postcode.data)
            ),
            pieces=(piece,),
            on=on,
            categories=frozenset({self.category.data}),
            declared_value_fen=int(declared * 100),
            insure=self.insure.data,
            member_percent=member_percent,
            coupon=coupon,
        )
