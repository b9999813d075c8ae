"""The address book (收货地址): list, add, edit, delete, choose the default."""

import phonenumbers
from babel import Locale
from flask import abort, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.addresses import bp
from portal.addresses.forms import AddressForm
from portal.extensions import db
from portal.forms import add_error
from portal.htmx import hx_redirect, is_partial, page_or_partial
from portal.quote.offers import country_choices
from portal.security import safe_next
from portal.services import addresses, rate_cards
from portal.services.addresses import AddressNotFound
from portal.services.errors import DomainError


def country_name(code: str) -> str:
    return Locale.parse(str(get_locale())).territories.get(code, code)


def phone_display(e164: str) -> str:
    """+12025550123 as "+1 202-555-0123"; anything unparsable as stored."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@bp.context_processor
def _helpers():
    return {"country_name": country_name, "phone_display": phone_display}


def _next_url() -> str:
    """Where to go after saving: a safe ?next= path, or "" for the address list."""
    return safe_next(request.args.get("next"), "")


def _countries(keep: str | None = None) -> list[tuple[str, str]]:
    """The countries we ship to, plus an existing address's own country."""
    choices = country_choices(rate_cards.channels_in_force(rate_cards.business_today()))
    if keep and keep not in {code for code, _name in choices}:
        choices.append((keep, country_name(keep)))
    return choices


def _address_or_404(address_id: int):
    try:
        return addresses.get_address(current_user, address_id)
    except AddressNotFound:
        abort(404)


def _list_response(message: str):
    """After a change from the list: the refreshed list for htmx, the list page otherwise."""
    flash(message, "success")
    if is_partial():
        return page_or_partial(
            "addresses/index.html",
            "addresses/_list.html",
            addresses=addresses.customer_addresses(current_user),
            flash_oob=True,
        )
    return hx_redirect(url_for("addresses.index"))


@bp.route("/")
@login_required
def index():
    return page_or_partial(
        "addresses/index.html",
        "addresses/_list.html",
        addresses=addresses.customer_addresses(current_user),
    )


def _form_response(form: AddressForm, address=None):
    status = 422 if form.is_submitted() else 200
    return page_or_partial(
        "addresses/form.html",
        "addresses/_form.html",
        status,
        form=form,
        address=address,
        next_url=_next_url(),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    form = AddressForm(countries=_countries())
    if form.validate_on_submit():
        try:
            addresses.add_address(current_user, form.to_input())
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("The address has been saved."), "success")
            return hx_redirect(_next_url() or url_for("addresses.index"))
    return _form_response(form)


@bp.route("/<int:address_id>/edit", methods=["GET", "POST"])
@login_required
def edit(address_id: int):
    address = _address_or_404(address_id)
    countries = _countries(keep=address.country)
    if request.method == "POST":
        form = AddressForm(countries=countries)
    else:
        form = AddressForm(obj=address, countries=countries)
    if form.validate_on_submit():
        try:
            addresses.update_address(current_user, address_id, form.to_input())
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("The address has been saved."), "success")
            return hx_redirect(_next_url() or url_for("addresses.index"))
    return _form_response(form, address)


@bp.route("/<int:address_id>/default", methods=["POST"])
@login_required
def make_default(address_id: int):
    try:
        addresses.set_default_address(current_user, address_id)
    except AddressNotFound:
        abort(404)
    db.session.commit()
    return _list_response(_("This is now your default address."))


@bp.route("/<int:address_id>/delete", methods=["GET", "POST"])
@login_required
def delete(address_id: int):
    """GET asks for confirmation (inside the list for htmx); POST deletes."""
    if request.method == "GET":
        address = _address_or_404(address_id)
        return page_or_partial(
            "addresses/delete.html",
            "addresses/_delete.html",
            address=address,
            inline=is_partial(),
        )
    try:
        addresses.delete_address(current_user, address_id)
    except AddressNotFound:
        abort(404)
    db.session.commit()
    return _list_response(_("The address has been deleted."))
