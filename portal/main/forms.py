from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField

from portal.i18n import LANGUAGE_NAMES


class LanguageForm(FlaskForm):
    lang = SelectField(choices=[SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()])
    next = HiddenField()
