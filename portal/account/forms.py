from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), Length(max=1024)],
    )
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(_l("Choose a new password."))]
    )
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[
            DataRequired(_l("Repeat the new password.")),
            EqualTo("new_password", _l("The two passwords differ.")),
        ],
    )


class PhoneForm(FlaskForm):
    phone = StringField(
        _l("Mobile number"),
        validators=[DataRequired(_l("Enter your mobile number.")), Length(max=32)],
    )


class SetPasswordForm(FlaskForm):
    new_password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Choose a password."))]
    )
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[
            DataRequired(_l("Repeat the password.")),
            EqualTo("new_password", _l("The two passwords differ.")),
        ],
    )


class WuliutongBindForm(FlaskForm):
    account = StringField(
        _l("物流通 account"),
        validators=[DataRequired(_l("Enter your 物流通 account.")), Length(max=64)],
    )
    password = PasswordField(
        _l("物流通 password"),
        validators=[DataRequired(_l("Enter your 物流通 password.")), Length(max=1024)],
    )
