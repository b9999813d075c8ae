"""Set-up: packing and value-added services and their prices: the list, a new one, changing one
and switching one off or on."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import PackingService
from portal.models.base import is_id
from portal.ops import bp
from portal.services import amounts, packing_service_admin
from portal.services.packing_service_admin import (
    InvalidPackingService,
    PackingServiceInput,
    StalePackingService,
)


def _typed() -> dict[str, str]:
    return {name: (request.form.get(name) or "")[:120] for name in packing_service_admin.FIELDS}


def _values_of(service: PackingService) -> dict[str, str]:
    return {
        "code": service.code,
        "name_zh": service.name_zh,
        "name_en": service.name_en,
        "price": amounts.plain_yuan(service.price_fen),
        "sort": str(service.sort),
    }


def _form(page: str, status: int, service: PackingService | None, **context):
    return page_or_partial(
        page,
        "ops/_packing_service_form.html",
        status,
        service=service,
        version=packing_service_admin.version_of(service) if service else "",
        **context,
    )


def _service_or_404(service_id: int, for_update: bool = False) -> PackingService:
    service = (
        db.session.get(PackingService, service_id, with_for_update=for_update)
        if is_id(service_id)
        else None
    )
    if service is None:
        abort(404)
    return service


@bp.route("/packing-services", methods=["GET", "POST"], endpoint="packing_services")
def packing_services_page():
    """Every packing service with its price and the form for a new one; a POST adds one."""
    listed = {"services": packing_service_admin.packing_services()}
    if request.method == "GET":
        blank = vars(PackingServiceInput())
        return _form("ops/packing_services.html", 200, None, values=blank, errors={}, **listed)
    values = _typed()
    try:
        packing_service_admin.create_service(current_user, PackingServiceInput(**values))
    except InvalidPackingService as err:
        db.session.rollback()
        return _form(
            "ops/packing_services.html", 422, None, values=values, errors=err.errors, **listed
        )
    db.session.commit()
    flash(_("The service is saved; customers can choose it for new orders."), "success")
    return hx_redirect(url_for("ops.packing_services"))


@bp.route("/packing-services/<int:service_id>", methods=["GET", "POST"], endpoint="packing_service")
def packing_service_page(service_id: int):
    """One service's form; a POST changes it for orders placed from now on."""
    service = _service_or_404(service_id, for_update=request.method == "POST")
    page = "ops/packing_service.html"
    if request.method == "GET":
        return _form(page, 200, service, values=_values_of(service), errors={})
    values = _typed()
    try:
        packing_service_admin.update_service(
            current_user, service, PackingServiceInput(**values), request.form.get("version") or ""
        )
    except StalePackingService as err:
        db.session.rollback()
        return _form(
            page, 409, service, values=_values_of(service), errors={"version": err.message}
        )
    except InvalidPackingService as err:
        db.session.rollback()
        return _form(page, 422, service, values={**values, "code": service.code}, errors=err.errors)
    db.session.commit()
    flash(_("The service is saved; orders already placed keep their price."), "success")
    return hx_redirect(url_for("ops.packing_services"))


@bp.route(
    "/packing-services/<int:service_id>/active",
    methods=["POST"],
    endpoint="packing_service_active",
)
def packing_service_active(service_id: int):
    """Stop offering a service in the order wizard, or offer it again."""
    service = _service_or_404(service_id, for_update=True)
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        abort(400)
    active = wanted == "1"
    packing_service_admin.set_active(current_user, service, active)
    db.session.commit()
    if active:
        flash(_("Customers can choose this service again."), "success")
    else:
        flash(
            _("Customers can no longer choose this service; orders that have it keep it."),
            "success",
        )
    return hx_redirect(url_for("ops.packing_services"))
