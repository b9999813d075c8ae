"""Packing (打包): the queue of orders whose parcels have all arrived, the pack page where boxes
are weighed, measured and photographed and the bill is made, and the photos staff look at."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, func, select

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.i18n import format_fen
from portal.models import Order, OrderBox, OrderParcel, Parcel, ParcelPhoto, User
from portal.models.base import is_id
from portal.ops import bp
from portal.orders import labels
from portal.orders.forms import ORDER_NO
from portal.paging import parse_page
from portal.photos import send_photo
from portal.services import images, packing
from portal.services.errors import DomainError
from portal.services.order_states import TransitionRefused

PER_PAGE = 50
BOX_ROWS = 5
ADJUSTMENT_ROWS = 3


# ---- the queue -----------------------------------------------------------------------------------


def _missing_parcel():
    """A live parcel of the order not received yet (correlated to Order)."""
    return exists().where(
        OrderParcel.order_id == Order.id,
        OrderParcel.released_at.is_(None),
        OrderParcel.parcel_id == Parcel.id,
        Parcel.received_at.is_(None),
    )


def _queue_counts() -> dict[bool, int]:
    """Orders waiting to be packed: ready (False) and still waiting for parcels (True)."""
    return {
        waiting: db.session.scalar(
            select(func.count())
            .select_from(Order)
            .where(
                Order.status == "pending_pack",
                _missing_parcel() if waiting else ~_missing_parcel(),
            )
        )
        for waiting in (False, True)
    }


def _parcel_counts(order_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Order id -> (parcels bound, parcels received)."""
    if not order_ids:
        return {}
    rows = db.session.execute(
        select(OrderParcel.order_id, func.count(), func.count(Parcel.received_at))
        .join(Parcel, Parcel.id == OrderParcel.parcel_id)
        .where(OrderParcel.order_id.in_(order_ids), OrderParcel.released_at.is_(None))
        .group_by(OrderParcel.order_id)
    )
    return {order_id: (bound, received) for order_id, bound, received in rows.all()}


def scan_order(number: str) -> tuple[Order | None, str | None]:
    """The order a scanned number names, or a message saying why there is none."""
    number = number.strip().upper()
    if not ORDER_NO.fullmatch(number):
        return None, _("Scan or type an order number such as JY261122K7Q3M8.")
    order = db.session.scalar(select(Order).where(Order.order_no == number))
    if order is None:
        return None, _("No order has the number %(no)s.", no=number)
    return order, None


@bp.route("/packing")
def packing_queue():
    """Orders waiting to be packed whose parcels have all arrived, oldest first."""
    waiting = request.args.get("waiting") == "1"
    scan_error = None
    scanned = request.args.get("order_no")
    if scanned is not None:
        order, scan_error = scan_order(scanned[:100])
        if order is not None:
            return hx_redirect(url_for("ops.pack", order_id=order.id))
    page = parse_page(request.args.get("page"))
    condition = _missing_parcel() if waiting else ~_missing_parcel()
    orders = list(
        db.session.scalars(
            select(Order)
            .where(Order.status == "pending_pack", condition)
            .order_by(Order.created_at, Order.id)
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
    )
    counts = _queue_counts()
    customers = dict(
        db.session.execute(
            select(User.id, User.customer_code).where(User.id.in_({o.customer_id for o in orders}))
        ).all()
    )
    total = counts[waiting]
    return page_or_partial(
        "ops/packing_queue.html",
        "ops/_packing_list.html",
        422 if scan_error else 200,
        orders=orders,
        waiting=waiting,
        counts=counts,
        page_no=page,
        pages=max(1, -(-total // PER_PAGE)),
        parcel_counts=_parcel_counts([o.id for o in orders]),
        customers=customers,
        scan_error=scan_error,
        scanned=(scanned or "")[:40],
        channel_names=labels.channel_names(orders),
    )


# ---- the pack page -------------------------------------------------------------------------------


def _order(order_id: int) -> Order:
    order = db.session.get(Order, order_id) if is_id(order_id) else None
    if order is None:
        abort(404)
    return order


def _read_form() -> tuple[list, list, dict]:
    """The box and adjustment rows posted, and every bad field's message."""
    boxes, adjustments, errors = [], [], {}
    for n in range(1, BOX_ROWS + 1):
        upload = request.files.get(f"box-{n}-photo")
        photo = upload.stream.read(images.MAX_BYTES + 1) if upload and upload.filename else None
        try:
            box = packing.parse_box(f"box-{n}", request.form, photo)
        except packing.InvalidFields as err:
            errors.update(err.errors)
        else:
            if box is not None:
                boxes.append(box)
    for n in range(1, ADJUSTMENT_ROWS + 1):
        try:
            adjustment = packing.parse_adjustment(f"adj-{n}", request.form)
        except packing.InvalidFields as err:
            errors.update(err.errors)
        else:
            if adjustment is not None:
                adjustments.append(adjustment)
    if not boxes and not errors:
        errors["boxes"] = _("Record at least one box.")
    return boxes, adjustments, errors


def _render(order: Order, status: int = 200, errors: dict | None = None, refusal: str = ""):
    order_parcels = packing.bound_parcels(order)
    photos = db.session.scalars(
        select(ParcelPhoto)
        .where(ParcelPhoto.parcel_id.in_([p.id for p in order_parcels]))
        .order_by(ParcelPhoto.id)
    )
    by_parcel: dict[int, list[ParcelPhoto]] = {}
    for photo in photos:
        by_parcel.setdefault(photo.parcel_id, []).append(photo)
    return page_or_partial(
        "ops/pack.html",
        "ops/_pack_form.html",
        status,
        order=order,
        parcels=order_parcels,
        photos=by_parcel,
        customer=db.session.get(User, order.customer_id),
        errors=errors or {},
        refusal=refusal,
        values=request.form if request.method == "POST" else {},
        box_rows=BOX_ROWS,
        adjustment_rows=ADJUSTMENT_ROWS,
        services={s.code: s for s in order.services},
        channel_name=labels.channel_names([order])[order.id],
        labels=labels,
    )


@bp.route("/orders/<int:order_id>/pack", methods=["GET", "POST"])
def pack(order_id: int):
    """Weigh, measure and photograph the boxes; the bill is priced and the customer told."""
    order = _order(order_id)
    if request.method == "GET":
        return _render(order)
    boxes, adjustments, errors = _read_form()
    if errors:
        return _render(order, 422, errors)
    try:
        packed = packing.pack_order(
            current_user._get_current_object(), order.id, boxes, adjustments
        )
    except packing.NotPackable as err:
        db.session.rollback()
        return _render(_order(order_id), 409, refusal=str(err.message))
    except TransitionRefused as err:
        db.session.rollback()
        return _render(_order(order_id), 409, refusal=str(err.message))
    except DomainError as err:
        db.session.rollback()
        return _render(_order(order_id), 422, {err.field or "boxes": str(err.message)})
    try:
        db.session.commit()
    except Exception:
        images.discard(packed.photos)
        raise
    flash(
        _(
            "Order %(order_no)s packed; the bill is ¥%(amount)s.",
            order_no=order.order_no,
            amount=format_fen(packed.order.bill_fen),
        ),
        "success",
    )
    return hx_redirect(url_for("ops.packing_queue"))


# ---- photos --------------------------------------------------------------------------------------


@bp.route("/packing/parcels/<int:parcel_id>/photos/<int:photo_id>", defaults={"size": "full"})
@bp.route(
    "/packing/parcels/<int:parcel_id>/photos/<int:photo_id>/thumb", defaults={"size": "thumb"}
)
def packing_parcel_photo(parcel_id: int, photo_id: int, size: str):
    """A parcel's intake photo, as the packer sees it."""
    photo = db.session.get(ParcelPhoto, photo_id) if is_id(photo_id) else None
    if photo is None or photo.parcel_id != parcel_id:
        abort(404)
    key = photo.thumb_key if size == "thumb" else photo.image_key
    return send_photo(key, f"parcel-{parcel_id}-photo-{photo_id}")


@bp.route("/orders/<int:order_id>/boxes/<int:box_id>/photo", defaults={"size": "full"})
@bp.route("/orders/<int:order_id>/boxes/<int:box_id>/photo/thumb", defaults={"size": "thumb"})
def box_photo(order_id: int, box_id: int, size: str):
    """A packed box's photo."""
    box = db.session.get(OrderBox, box_id) if is_id(box_id) else None
    if box is None or box.order_id != order_id:
        abort(404)
    key = box.thumb_key if size == "thumb" else box.photo_key
    return send_photo(key, f"order-{order_id}-box-{box.seq}")
