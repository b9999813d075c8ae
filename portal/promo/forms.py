"""The promotion center's forms: withdrawing rebates and entering an inviter's code."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from portal.forms import strip


class WithdrawForm(FlaskForm):
    amount = StringField(
        _l("Amount (yuan)"),
        filters=[strip],
        validators=[DataRequired(_l("Enter the amount to withdraw."))],
    )
    # One submission of the form: a fresh uuid4 hex on every render.
    key = HiddenField(
        validators=[
            Regexp(r"^[0-9a-f]{32}\Z", message=_l("This form is out of date; please try again."))
        ]
    )


class BindInviterForm(FlaskForm):
    invite_code = StringField(
        _l("Invite code"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter the invite code.")),
            Length(max=20, message=_l("An invite code has at most 20 characters.")),
        ],
    )
