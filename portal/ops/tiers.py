"""Finance: membership tiers (会员等级): the list, a new tier and changing one."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import MembershipTier
from portal.ops import bp
from portal.services import amounts, tier_admin
from portal.services.tier_admin import InvalidTier, TierInput


def _typed() -> dict[str, object]:
    values: dict[str, object] = {
        name: (request.form.get(name) or "")[:60] for name in tier_admin.FIELDS
    }
    values["is_active"] = request.form.get("is_active") == "y"
    return values


def _values_of(tier: MembershipTier) -> dict[str, object]:
    return {
        "name_zh": tier.name_zh,
        "name_en": tier.name_en,
        "price": amounts.plain_yuan(tier.price_fen),
        "duration_days": str(tier.duration_days),
        "discount_percent": f"{tier.discount_percent.normalize():f}",
        "coupon_template_id": str(tier.coupon_template_id or ""),
        "monthly_coupons": str(tier.monthly_coupons),
        "sort": str(tier.sort),
        "is_active": tier.is_active,
    }


def _form(page: str, status: int, **context):
    return page_or_partial(
        page,
        "ops/_tier_form.html",
        status,
        choices=tier_admin.coupon_choices(),
        **context,
    )


@bp.route("/tiers", methods=["GET", "POST"], endpoint="tiers")
def tiers_page():
    """The membership tiers and the form for a new one; a POST offers a new tier."""
    listed = {"tiers": tier_admin.tiers(), "tier": None}
    if request.method == "GET":
        return _form("ops/tiers.html", 200, values=vars(TierInput()), errors={}, **listed)
    values = _typed()
    try:
        tier_admin.create_tier(current_user, TierInput(**values))
    except InvalidTier as err:
        db.session.rollback()
        return _form("ops/tiers.html", 422, values=values, errors=err.errors, **listed)
    db.session.commit()
    flash(_("The membership tier is saved."), "success")
    return hx_redirect(url_for("ops.tiers"))


@bp.route("/tiers/<int:tier_id>", methods=["GET", "POST"], endpoint="tier")
def tier_page(tier_id: int):
    """One tier's form; a POST changes the tier (periods already bought are not affected)."""
    tier = db.session.get(MembershipTier, tier_id) if 0 < tier_id < 2**31 else None
    if tier is None:
        abort(404)
    if request.method == "GET":
        return _form("ops/tier.html", 200, values=_values_of(tier), errors={}, tier=tier)
    values = _typed()
    try:
        tier_admin.update_tier(current_user, tier, TierInput(**values))
    except InvalidTier as err:
        db.session.rollback()
        return _form("ops/tier.html", 422, values=values, errors=err.errors, tier=tier)
    db.session.commit()
    flash(_("The membership tier is saved."), "success")
    return hx_redirect(url_for("ops.tiers"))
