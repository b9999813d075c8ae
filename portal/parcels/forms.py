"""The parcel forms. The field rules live in services.parcel_fields.parse_parcel (shared with
the bulk rows); these classes render the fields and carry the rules' messages back to them."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectChoice, SelectField, StringField, TextAreaField

from portal.models import GOODS_CATEGORIES, Parcel
from portal.quote.labels import CATEGORY_LABELS
from portal.services import couriers
from portal.services.parcel_fields import InvalidFields, ParcelInput, parse_parcel

PARCEL_FIELDS = (
    "tracking_no",
    "courier",
    "courier_other",
    "contents",
    "category",
    "declared_value",
    "quantity",
    "weight",
    "note",
)


def courier_choices() -> list[SelectChoice]:
    return [
        SelectChoice("", _l("Detect from the number")),
        *(SelectChoice(c.code, c.name) for c in couriers.COURIERS),
        SelectChoice(couriers.OTHER, _l("Other courier")),
    ]


def decimal_text(amount: int, places: int) -> str:
    """An integer amount in the smallest unit (fen, grams) as a plain decimal: 12350 -> "123.5"."""
    whole, rest = divmod(amount, 10**places)
    decimals = f"{rest:0{places}d}".rstrip("0")
    return f"{whole}.{decimals}" if decimals else str(whole)


class ParcelForm(FlaskForm):
    tracking_no = StringField(_l("Tracking number"))
    courier = SelectField(_l("Courier"), choices=courier_choices(), validate_choice=False)
    courier_other = StringField(_l("Courier name"))
    contents = StringField(_l("Contents"))
    category = SelectField(
        _l("Kind of goods"),
        choices=[SelectChoice(c, CATEGORY_LABELS[c]) for c in GOODS_CATEGORIES],
        default="general",
        validate_choice=False,
    )
    declared_value = StringField(_l("Value (CNY)"))
    quantity = StringField(_l("Quantity"), default="1")
    weight = StringField(_l("Estimated weight (kg, optional)"))
    note = StringField(_l("Note (optional)"))

    parsed: ParcelInput | None = None

    def validate(self, extra_validators=None) -> bool:
        """The CSRF token, then the parcel rules; each message goes beside its field."""
        valid = super().validate(extra_validators)
        values = {name: self[name].data for name in PARCEL_FIELDS}
        try:
            self.parsed = parse_parcel(values)
        except InvalidFields as err:
            for name, message in err.errors.items():
                self[name].errors.append(message)
            return False
        return valid

    @classmethod
    def for_parcel(cls, parcel: Parcel) -> "ParcelForm":
        """The form filled in with a parcel's current description (for editing)."""
        known = parcel.courier in couriers.BY_CODE or not parcel.courier
        return cls(
            data={
                "tracking_no": parcel.tracking_no,
                "courier": parcel.courier if known else couriers.OTHER,
                "courier_other": "" if known else parcel.courier,
                "contents": parcel.contents,
                "category": parcel.category,
                "declared_value": decimal_text(parcel.declared_value_fen, 2),
                "quantity": str(parcel.quantity),
                "weight": (
                    decimal_text(parcel.declared_weight_g, 3) if parcel.declared_weight_g else ""
                ),
                "note": parcel.note,
            }
        )


class BulkForm(FlaskForm):
    rows = TextAreaField(_l("Tracking numbers, one per line"))
    file = FileField(_l("Or upload a CSV or XLSX file"))
