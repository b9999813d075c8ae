"""Finance: coupon templates (优惠券) with their issued, held and used counts, and issuing coupons
to customers by their customer codes."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import CouponTemplate
from portal.ops import bp
from portal.services import coupon_admin
from portal.services.coupon_admin import InvalidTemplate, TemplateInput
from portal.services.errors import ValidationFailed

MAX_CODES_TEXT = 10_000


def _page(values: dict, errors: dict, status: int = 200):
    return page_or_partial(
        "ops/coupons.html",
        "ops/_coupon_template_form.html",
        status,
        values=values,
        errors=errors,
        templates=coupon_admin.templates(),
        counts=coupon_admin.template_counts(),
    )


@bp.route("/coupons", methods=["GET", "POST"], endpoint="coupons")
def coupons_page():
    """The coupon templates with their counts and the form for a new one; a POST defines one."""
    if request.method == "GET":
        return _page({**vars(TemplateInput())}, {})
    values: dict[str, object] = {
        name: (request.form.get(name) or "")[:400] for name in coupon_admin.FIELDS
    }
    values.update({name: request.form.get(name) == "y" for name in coupon_admin.CHECKBOXES})
    try:
        coupon_admin.create_template(current_user, TemplateInput(**values))
    except InvalidTemplate as err:
        db.session.rollback()
        return _page(values, err.errors, 422)
    db.session.commit()
    flash(_("The coupon template is saved."), "success")
    return hx_redirect(url_for("ops.coupons"))


@bp.route("/coupons/<int:template_id>/issue", methods=["GET", "POST"], endpoint="coupon_issue")
def coupon_issue(template_id: int):
    """Issue one coupon of the template to each customer code typed in; show what was refused."""
    template = db.session.get(CouponTemplate, template_id) if 0 < template_id < 2**31 else None
    if template is None:
        abort(404)
    context = {"template": template, "codes": "", "errors": {}, "result": None}
    if request.method == "GET":
        return page_or_partial("ops/coupon_issue.html", "ops/_coupon_issue_form.html", **context)
    context["codes"] = (request.form.get("codes") or "")[:MAX_CODES_TEXT]
    try:
        context["result"] = coupon_admin.issue_to_customers(
            current_user, template, context["codes"], request.form.get("segment") == "all_active"
        )
    except ValidationFailed as err:
        db.session.rollback()
        context["errors"] = {"codes": err.message}
        return page_or_partial(
            "ops/coupon_issue.html", "ops/_coupon_issue_form.html", 422, **context
        )
    db.session.commit()
    # The outcome is shown in place: which codes were refused is what staff need to read next.
    return page_or_partial("ops/coupon_issue.html", "ops/_coupon_issue_form.html", **context)


@bp.route("/coupons/<int:template_id>/active", methods=["POST"], endpoint="coupon_active")
def coupon_active(template_id: int):
    """Switch a template off (no more coupons issued from it) or on again."""
    template = db.session.get(CouponTemplate, template_id) if 0 < template_id < 2**31 else None
    if template is None:
        abort(404)
    active = request.form.get("active") == "y"
    coupon_admin.set_active(current_user, template, active)
    db.session.commit()
    if active:
        flash(_("The coupon template is offered again."), "success")
    else:
        flash(
            _("The coupon template is switched off; coupons already issued stay usable."), "success"
        )
    return hx_redirect(url_for("ops.coupons"))
