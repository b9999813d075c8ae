"""Printing an order's A4 packing list and its 100×150 mm shipping label, and counting prints."""

from flask import abort, render_template, request, url_for
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect
from portal.models.base import is_id
from portal.ops import bp
from portal.ops.order_detail import load_order, order_context
from portal.services import barcodes, order_prints


def _autoprint() -> bool:
    """The page was opened by the print button: the browser's print dialog opens by itself."""
    return request.args.get("print") == "1"


@bp.route("/orders/<int:order_id>/packing-list")
def order_packing_list(order_id: int):
    """The A4 packing list: parcels, declaration and packing services (GET changes nothing)."""
    found = load_order(order_id)
    return render_template(
        "ops/print_packing_list.html",
        autoprint=_autoprint(),
        barcode=barcodes.code128_svg(found.order_no, height_mm=12),
        **order_context(found),
    )


@bp.route("/orders/<int:order_id>/label")
def order_label(order_id: int):
    """The 100×150 mm shipping label: recipient, address, channel, order number as a barcode."""
    found = load_order(order_id)
    return render_template(
        "ops/print_label.html",
        autoprint=_autoprint(),
        barcode=barcodes.code128_svg(found.order_no, height_mm=18),
        **order_context(found),
    )


@bp.route("/orders/<int:order_id>/print/<any('packing-list', 'label'):kind>", methods=["POST"])
def order_print(order_id: int, kind: str):
    """Count one print of the packing list or label, then open it with the print dialog."""
    if not is_id(order_id):
        abort(404)
    try:
        order_prints.record_print(current_user._get_current_object(), order_id, kind)
    except LookupError:
        abort(404)
    db.session.commit()
    endpoint = "ops.order_label" if kind == "label" else "ops.order_packing_list"
    return hx_redirect(url_for(endpoint, order_id=order_id, print=1))
