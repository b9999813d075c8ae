"""My orders: the list with its status tabs, one order's page, and cancelling an order."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import Order, OrderBox, OrderParcel
from portal.models.address import mask
from portal.models.base import is_id
from portal.orders import bp, labels
from portal.orders.forms import ORDER_NO, CancelForm, OrderSearchForm
from portal.page_cache import cached_page
from portal.paging import parse_page
from portal.photos import send_photo
from portal.services import orders as order_service
from portal.services.errors import DomainError

PER_PAGE = 20


def own_order(order_no: str) -> Order:
    """The current customer's order with this number, or 404 (also for a malformed number)."""
    if not ORDER_NO.fullmatch(order_no):
        abort(404)
    try:
        return order_service.get_order(current_user, order_no)
    except order_service.OrderNotFound:
        abort(404)


def _parcel_counts(orders: list[Order]) -> dict[int, int]:
    """Order id -> how many parcels it has (had, once cancelled), in one grouped query."""
    if not orders:
        return {}
    rows = db.session.execute(
        select(OrderParcel.order_id, func.count())
        .where(OrderParcel.order_id.in_([o.id for o in orders]))
        .group_by(OrderParcel.order_id)
    )
    return dict(rows.all())


@bp.route("/")
@login_required
@cached_page
def index():
    status = request.args.get("status", "")
    if status and status not in labels.TABS:
        abort(404)
    page = parse_page(request.args.get("page"))
    form = OrderSearchForm(formdata=request.args)
    valid = form.validate()
    query = select(Order).where(Order.customer_id == current_user.id)
    if status:
        query = query.where(Order.status == status)
    if valid and form.q.data:
        query = query.where(Order.order_no.contains(form.q.data, autoescape=True))
    pagination = None
    if valid:
        pagination = db.paginate(
            query.order_by(Order.created_at.desc(), Order.id.desc()),
            page=page,
            per_page=PER_PAGE,
            error_out=True,
        )
    items = pagination.items if pagination else []
    counts = order_service.order_counts(current_user)
    return page_or_partial(
        "orders/index.html",
        "orders/_list.html",
        200 if valid else 422,
        form=form,
        current_tab=status,
        query=form.q.data if valid else None,
        pagination=pagination,
        orders=items,
        counts=counts,
        total=sum(counts.values()),
        parcel_counts=_parcel_counts(items),
        channel_names=labels.channel_names(items),
        labels=labels,
    )


def render_detail(order: Order, form: CancelForm, status: int = 200, error: str | None = None):
    return page_or_partial(
        "orders/detail.html",
        "orders/_detail.html",
        status,
        order=order,
        form=form,
        error=error,
        parcels=order_service.order_parcels(order),
        services={s.code: s for s in order.services},
        comparison=labels.compare(order) if order.bill_fen is not None else None,
        channel_name=labels.channel_names([order])[order.id],
        tax_id=mask(order.ship_tax_id),
        labels=labels,
    )


@bp.route("/<order_no>")
@login_required
def detail(order_no: str):
    return render_detail(own_order(order_no), CancelForm(formdata=None))


@bp.route("/<order_no>/cancel", methods=["POST"])
@login_required
def cancel(order_no: str):
    order = own_order(order_no)
    form = CancelForm()
    if not form.validate():
        return render_detail(order, form, 422)
    try:
        order_service.cancel_order(
            current_user._get_current_object(), order, form.reason.data or ""
        )
    except DomainError as err:
        db.session.rollback()
        return render_detail(own_order(order_no), CancelForm(formdata=None), 409, err.message)
    db.session.commit()
    flash(
        _(
            "Order %(order_no)s has been cancelled; its parcels are back in your parcel list.",
            order_no=order.order_no,
        ),
        "success",
    )
    return hx_redirect(url_for("orders.detail", order_no=order.order_no))


@bp.route("/<order_no>/boxes/<int:box_id>/photo", defaults={"size": "full"})
@bp.route("/<order_no>/boxes/<int:box_id>/photo/thumb", defaults={"size": "thumb"})
@login_required
def box_photo(order_no: str, box_id: int, size: str):
    """The photo of a packed box, only for the order's owner (404 for anyone else)."""
    order = own_order(order_no)
    box = db.session.get(OrderBox, box_id) if is_id(box_id) else None
    if box is None or box.order_id != order.id:
        abort(404)
    return send_photo(
        box.thumb_key if size == "thumb" else box.photo_key, f"{order.order_no}-box-{box.seq}"
    )
