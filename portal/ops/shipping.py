"""The shipping desk (出库): paid orders waiting to leave, shipping one by scanning its number;
tracking events (one by one or a carrier's file) and marking an order delivered."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import Order, OrderEvent, User
from portal.models.base import is_id
from portal.ops import bp
from portal.ops.packing import scan_order
from portal.orders import labels
from portal.paging import parse_page
from portal.services import shipping, tracking_import
from portal.services.errors import DomainError, ValidationFailed
from portal.services.order_states import TransitionRefused

PER_PAGE = 50

# The carriers of the ship form, wherever it is shown (the desk, an order's actions).
bp.add_app_template_global(shipping.CARRIERS, "outbound_carriers")


def _order(order_id: int) -> Order:
    order = db.session.get(Order, order_id) if is_id(order_id) else None
    if order is None:
        abort(404)
    return order


def _actor() -> User:
    return current_user._get_current_object()


# ---- the shipping desk ---------------------------------------------------------------------------


def _paid_orders(page: int) -> tuple[list[tuple[Order, object]], int]:
    """One page of paid orders with the time each was paid, oldest paid first; and the count."""
    paid_at = (
        select(OrderEvent.order_id, func.max(OrderEvent.created_at).label("paid_at"))
        .where(OrderEvent.to_status == "paid")
        .group_by(OrderEvent.order_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Order, paid_at.c.paid_at)
        .outerjoin(paid_at, paid_at.c.order_id == Order.id)
        .where(Order.status == "paid")
        .order_by(paid_at.c.paid_at, Order.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    total = db.session.scalar(select(func.count()).select_from(Order).where(Order.status == "paid"))
    return [(order, when) for order, when in rows], total


def _desk(
    selected: Order | None = None,
    status: int = 200,
    errors: dict | None = None,
    scan_error: str | None = None,
    refusal: str = "",
):
    page = parse_page(request.args.get("page"))
    rows, total = _paid_orders(page)
    return page_or_partial(
        "ops/shipping.html",
        "ops/_shipping_desk.html",
        status,
        rows=rows,
        total=total,
        page_no=page,
        pages=max(1, -(-total // PER_PAGE)),
        selected=selected,
        errors=errors or {},
        scan_error=scan_error,
        refusal=refusal,
        values=request.form if request.method == "POST" else {},
        scanned=(request.args.get("order_no") or "")[:40],
        customers=dict(
            db.session.execute(
                select(User.id, User.customer_code).where(
                    User.id.in_({o.customer_id for o, _when in rows})
                )
            ).all()
        ),
        channel_names=labels.channel_names([o for o, _when in rows]),
    )


@bp.route("/shipping", endpoint="shipping")
def shipping_desk():
    """Paid orders awaiting shipment; scanning an order number opens its ship form."""
    scanned = request.args.get("order_no")
    if scanned is None:
        return _desk()
    order, scan_error = scan_order(scanned[:100])
    if order is not None and order.status != "paid":
        scan_error = _(
            "Order %(no)s is %(status)s; only paid orders can be shipped.",
            no=order.order_no,
            status=labels.status_label(order.status),
        )
    if scan_error:
        return _desk(status=422, scan_error=scan_error)
    return _desk(order)


@bp.route("/orders/<int:order_id>/ship", methods=["POST"])
def ship(order_id: int):
    """Record the carrier and outbound tracking number; the order leaves the warehouse."""
    order = _order(order_id)
    errors = {}
    try:
        carrier = shipping.carrier_name(
            request.form.get("carrier"), request.form.get("carrier_other")
        )
    except ValidationFailed as err:
        errors[err.field] = str(err.message)
    try:
        number = shipping.outbound_tracking_no(request.form.get("tracking_no"))
    except ValidationFailed as err:
        errors[err.field] = str(err.message)
    if errors:
        return _desk(order, 422, errors)
    try:
        shipping.ship_order(_actor(), order, carrier, number)
    except (shipping.NotShippable, TransitionRefused) as err:
        db.session.rollback()
        return _desk(None, 409, refusal=str(err.message))
    except DomainError as err:
        db.session.rollback()
        return _desk(_order(order_id), 422, {err.field or "tracking_no": str(err.message)})
    db.session.commit()
    flash(
        _(
            "Order %(order_no)s shipped with %(carrier)s %(no)s.",
            order_no=order.order_no,
            carrier=carrier,
            no=number,
        ),
        "success",
    )
    return hx_redirect(url_for("ops.shipping"))


# ---- tracking and delivery -----------------------------------------------------------------------


def _tracking_page(order: Order, status: int = 200, errors: dict | None = None, refusal: str = ""):
    return page_or_partial(
        "ops/tracking.html",
        "ops/_shipping_tracking.html",
        status,
        order=order,
        errors=errors or {},
        refusal=refusal,
        values=request.form if request.method == "POST" else {},
        labels=labels,
    )


@bp.route("/orders/<int:order_id>/tracking", methods=["GET", "POST"])
def tracking_add(order_id: int):
    """An order's timeline with a form to add one event (time in Beijing time)."""
    order = _order(order_id)
    if request.method == "GET":
        return _tracking_page(order)
    form = request.form
    try:
        event = shipping.event_input(
            form.get("occurred_at"), form.get("place"), form.get("description")
        )
        shipping.add_tracking_event(_actor(), order, event)
    except shipping.NotShippable as err:
        db.session.rollback()
        return _tracking_page(_order(order_id), 409, refusal=str(err.message))
    except DomainError as err:
        db.session.rollback()
        return _tracking_page(_order(order_id), 422, {err.field or "description": str(err.message)})
    db.session.commit()
    flash(_("Tracking event added to order %(order_no)s.", order_no=order.order_no), "success")
    return hx_redirect(url_for("ops.tracking_add", order_id=order.id))


@bp.route("/orders/<int:order_id>/deliver", methods=["POST"])
def deliver(order_id: int):
    """Mark a shipped order signed for at its destination."""
    order = _order(order_id)
    try:
        shipping.deliver_order(_actor(), order)
    except DomainError as err:
        db.session.rollback()
        return _tracking_page(_order(order_id), 409, refusal=str(err.message))
    db.session.commit()
    flash(_("Order %(order_no)s marked delivered.", order_no=order.order_no), "success")
    return hx_redirect(url_for("ops.tracking_add", order_id=order.id))


@bp.route("/tracking/import", methods=["GET", "POST"], endpoint="tracking_import")
def tracking_import_page():
    """Upload a carrier's CSV of tracking events: all rows or none, repeats skipped."""
    error, row_errors = None, []
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.stream.read(tracking_import.MAX_BYTES + 1) if upload else b""
        try:
            result = tracking_import.import_tracking(_actor(), data)
        except tracking_import.RowsInvalid as err:
            db.session.rollback()
            error, row_errors = str(err.message), err.errors
        except DomainError as err:
            db.session.rollback()
            error = str(err.message)
        else:
            db.session.commit()
            flash(
                _(
                    "Tracking events imported: %(added)s new, %(skipped)s already recorded.",
                    added=result.added,
                    skipped=result.skipped,
                ),
                "success",
            )
            return hx_redirect(url_for("ops.tracking_import"))
    return page_or_partial(
        "ops/tracking_import.html",
        "ops/_shipping_import.html",
        422 if error else 200,
        error=error,
        row_errors=row_errors,
        max_rows=tracking_import.MAX_ROWS,
    )
