from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField

from portal.i18n import LANGUAGE_NAMES


class LanguageForm(FlaskForm):
    lang = SelectField(choices=list(LANGUAGE_NAMES.items()))
    next = HiddenField()
