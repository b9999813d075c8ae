"""The order list's search box and the cancel confirmation."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional, Regexp

from portal.forms import printable, strip

ORDER_NO = re.compile(r"[A-Z0-9]{1,20}")


def upper(value):
    return value.upper() if isinstance(value, str) else value


class OrderSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(
        _l("Order number"),
        filters=[strip, upper],
        validators=[
            Optional(),
            Length(max=20, message=_l("An order number has at most 20 characters.")),
            Regexp(r"^[A-Z0-9]+\Z", message=_l("An order number has only letters and digits.")),
        ],
    )


class CancelForm(FlaskForm):
    reason = StringField(
        _l("Reason (optional)"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=200, message=_l("At most 200 characters.")),
            printable,
        ],
    )
