"""Set-up: the warehouses customers send parcels to: the list, a new one, changing one and
switching one off or on."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import Warehouse
from portal.models.base import is_id
from portal.ops import bp
from portal.services import dashboard, warehouse_admin
from portal.services.warehouse_admin import (
    InvalidWarehouse,
    StaleWarehouse,
    WarehouseInput,
)


def _typed() -> dict[str, str]:
    # A little over each column's length, so an overlong entry is refused rather than cut.
    return {
        name: (request.form.get(name) or "")[: length + 20]
        for name, length in warehouse_admin.LENGTHS.items()
    }


def _values_of(warehouse: Warehouse) -> dict[str, str]:
    return {name: getattr(warehouse, name) for name in warehouse_admin.FIELDS}


def _form(page: str, status: int, warehouse: Warehouse | None, **context):
    return page_or_partial(
        page,
        "ops/_warehouse_form.html",
        status,
        warehouse=warehouse,
        version=warehouse_admin.version_of(warehouse) if warehouse else "",
        sample_code=warehouse_admin.SAMPLE_CODE,
        **context,
    )


def _warehouse_or_404(warehouse_id: int, for_update: bool = False) -> Warehouse:
    warehouse = (
        db.session.get(Warehouse, warehouse_id, with_for_update=for_update)
        if is_id(warehouse_id)
        else None
    )
    if warehouse is None:
        abort(404)
    return warehouse


@bp.route("/warehouses", methods=["GET", "POST"], endpoint="warehouses")
def warehouses_page():
    """Every warehouse and the form for a new one; a POST adds a warehouse."""
    listed = {"warehouses": warehouse_admin.warehouses()}
    if request.method == "GET":
        return _form(
            "ops/warehouses.html", 200, None, values=vars(WarehouseInput()), errors={}, **listed
        )
    values = _typed()
    try:
        warehouse_admin.create_warehouse(current_user, WarehouseInput(**values))
    except InvalidWarehouse as err:
        db.session.rollback()
        return _form("ops/warehouses.html", 422, None, values=values, errors=err.errors, **listed)
    db.session.commit()
    flash(_("The warehouse is saved; customers see its address now."), "success")
    return hx_redirect(url_for("ops.warehouses"))


@bp.route("/warehouses/<int:warehouse_id>", methods=["GET", "POST"], endpoint="warehouse")
def warehouse_page(warehouse_id: int):
    """One warehouse's form with a preview of what customers see; a POST changes it."""
    warehouse = _warehouse_or_404(warehouse_id, for_update=request.method == "POST")
    if request.method == "GET":
        return _form("ops/warehouse.html", 200, warehouse, values=_values_of(warehouse), errors={})
    values = _typed()
    try:
        warehouse_admin.update_warehouse(
            current_user, warehouse, WarehouseInput(**values), request.form.get("version") or ""
        )
    except StaleWarehouse as err:
        db.session.rollback()
        current = _values_of(warehouse)
        return _form(
            "ops/warehouse.html", 409, warehouse, values=current, errors={"version": err.message}
        )
    except InvalidWarehouse as err:
        db.session.rollback()
        return _form("ops/warehouse.html", 422, warehouse, values=values, errors=err.errors)
    db.session.commit()
    flash(_("The warehouse is saved; customers see the new address now."), "success")
    return hx_redirect(url_for("ops.warehouses"))


@bp.route("/warehouses/<int:warehouse_id>/active", methods=["POST"], endpoint="warehouse_active")
def warehouse_active(warehouse_id: int):
    """Stop showing a warehouse's address to customers, or show it again."""
    warehouse = _warehouse_or_404(warehouse_id, for_update=True)
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        abort(400)
    active = wanted == "1"
    warehouse_admin.set_active(current_user, warehouse, active)
    db.session.commit()
    if active:
        flash(_("Customers see this warehouse's address again."), "success")
    elif not dashboard.active_warehouses():
        flash(
            _("No warehouse is active: customers see no address to ship their parcels to."), "error"
        )
    else:
        flash(_("Customers no longer see this warehouse's address."), "success")
    return hx_redirect(url_for("ops.warehouses"))
