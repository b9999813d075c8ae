"""The words of each kind of message, in the reader's language (messages store a kind and
parameters, never text)."""

from collections.abc import Callable, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.models import Notification
from portal.services import notifications

TITLES = {
    notifications.ORDER_PLACED: _l("Order placed"),
    notifications.ORDER_CANCELLED: _l("Order cancelled"),
}

TEXTS: dict[str, Callable[[Mapping], str]] = {
    notifications.ORDER_PLACED: lambda p: _(
        "Order %(order_no)s has been placed. We will pack it once all its parcels have arrived.",
        order_no=p["order_no"],
    ),
    notifications.ORDER_CANCELLED: lambda p: _(
        "Order %(order_no)s has been cancelled; its parcels are back in your parcel list.",
        order_no=p["order_no"],
    ),
}


def title(message: Notification) -> str:
    return str(TITLES.get(message.kind, _l("Message")))


def text(message: Notification) -> str:
    """The message in words; a kind or parameters this code does not know get a generic text."""
    make = TEXTS.get(message.kind)
    params = message.params if isinstance(message.params, Mapping) else {}
    if make is not None:
        try:
            return make(params)
        except (KeyError, TypeError, ValueError):
            pass
    return _("You have a new message.")
