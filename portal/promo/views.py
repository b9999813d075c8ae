"""The promotion center (推广中心): the invite link and poster, invitees and what they earned,
withdrawing rebates into the balance, and entering an inviter's code after registering."""

import uuid

from flask import Response, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.extensions import db
from portal.forms import add_error
from portal.htmx import hx_redirect, page_or_partial
from portal.paging import parse_page
from portal.promo import bp
from portal.promo.forms import BindInviterForm, WithdrawForm
from portal.services import amounts, invite_poster, promotion, rebates, site_settings
from portal.services.errors import DomainError
from portal.services.rebate_rules import current_rule

MAX_WITHDRAW_FEN = 100_000_000  # far above any rebate balance; the balance is the real limit


def invite_link() -> str:
    return url_for("auth.register", invite=current_user.invite_code, _external=True)


def _render(
    partial: str = "promo/_invitees.html",
    withdraw: WithdrawForm | None = None,
    bind: BindInviterForm | None = None,
    status: int = 200,
):
    """The whole page, or for htmx the fragment named: invitees (paging) or one of the forms."""
    customer = current_user._get_current_object()
    balance = rebates.rebate_balance_fen(customer)
    if withdraw is None:
        withdraw = WithdrawForm(
            formdata=None, amount=amounts.plain_yuan(balance) if balance else ""
        )
    if withdraw.key.errors or not withdraw.key.data:
        withdraw.key.data = uuid.uuid4().hex
    page = parse_page(request.args.get("page"))
    return page_or_partial(
        "promo/index.html",
        partial,
        status,
        link=invite_link(),
        rule=current_rule(),
        totals=promotion.totals(customer),
        found=promotion.invitees(customer, page),
        rebate_fen=balance,
        min_withdraw_fen=rebates.min_withdraw_fen(),
        withdraw=withdraw,
        bind=bind or BindInviterForm(formdata=None),
        can_bind=promotion.can_bind(customer),
    )


@bp.route("/")
@login_required
def index():
    return _render()


@bp.route("/poster.png")
@login_required
def poster():
    """The invite poster as a PNG, in the reader's language; ?download=1 saves it as a file."""
    png = invite_poster.render(
        site_settings.site_name(),
        _("Invite friends, save on shipping together"),
        _("Scan to register; your friend is linked to you"),
        _("Invite code %(code)s", code=current_user.invite_code),
        invite_link(),
        current_app.config.get("POSTER_FONT"),
    )
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=3600"
    if request.args.get("download") == "1":
        response.headers["Content-Disposition"] = (
            f"attachment; filename=invite-{current_user.invite_code}.png"
        )
    return response


@bp.route("/withdraw", methods=["POST"])
@login_required
def withdraw():
    """Move rebate money into the balance; the form's key makes a resubmission harmless."""
    form = WithdrawForm()
    if not form.validate_on_submit():
        form.form_errors.extend(form.key.errors)
        return _render("promo/_withdraw.html", withdraw=form, status=422)
    customer = current_user._get_current_object()
    try:
        amount = amounts.parse_yuan(form.amount.data, "amount", MAX_WITHDRAW_FEN)
        rebates.withdraw(customer, amount, form.key.data)
    except DomainError as err:
        db.session.rollback()
        add_error(form, err)
        return _render("promo/_withdraw.html", withdraw=form, status=422)
    db.session.commit()
    flash(_("¥%(amount)s moved to your balance.", amount=amounts.plain_yuan(amount)), "success")
    return hx_redirect(url_for("promo.index"))


@bp.route("/inviter", methods=["POST"])
@login_required
def bind_inviter():
    """Enter the code of whoever invited the customer, in the first days after registering."""
    form = BindInviterForm()
    if not form.validate_on_submit():
        return _render("promo/_bind.html", bind=form, status=422)
    try:
        promotion.bind_inviter(current_user._get_current_object(), form.invite_code.data)
    except DomainError as err:
        db.session.rollback()
        add_error(form, err)
        return _render("promo/_bind.html", bind=form, status=422)
    db.session.commit()
    flash(_("Your inviter has been recorded."), "success")
    return hx_redirect(url_for("promo.index"))
