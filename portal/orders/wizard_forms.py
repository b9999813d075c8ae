"""The quick-order wizard's fields. The whole draft travels in the query string (GET) between
steps, so every step is a URL: Back works, a step can be bookmarked, nothing is stored until
the final POST."""

import re

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import Length, Optional, ValidationError

from portal.forms import printable, strip
from portal.models import GOODS_CATEGORIES
from portal.quote.forms import parse_decimal
from portal.quote.labels import CATEGORY_LABELS
from portal.services.declarations import (
    DeclarationInput,
    clean_name_en,
    clean_name_zh,
    parse_hs_code,
    parse_quantity,
    parse_unit_value,
)
from portal.services.errors import ValidationFailed
from portal.services.orders import MAX_DECLARATION_LINES, MAX_PARCELS, OrderRequest

STEPS = ("parcels", "address", "channel", "declaration", "options", "review")


def _int_list(values: list[str], limit: int) -> list[int]:
    """Positive integers from repeated parameters; anything else is dropped."""
    numbers = [int(v) for v in values[:limit] if v.isascii() and v.isdigit() and 0 < len(v) < 10]
    return list(dict.fromkeys(n for n in numbers if n > 0))


def _rule(parse):
    """A WTForms validator from a declarations field rule (the rules are written once there)."""

    def check(_form, field):
        try:
            parse(field.data)
        except ValidationFailed as err:
            raise ValidationError(str(err.message)) from err

    return check


class LineForm(Form):
    """One customs-declaration line, checked by the same rules as a saved template."""

    name_zh = StringField(_l("Item name (Chinese)"), validators=[_rule(clean_name_zh)])
    name_en = StringField(_l("Item name (English)"), validators=[_rule(clean_name_en)])
    category = SelectField(
        _l("Goods"),
        choices=[SelectChoice(c, CATEGORY_LABELS[c]) for c in GOODS_CATEGORIES],
        default="general",
    )
    quantity = StringField(_l("Quantity"), default="1", validators=[_rule(parse_quantity)])
    unit_value = StringField(_l("Unit value (CNY)"), validators=[_rule(parse_unit_value)])
    hs_code = StringField(_l("HS code (optional)"), validators=[_rule(parse_hs_code)])

    def to_input(self) -> DeclarationInput:
        return DeclarationInput(
            name_zh=clean_name_zh(self.name_zh.data),
            name_en=clean_name_en(self.name_en.data),
            category=self.category.data,
            quantity=parse_quantity(self.quantity.data),
            unit_value_fen=parse_unit_value(self.unit_value.data),
            hs_code=parse_hs_code(self.hs_code.data),
        )


class WizardForm(Form):
    """Every field of the draft; each step shows some and carries the rest as hidden inputs."""

    token = HiddenField()
    step = HiddenField()
    weight = StringField(_l("Estimated total weight (kg)"), filters=[strip])
    channel = HiddenField()
    lines = FieldList(FormField(LineForm), max_entries=MAX_DECLARATION_LINES)
    insure = BooleanField(_l("Insure the shipment for its declared value"))
    note = StringField(
        _l("Note for the warehouse"),
        filters=[strip],
        validators=[Optional(), Length(max=200), printable],
    )
    # Carried from the quote page: the destination the customer priced.
    country = HiddenField()
    # The coupon chosen at review: an id, "none", or empty (not chosen yet: the best is offered).
    coupon = HiddenField(filters=[strip])

    def __init__(self, formdata, **kwargs):
        super().__init__(formdata, **kwargs)
        self.parcel_ids = _int_list(formdata.getlist("parcel"), MAX_PARCELS) if formdata else []
        self.address_id = (
            (_int_list(formdata.getlist("address"), 1) or [None])[0] if formdata else None
        )
        self.service_codes = (
            list(dict.fromkeys(formdata.getlist("service")[:20])) if formdata else []
        )
        self.errors_by_step: dict[str, list[str]] = {}

    def step_error(self, step: str, message) -> None:
        shown = self.errors_by_step.setdefault(step, [])
        if str(message) not in map(str, shown):  # a check run twice says it once
            shown.append(message)

    def weight_g(self) -> int | None:
        kg = parse_decimal(self.weight.data, 3)
        return int(kg * 1000) if kg is not None and kg > 0 else None

    def declared_total_fen(self) -> int:
        """The lines' total (call after the lines validated)."""
        return sum(entry.form.to_input().total_fen for entry in self.lines)

    def set_lines(self, rows: list[dict]) -> None:
        """Replace the declaration lines (after adding, removing or copying one)."""
        while self.lines.entries:
            self.lines.pop_entry()
        for row in rows[:MAX_DECLARATION_LINES]:
            self.lines.append_entry(row)

    def line_rows(self) -> list[dict]:
        return [entry.data for entry in self.lines]

    def to_request(self) -> OrderRequest:
        """The draft as an order request (call once every step has passed)."""
        return OrderRequest(
            submit_token=self.token.data or "",
            parcel_ids=tuple(self.parcel_ids),
            address_id=self.address_id or 0,
            channel_code=self.channel.data or "",
            weight_g=self.weight_g() or 0,
            declarations=tuple(entry.form.to_input() for entry in self.lines),
            insure=self.insure.data,
            service_codes=tuple(self.service_codes),
            note=self.note.data or "",
            coupon_id=self.coupon_id(),
        )

    def coupon_id(self) -> int | None:
        value = self.coupon.data or ""
        return int(value) if re.fullmatch(r"[0-9]{1,9}", value) else None
