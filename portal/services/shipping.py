"""Shipping a paid order (出库), its tracking events (物流轨迹) and its delivery (已签收)."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import Order, TrackingEvent, User, utcnow
from portal.services import audit, couriers, notifications
from portal.services.errors import DomainError, ValidationFailed
from portal.services.order_states import STAFF, transition
from portal.services.rate_cards import BUSINESS_ZONE
from portal.services.text import clean_line

# The outbound carriers offered in the ship form; anything else is typed as "other".
CARRIERS = ("DHL", "FedEx", "UPS", "EMS", "USPS", "SF International", "4PX", "Yanwen", "Cainiao")
OTHER = "other"
MAX_CARRIER = 40
MIN_OUTBOUND_NO, MAX_OUTBOUND_NO = 4, 40
MAX_PLACE = 100
MAX_DESCRIPTION = 300
# A clock a little ahead (a phone, a carrier's server) is tolerated; the future is not.
FUTURE_SLACK = timedelta(minutes=5)
TRACKABLE = ("shipped", "delivered")

_OUTBOUND_NO = re.compile(r"[A-Z0-9]+")
_LOCAL_TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


class NotShippable(DomainError):
    """The order is not in a state for this act (not paid, not shipped yet, already done)."""


@dataclass(frozen=True)
class EventInput:
    """One tracking event as checked: a UTC time, a place and what happened."""

    occurred_at: datetime
    place: str
    description: str


# ---- fields --------------------------------------------------------------------------------------


def carrier_name(choice: str | None, other: str | None) -> str:
    """The carrier's name: a choice from the list, the name typed for "other", or free text."""
    choice = (choice or "").strip()
    if choice == OTHER:
        return clean_line(other, "carrier_other", MAX_CARRIER, _l("Enter the carrier's name."))
    if choice in CARRIERS:
        return choice
    return clean_line(choice, "carrier", MAX_CARRIER, _l("Choose or type the carrier."))


def outbound_tracking_no(raw: str | None, field: str = "tracking_no") -> str:
    """A normalised outbound tracking number (4 to 40 letters and digits)."""
    number = couriers.normalise_tracking_no((raw or "").strip())
    if not number:
        raise ValidationFailed(_l("Enter or scan the outbound tracking number."), field)
    if not (MIN_OUTBOUND_NO <= len(number) <= MAX_OUTBOUND_NO and _OUTBOUND_NO.fullmatch(number)):
        raise ValidationFailed(
            _l("An outbound tracking number has 4 to 40 letters and digits."), field
        )
    return number


def beijing_time(raw: str | None, field: str = "occurred_at") -> datetime:
    """A Beijing time as typed ("2026-11-22 14:30" or the browser's "2026-11-22T14:30") in UTC;
    not in the future beyond a few minutes."""
    text = (raw or "").strip().replace("/", "-")
    if not text:
        raise ValidationFailed(_l("Enter the time of the event."), field)
    for pattern in _LOCAL_TIME_FORMATS:
        try:
            local = datetime.strptime(text, pattern)
        except ValueError:
            continue
        moment = local.replace(tzinfo=BUSINESS_ZONE).astimezone(UTC)
        if moment > utcnow() + FUTURE_SLACK:
            raise ValidationFailed(_l("The time may not be in the future."), field)
        if local.year < 2000:
            raise ValidationFailed(_l("Enter a time after the year 2000."), field)
        return moment
    raise ValidationFailed(_l("Enter a time as YYYY-MM-DD HH:MM (Beijing time)."), field)


def event_input(occurred_at: str | None, place: str | None, description: str | None) -> EventInput:
    """Check one tracking event's fields; raises ValidationFailed naming the first bad field."""
    return EventInput(
        occurred_at=beijing_time(occurred_at),
        place=clean_line(place, "place", MAX_PLACE),
        description=clean_line(
            description, "description", MAX_DESCRIPTION, _l("Describe what happened.")
        ),
    )


# ---- acts ----------------------------------------------------------------------------------------


def ship_order(actor: User, order: Order, carrier: str, tracking_no: str) -> None:
    """Hand a paid order to its carrier: 已支付 → 已出库 with the outbound tracking number.

    Raises NotShippable, ValidationFailed (a number already on another order) or
    TransitionRefused when someone else shipped or cancelled it meanwhile.
    """
    if order.status != "paid":
        if order.status in TRACKABLE:
            raise NotShippable(_l("This order has already been shipped."))
        raise NotShippable(_l("Only paid orders can be shipped."))
    taken = db.session.scalar(
        select(Order.order_no).where(
            Order.outbound_tracking_no == tracking_no,
            Order.id != order.id,
            Order.status.in_(TRACKABLE),
        )
    )
    if taken:
        raise ValidationFailed(
            _l("This tracking number is already on order %(order_no)s.", order_no=taken),
            "tracking_no",
        )
    transition(order, "shipped", actor.id, STAFF, f"{carrier} {tracking_no}")
    order.outbound_carrier, order.outbound_tracking_no = carrier, tracking_no
    order.shipped_at = utcnow()
    db.session.flush()
    notifications.notify(
        order.customer_id,
        notifications.ORDER_SHIPPED,
        f"/orders/{order.order_no}",
        order_no=order.order_no,
        carrier=carrier,
        tracking_no=tracking_no,
    )
    audit.record(
        actor,
        "order.ship",
        "order",
        order.order_no,
        {"status": "paid"},
        {"status": "shipped", "carrier": carrier, "tracking_no": tracking_no},
    )


def deliver_order(actor: User, order: Order) -> None:
    """Mark a shipped order signed for: 已出库 → 已签收. Raises NotShippable or
    TransitionRefused when it changed meanwhile."""
    if order.status != "shipped":
        if order.status == "delivered":
            raise NotShippable(_l("This order has already been marked delivered."))
        raise NotShippable(_l("Only shipped orders can be marked delivered."))
    transition(order, "delivered", actor.id, STAFF)
    order.delivered_at = utcnow()
    db.session.flush()
    notifications.notify(
        order.customer_id,
        notifications.ORDER_DELIVERED,
        f"/orders/{order.order_no}",
        order_no=order.order_no,
    )
    audit.record(
        actor,
        "order.deliver",
        "order",
        order.order_no,
        {"status": "shipped"},
        {"status": "delivered"},
    )


def add_tracking_event(actor: User, order: Order, event: EventInput) -> TrackingEvent:
    """Add one step to a shipped (or delivered) order's timeline.

    Raises NotShippable before shipping, ValidationFailed for an event already recorded.
    """
    if order.status not in TRACKABLE:
        raise NotShippable(_l("Tracking events can be added once the order has been shipped."))
    row = TrackingEvent(
        order_id=order.id,
        occurred_at=event.occurred_at,
        place=event.place,
        description=event.description,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError as exc:
        raise ValidationFailed(_l("This event is already in the timeline."), "description") from exc
    audit.record(
        actor,
        "order.tracking_add",
        "order",
        order.order_no,
        None,
        {
            "occurred_at": event.occurred_at.isoformat(),
            "place": event.place,
            "description": event.description,
        },
    )
    db.session.expire(order, ["tracking_events"])
    return row
