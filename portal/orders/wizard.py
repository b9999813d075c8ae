"""The quick-order wizard: parcels → address → channel → declaration → options → review → place.

Steps are GET requests carrying the whole draft, so each is a URL (Back and reload work, with or
without JavaScript); only placing the order is a POST. The service re-checks everything there.
"""

import secrets
from dataclasses import dataclass, field, replace
from decimal import Decimal

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.models import Address, DeclarationTemplate, PackingService, Parcel
from portal.orders import bp
from portal.orders.wizard_forms import STEPS, WizardForm
from portal.quote import labels
from portal.quote.offers import serving
from portal.services import addresses, coupons, declarations, order_discounts, orders, rate_cards
from portal.services.coupons import CouponRefused
from portal.services.errors import DomainError
from portal.services.order_estimate import (
    Shipment,
    active_packing_services,
    channel_quotes,
    destination_of,
    known_weight_g,
    measured_weight_g,
)
from portal.services.pricing_types import LineCode, Quote

# Which wizard step shows a service error about a field.
FIELD_STEPS = {
    "parcels": "parcels",
    "address": "address",
    "weight": "channel",
    "channel": "channel",
    "declarations": "declaration",
    "services": "options",
}


@dataclass
class Draft:
    """The form plus what the customer can choose from."""

    form: WizardForm
    parcels: list[Parcel]
    addresses: list[Address]
    templates: list[DeclarationTemplate]
    services: list[PackingService]
    quotes: list[Quote] = field(default_factory=list)
    checked: orders.CheckedOrder | None = None
    coupon_choices: list[order_discounts.Choice] = field(default_factory=list)

    @property
    def chosen(self) -> list[Parcel]:
        ids = set(self.form.parcel_ids)
        return [p for p in self.parcels if p.id in ids]

    @property
    def address(self) -> Address | None:
        return next((a for a in self.addresses if a.id == self.form.address_id), None)

    @property
    def channel_name(self) -> str:
        """The chosen channel's name in the reader's language (its code if no longer offered)."""
        code = self.form.channel.data
        in_force = rate_cards.channels_in_force(rate_cards.business_today())
        channel = next((c for c in in_force if c.code == code), None)
        return labels.channel_name(channel) if channel else code

    @property
    def quote(self) -> Quote | None:
        return next((q for q in self.quotes if q.channel.code == self.form.channel.data), None)

    def shipment(self) -> Shipment | None:
        address, weight = self.address, self.form.weight_g()
        if address is None or weight is None:
            return None
        return Shipment(
            destination=destination_of(address),
            weight_g=weight,
            categories=frozenset(p.category for p in self.chosen) or frozenset({"general"}),
        )


def _load_draft(formdata) -> Draft:
    form = WizardForm(formdata)
    if not form.token.data:
        form.token.data = secrets.token_urlsafe(16)
    return Draft(
        form=form,
        parcels=orders.orderable_parcels(current_user),
        addresses=addresses.customer_addresses(current_user),
        templates=declarations.customer_templates(current_user),
        services=active_packing_services(),
    )


# ---- checks, one per step ----------------------------------------------------------------------


def _check_parcels(draft: Draft) -> bool:
    form = draft.form
    if not form.parcel_ids:
        form.step_error("parcels", _l("Choose at least one parcel."))
    elif len(draft.chosen) != len(form.parcel_ids):
        form.step_error("parcels", _l("Some chosen parcels are no longer available."))
        form.parcel_ids = [p.id for p in draft.chosen]
    return "parcels" not in form.errors_by_step


def _check_address(draft: Draft) -> bool:
    if draft.address is None:
        draft.form.step_error("address", _l("Choose an address."))
        return False
    return True


def _check_channel(draft: Draft) -> bool:
    form = draft.form
    weight = form.weight_g()
    if weight is None or weight > orders.MAX_WEIGHT_G:
        form.weight.errors = [_l("Enter a weight between 0.01 and 500 kg.")]
        return False
    if weight < measured_weight_g(draft.chosen):
        form.weight.errors = [
            _l("The weight may not be less than the weight measured by the warehouse.")
        ]
        return False
    _price_channels(draft)
    chosen = draft.quote
    if chosen is None:
        form.step_error("channel", _l("Choose a channel."))
    elif not chosen.available:
        form.step_error("channel", _l("This channel cannot carry the shipment."))
    return "channel" not in form.errors_by_step


def _check_declaration(draft: Draft) -> bool:
    form = draft.form
    if not form.lines.entries:
        form.step_error("declaration", _l("Add at least one declaration line."))
        return False
    valid = all([entry.form.validate() for entry in form.lines])
    if valid and form.declared_total_fen() > orders.MAX_DECLARED_TOTAL_FEN:
        form.step_error("declaration", _l("The declared total may not exceed ¥100,000 per order."))
        return False
    return valid


def _check_options(draft: Draft) -> bool:
    form = draft.form
    offered = {s.code for s in draft.services}
    if not set(form.service_codes) <= offered:
        form.step_error("options", _l("A chosen packing service is no longer offered."))
        form.service_codes = [c for c in form.service_codes if c in offered]
    form.note.validate(form)
    return "options" not in form.errors_by_step and not form.note.errors


def _check_review(draft: Draft) -> bool:
    form = draft.form
    try:
        plain = orders.check_order(current_user, replace(form.to_request(), coupon_id=None))
        draft.coupon_choices = _coupon_choices(plain)
        if not form.coupon.data:
            best = order_discounts.best(draft.coupon_choices)
            form.coupon.data = str(best.id) if best else "none"
        draft.checked = plain
        if form.coupon_id() is not None:
            draft.checked = orders.check_order(current_user, form.to_request())
    except CouponRefused as err:
        form.coupon.data = "none"
        form.step_error("review", err.message)
        return False
    except DomainError as err:
        form.step_error(FIELD_STEPS.get(err.field, "review"), err.message)
        return False
    return True


def _coupon_choices(checked: orders.CheckedOrder) -> list[order_discounts.Choice]:
    """The customer's coupons for this order, priced against its estimate."""
    offer = checked.offer
    member = offer.line(LineCode.MEMBER_DISCOUNT)
    percent = member.fact("percent") if member else Decimal(0)
    base = offer.line(LineCode.BASE).amount_fen
    use = coupons.Use(
        customer_id=current_user.id,
        channel_code=offer.channel.code,
        country=checked.address.country,
        eligible_fen=order_discounts.eligible_fen(offer),
    )
    return order_discounts.choices(current_user, use, base, percent)


CHECKS = {
    "parcels": _check_parcels,
    "address": _check_address,
    "channel": _check_channel,
    "declaration": _check_declaration,
    "options": _check_options,
    "review": _check_review,
}


def _first_failing(draft: Draft, upto: str) -> str | None:
    """The first step up to and including `upto` whose check fails."""
    for step in STEPS[: STEPS.index(upto) + 1]:
        if not CHECKS[step](draft):
            return step
    return None


# ---- entering a step ---------------------------------------------------------------------------


def _price_channels(draft: Draft) -> None:
    shipment = draft.shipment()
    if shipment is None or draft.quotes:
        return
    day = rate_cards.business_today()
    wanted = serving(rate_cards.channels_in_force(day), shipment.destination.country)
    draft.quotes = channel_quotes(wanted, shipment, day)


def _prefill(draft: Draft, step: str, lines_edited: bool) -> None:
    """Sensible defaults when a step is shown. The declaration lines start from the parcels
    unless the customer has been editing them: removing every line shows the saved ones."""
    form = draft.form
    if step == "address" and form.address_id is None and draft.addresses:
        preferred = [a for a in draft.addresses if a.country == form.country.data]
        defaults = [a for a in preferred or draft.addresses if a.is_default]
        form.address_id = (defaults or preferred or draft.addresses)[0].id
    elif step == "channel":
        if not form.weight.data:
            total, _complete = known_weight_g(draft.chosen)
            if total:
                form.weight.data = f"{total / 1000:g}"
        _price_channels(draft)
    elif step == "declaration" and not lines_edited and not form.lines.entries:
        form.set_lines([_line_from_parcel(p) for p in draft.chosen] or [{}])


def _line_from_parcel(parcel: Parcel) -> dict:
    unit_fen = parcel.declared_value_fen // parcel.quantity if parcel.quantity else 0
    return {
        "name_zh": parcel.contents,
        "name_en": "",
        "category": parcel.category,
        "quantity": str(parcel.quantity),
        "unit_value": f"{unit_fen / 100:.2f}" if unit_fen else "",
    }


def _line_from_template(template: DeclarationTemplate) -> dict:
    return {
        "name_zh": template.name_zh,
        "name_en": template.name_en,
        "category": template.category,
        "quantity": str(template.quantity),
        "unit_value": f"{template.unit_value_fen / 100:.2f}",
        "hs_code": template.hs_code,
    }


def _is_blank(row: dict) -> bool:
    return not any(row.get(name) for name in ("name_zh", "name_en", "unit_value", "hs_code"))


def _edit_lines(draft: Draft, action: str) -> None:
    """add_line, remove_line:N and template:ID change the declaration lines in place."""
    form = draft.form
    rows = form.line_rows()
    kind, _sep, arg = action.partition(":")
    if kind == "add_line":
        rows.append({})
    elif kind == "remove_line" and arg.isdigit() and int(arg) < len(rows):
        rows.pop(int(arg))
    elif kind == "template":
        template = next((t for t in draft.templates if str(t.id) == arg), None)
        if template is not None:
            rows = [row for row in rows if not _is_blank(row)]
            rows.append(_line_from_template(template))
    form.set_lines(rows)


def _navigate(draft: Draft, current: str, action: str) -> tuple[str, int]:
    """The step to show and the status: 422 when moving on was refused by a check."""
    if action == "back":
        return STEPS[max(STEPS.index(current) - 1, 0)], 200
    if action.partition(":")[0] in ("add_line", "remove_line", "template"):
        _edit_lines(draft, action)
        return "declaration", 200
    if action == "next" and current != "review":
        failing = _first_failing(draft, current)
        if failing is not None:
            return failing, 422
        return STEPS[STEPS.index(current) + 1], 200
    if STEPS.index(current) > 0:
        failing = _first_failing(draft, STEPS[STEPS.index(current) - 1])
        if failing is not None:
            # A later step opened directly (a link, a reload): show the first step still to do.
            return failing, 200
    return current, 200


def _render(draft: Draft, step: str, status: int, lines_edited: bool):
    _prefill(draft, step, lines_edited)
    if step == "review" and draft.checked is None and not _check_review(draft):
        step = next(s for s in STEPS if s in draft.form.errors_by_step)
        _prefill(draft, step, lines_edited=True)
        status = 422
    return page_or_partial(
        "orders/wizard/new.html",
        "orders/wizard/_wizard.html",
        status,
        draft=draft,
        form=draft.form,
        step=step,
        steps=STEPS,
        labels=labels,
    )


@bp.route("/new")
@login_required
def new():
    draft = _load_draft(request.args)
    current = draft.form.step.data if draft.form.step.data in STEPS else "parcels"
    action = request.args.get("action", "")
    step, status = _navigate(draft, current, action)
    return _render(draft, step, status, lines_edited=current == "declaration" and bool(action))


@bp.route("/new", methods=["POST"])
@login_required
def place():
    draft = _load_draft(request.form)
    done = orders.submitted_order(current_user, draft.form.token.data)
    if done is not None:  # a double click, or the form sent again: the order already exists
        return hx_redirect(url_for("orders.detail", order_no=done.order_no))
    failing = _first_failing(draft, "options")
    if failing is not None:
        db.session.rollback()
        return _render(draft, failing, 422, lines_edited=True)
    try:
        order = orders.place_order(current_user, draft.form.to_request())
    except DomainError as err:
        db.session.rollback()
        draft = _load_draft(request.form)
        draft.form.step_error(FIELD_STEPS.get(err.field, "review"), err.message)
        step = next(s for s in STEPS if s in draft.form.errors_by_step)
        status = 409 if isinstance(err, orders.ParcelsTaken) else 422
        return _render(draft, step, status, lines_edited=True)
    db.session.commit()
    flash(_("Order %(order_no)s placed.", order_no=order.order_no), "success")
    return hx_redirect(url_for("orders.detail", order_no=order.order_no))
