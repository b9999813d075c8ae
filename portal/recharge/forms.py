"""The recharge forms (bank transfer, QR scan): an amount, a receipt photo, an optional note and
a submit token made per render, so a double click records one recharge."""

import re
import unicodedata
from uuid import uuid4

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, StringField, ValidationError

from portal.recharge.labels import CHANNEL_LABELS
from portal.services import amounts, images, recharges
from portal.services.errors import ValidationFailed

MAX_PAYER_NAME = 60
MAX_NOTE = 200
TOKEN = re.compile(r"[0-9a-f]{32}")


def squash(value):
    """Spaces (full-width ones too) trimmed and runs of them made one; control characters stay
    (and are refused)."""
    if not isinstance(value, str):
        return value
    spaced = "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in value)
    return " ".join(part for part in spaced.split(" ") if part)


def prefill_amount(raw: object) -> str:
    """A ?amount= worth putting in the amount field ("12.50"), or "" when it is not valid."""
    try:
        return amounts.plain_yuan(amounts.parse_yuan(raw, "amount", recharges.MAX_RECHARGE_FEN))
    except ValidationFailed:
        return ""


def _text(limit: int, required: str | None = None):
    """A one-line text rule: at most `limit` printable characters, required when told why."""

    def check(_form, field) -> None:
        value = field.data or ""
        if not value:
            if required:
                raise ValidationError(required)
            return
        if len(value) > limit or not value.isprintable():
            raise ValidationError(
                _l("At most %(limit)s characters, without control characters.", limit=limit)
            )

    return check


class ReceiptForm(FlaskForm):
    """What both reviewed ways share; subclasses add the receipt field with its own label."""

    amount = StringField(_l("Amount (yuan)"))
    note = StringField(_l("Note (optional)"), filters=[squash], validators=[_text(MAX_NOTE)])
    submit_token = HiddenField()

    def __init__(self, *args, amount: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.amount_fen = 0
        self._receipt: bytes | None = None
        if not self.is_submitted():
            self.amount.data = amount
            self.submit_token.data = uuid4().hex

    def validate_amount(self, field) -> None:
        try:
            self.amount_fen = amounts.parse_yuan(field.data, "amount", recharges.MAX_RECHARGE_FEN)
        except ValidationFailed as err:
            raise ValidationError(err.message) from None

    def validate_receipt(self, _field) -> None:
        if not self.receipt_bytes():
            raise ValidationError(_l("Choose a photo of your payment receipt."))

    def validate_submit_token(self, field) -> None:
        if not TOKEN.fullmatch(field.data or ""):
            field.data = uuid4().hex
            raise ValidationError(_l("This form was out of date. Check it and send it again."))

    def receipt_bytes(self) -> bytes:
        """The uploaded photo's bytes (one more than the limit at most, so a big one is refused)."""
        if self._receipt is None:
            upload = self.receipt.data
            self._receipt = upload.stream.read(images.MAX_BYTES + 1) if upload else b""
        return self._receipt

    def shown_amount(self) -> str:
        """The typed amount as the field shows it again (a 10 kB paste is not echoed whole)."""
        typed = self.amount.data if isinstance(self.amount.data, str) else ""
        return "".join(ch for ch in typed[:30] if ch.isprintable())


class BankTransferForm(ReceiptForm):
    payer_name = StringField(
        _l("Payer name"),
        filters=[squash],
        validators=[_text(MAX_PAYER_NAME, _l("Enter the name on the paying account."))],
    )
    receipt = FileField(_l("Transfer receipt"))


class QrForm(ReceiptForm):
    channel = RadioField(_l("Paid with"), validate_choice=False)
    receipt = FileField(_l("Payment screenshot"))

    def __init__(self, *args, channels: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel.choices = [(code, CHANNEL_LABELS[code]) for code in channels]
        if not self.is_submitted() and len(channels) == 1:
            self.channel.data = channels[0]

    def validate_channel(self, field) -> None:
        if field.data not in {code for code, _label in self.channel.choices}:
            raise ValidationError(_l("Choose the app you paid with."))
