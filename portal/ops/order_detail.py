"""One order as staff see it: customer, address, parcels, declaration, charges, boxes, history."""

from flask import abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Order, OrderParcel, User
from portal.models.address import mask
from portal.models.base import is_id
from portal.ops import bp
from portal.orders import labels


def load_order(order_id: int) -> Order:
    """The order with everything its pages show, or 404."""
    order = None
    if is_id(order_id):
        order = db.session.scalar(
            select(Order)
            .where(Order.id == order_id)
            .options(
                selectinload(Order.parcel_links).selectinload(OrderParcel.parcel),
                selectinload(Order.declaration_lines),
                selectinload(Order.services),
                selectinload(Order.charge_lines),
                selectinload(Order.boxes),
                selectinload(Order.events),
                selectinload(Order.tracking_events),
            )
        )
    if order is None:
        abort(404)
    return order


def order_context(order: Order) -> dict:
    """What the order page and the printed pages need besides the order."""
    return {
        "order": order,
        "customer": db.session.get(User, order.customer_id),
        "parcels": [link.parcel for link in order.parcel_links],
        "services": {s.code: s for s in order.services},
        "channel_name": labels.channel_names([order])[order.id],
        "labels": labels,
    }


@bp.route("/orders/<int:order_id>")
def order(order_id: int):
    """Everything about one order, with the print buttons and the actions staff may take."""
    found = load_order(order_id)
    return render_template(
        "ops/order.html",
        comparison=labels.compare(found) if found.bill_fen is not None else None,
        tax_id=mask(found.ship_tax_id),
        **order_context(found),
    )
