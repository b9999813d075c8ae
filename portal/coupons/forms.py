"""The coupon wallet's forms: claiming an offered coupon and redeeming a code."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from portal.forms import strip


class ClaimForm(FlaskForm):
    # The template's id rides in the form, not the URL: it names an offer, not an owned object.
    template = IntegerField(
        validators=[
            DataRequired(_l("This coupon is not offered.")),
            NumberRange(min=1, max=2**31 - 1, message=_l("This coupon is not offered.")),
        ]
    )


class RedeemForm(FlaskForm):
    code = StringField(
        _l("Coupon code"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter a coupon code.")),
            Length(max=30, message=_l("A coupon code has at most 30 characters.")),
        ],
    )
