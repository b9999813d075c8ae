from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.forms import printable, strip


class LoginForm(FlaskForm):
    identifier = StringField(
        _l("Mobile number or email"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter your mobile number or email address.")),
            Length(max=254),
        ],
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=1024)]
    )
    remember = BooleanField(_l("Keep me logged in for 30 days"))


class WuliutongLoginForm(FlaskForm):
    """Log in with an account of the 物流通 sister system (checked there, never stored here)."""

    account = StringField(
        _l("物流通 account"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter your 物流通 account.")),
            Length(max=128),
            printable,
        ],
    )
    password = PasswordField(
        _l("物流通 password"),
        validators=[DataRequired(_l("Enter your 物流通 password.")), Length(max=1024)],
    )
    remember = BooleanField(_l("Keep me logged in for 30 days"))


class RegisterForm(FlaskForm):
    identifier = StringField(
        _l("Mobile number or email"),
        filters=[strip],
        validators=[
            DataRequired(_l("Enter your mobile number or email address.")),
            Length(max=254),
        ],
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Choose a password."))])
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[
            DataRequired(_l("Repeat the password.")),
            EqualTo("password", _l("The two passwords differ.")),
        ],
    )
    invite_code = StringField(
        _l("Invite code (optional)"), filters=[strip], validators=[Length(max=20)]
    )
