"""The membership page's form: buying or renewing one tier."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.validators import DataRequired, NumberRange, Regexp


class BuyForm(FlaskForm):
    tier = IntegerField(
        validators=[
            DataRequired(_l("This membership is not offered.")),
            NumberRange(min=1, max=2**31 - 1, message=_l("This membership is not offered.")),
        ]
    )
    # One press of the button: a fresh uuid4 hex on every render of the page.
    key = HiddenField(
        validators=[
            Regexp(r"^[0-9a-f]{32}\Z", message=_l("This form is out of date; please try again."))
        ]
    )
