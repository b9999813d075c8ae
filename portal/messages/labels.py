"""The words of each kind of message, in the reader's language (messages store a kind and
parameters, never text)."""

from collections.abc import Callable, Mapping

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.models import Notification
from portal.services import notifications

TITLES = {
    notifications.ORDER_PLACED: _l("Order placed"),
    notifications.ORDER_CANCELLED: _l("Order cancelled"),
    notifications.PARCEL_RECEIVED: _l("Parcel received"),
    notifications.CLAIM_APPROVED: _l("Claim approved"),
    notifications.CLAIM_REJECTED: _l("Claim rejected"),
    notifications.ORDER_PACKED: _l("Order packed: please pay"),
    notifications.ORDER_SHIPPED: _l("Order shipped"),
    notifications.ORDER_DELIVERED: _l("Order delivered"),
    notifications.ORDER_PAID: _l("Order paid"),
    notifications.RECHARGE_APPROVED: _l("Recharge approved"),
    notifications.RECHARGE_REJECTED: _l("Recharge rejected"),
    notifications.RECHARGE_PAID: _l("Recharge received"),
    notifications.ORDER_REFUNDED: _l("Refund"),
    notifications.BALANCE_ADJUSTED: _l("Balance adjusted"),
    notifications.ORDER_PAID_STAFF: _l("Order paid, ready to ship"),
    notifications.REBATE_EARNED: _l("Invite rebate"),
    notifications.COUPON_ISSUED: _l("New coupon"),
    notifications.MEMBERSHIP_EXPIRING: _l("Membership ending soon"),
}


def _name(params: Mapping) -> str:
    """A name stored in both languages (a coupon's, a tier's), in the reader's."""
    chinese = str(get_locale()).startswith("zh")
    return params["name_zh"] if chinese else params["name_en"]


TEXTS: dict[str, Callable[[Mapping], str]] = {
    notifications.ORDER_PLACED: lambda p: _(
        "Order %(order_no)s has been placed. We will pack it once all its parcels have arrived.",
        order_no=p["order_no"],
    ),
    notifications.ORDER_CANCELLED: lambda p: _(
        "Order %(order_no)s has been cancelled; its parcels are back in your parcel list.",
        order_no=p["order_no"],
    ),
    notifications.PARCEL_RECEIVED: lambda p: _(
        "Your parcel %(tracking_no)s has arrived at the warehouse (%(weight)s kg). "
        "Free storage starts today.",
        tracking_no=p["tracking_no"],
        weight=p["weight"],
    ),
    notifications.CLAIM_APPROVED: lambda p: _(
        "Your claim for parcel %(tracking_no)s was approved; it is now in your parcel list.",
        tracking_no=p["tracking_no"],
    ),
    notifications.CLAIM_REJECTED: lambda p: _(
        "Your claim for parcel %(tracking_no)s was not approved: %(reason)s",
        tracking_no=p["tracking_no"],
        reason=p["reason"],
    ),
    notifications.ORDER_PACKED: lambda p: _(
        "Order %(order_no)s has been packed and weighed; the bill is %(amount)s yuan. "
        "Please pay it so we can ship.",
        order_no=p["order_no"],
        amount=p["amount"],
    ),
    notifications.ORDER_SHIPPED: lambda p: _(
        "Order %(order_no)s has left the warehouse with %(carrier)s, tracking number "
        "%(tracking_no)s.",
        order_no=p["order_no"],
        carrier=p["carrier"],
        tracking_no=p["tracking_no"],
    ),
    notifications.ORDER_DELIVERED: lambda p: _(
        "Order %(order_no)s has been delivered.", order_no=p["order_no"]
    ),
    notifications.ORDER_PAID: lambda p: _(
        "Order %(order_no)s has been paid; we will ship it soon.", order_no=p["order_no"]
    ),
    notifications.RECHARGE_APPROVED: lambda p: _(
        "Your recharge %(recharge_no)s of ¥%(amount)s was approved and added to your balance.",
        recharge_no=p["recharge_no"],
        amount=p["amount"],
    ),
    notifications.RECHARGE_REJECTED: lambda p: _(
        "Your recharge %(recharge_no)s of ¥%(amount)s was not approved: %(reason)s",
        recharge_no=p["recharge_no"],
        amount=p["amount"],
        reason=p["reason"],
    ),
    notifications.RECHARGE_PAID: lambda p: _(
        "Your online recharge %(recharge_no)s of ¥%(amount)s has been added to your balance.",
        recharge_no=p["recharge_no"],
        amount=p["amount"],
    ),
    notifications.ORDER_REFUNDED: lambda p: _(
        "¥%(amount)s for order %(order_no)s was refunded to your balance: %(reason)s",
        order_no=p["order_no"],
        amount=p["amount"],
        reason=p["reason"],
    ),
    notifications.BALANCE_ADJUSTED: lambda p: _(
        "Your balance was adjusted by ¥%(amount)s: %(reason)s",
        amount=p["amount"],
        reason=p["reason"],
    ),
    notifications.ORDER_PAID_STAFF: lambda p: _(
        "Customer %(customer_code)s paid ¥%(amount)s for order %(order_no)s; it can be shipped.",
        customer_code=p["customer_code"],
        amount=p["amount"],
        order_no=p["order_no"],
    ),
    notifications.REBATE_EARNED: lambda p: _(
        "Someone you invited paid an order: ¥%(amount)s rebate was added to your rebate balance.",
        amount=p["amount"],
    ),
    notifications.COUPON_ISSUED: lambda p: _(
        "You have a new coupon: %(name)s. It is in your coupons.", name=_name(p)
    ),
    notifications.MEMBERSHIP_EXPIRING: lambda p: _(
        "Your %(name)s membership ends on %(day)s. Renew it to keep the discount.",
        name=_name(p),
        day=p["day"],
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
