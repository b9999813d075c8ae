"""Recharging by bank transfer or QR scan with a receipt (reviewed by finance), and the
customer's recharges with their receipts."""

from flask import abort, current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from portal.extensions import db
from portal.forms import add_error
from portal.htmx import hx_redirect, page_or_partial
from portal.models import PaymentSettings, Recharge
from portal.models.base import is_id
from portal.models.recharge import QR_CHANNELS
from portal.paging import parse_page
from portal.photos import send_photo
from portal.recharge import bp, labels
from portal.recharge.forms import BankTransferForm, QrForm, ReceiptForm, prefill_amount
from portal.services import images, ledger, payment_settings, recharges
from portal.services.errors import DomainError
from portal.services.recharges import RechargeNotFound

RECENT = 5
PER_PAGE = 20


def _render(page: str, partial: str, status: int = 200, **context):
    return page_or_partial(page, partial, status, labels=labels, **context)


def _amount_arg() -> str:
    """The ?amount= the order page sends (the shortfall), when it is a valid amount."""
    return prefill_amount(request.args.get("amount"))


def method_urls(amount: str) -> dict[str, str | None]:
    """Where each way of recharging is, the amount carried along; online once it exists."""
    online = "recharge.online" in current_app.view_functions
    return {
        "bank_transfer": url_for("recharge.bank_transfer", amount=amount or None),
        "qr": url_for("recharge.qr", amount=amount or None),
        "online": url_for("recharge.online", amount=amount or None) if online else None,
    }


def _bank_settings() -> PaymentSettings | None:
    """The settings when finance has entered the bank account customers transfer to."""
    settings = payment_settings.current()
    if settings and settings.bank_name and settings.account_name and settings.account_no:
        return settings
    return None


def _qr_channels(settings: PaymentSettings | None) -> list[str]:
    """The channels whose collection QR image finance has uploaded."""
    if settings is None:
        return []
    return [code for code in QR_CHANNELS if getattr(settings, f"{code}_qr_key")]


def _own(recharge_id: int) -> Recharge:
    if not is_id(recharge_id):
        abort(404)
    try:
        return recharges.get_recharge(recharge_id, current_user)
    except RechargeNotFound:
        abort(404)


def _customer_recharges():
    return select(Recharge).where(Recharge.customer_id == current_user.id)


def _submit(form: ReceiptForm, method: str, **details: str):
    """Store the receipt and record the recharge: the redirect, or None with errors on the form.

    Files of a refused or duplicate submission are discarded, so none is left unreferenced.
    """
    try:
        stored = images.store_image(form.receipt_bytes(), "receipt")
    except DomainError as err:
        add_error(form, err)
        return None
    try:
        recharge, is_new = recharges.submit_for_review(
            current_user,
            method,
            form.amount_fen,
            stored,
            form.submit_token.data,
            note=form.note.data or "",
            **details,
        )
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        images.discard([stored])
        add_error(form, err)
        return None
    except Exception:
        db.session.rollback()
        images.discard([stored])
        raise
    if is_new:
        flash(_("Recharge sent. Finance will check it and credit your balance."), "success")
    else:
        images.discard([stored])
        flash(_("This recharge had already been sent; it was recorded once."), "info")
    return hx_redirect(url_for("recharge.detail", recharge_id=recharge.id))


@bp.route("/")
@login_required
def index():
    """The three ways to recharge, the balance and the latest recharges."""
    amount = _amount_arg()
    recent = db.session.scalars(_customer_recharges().order_by(Recharge.id.desc()).limit(RECENT))
    return render_template(
        "recharge/index.html",
        labels=labels,
        balance_fen=ledger.balance_fen(current_user),
        recent=list(recent),
        urls=method_urls(amount),
        amount=amount,
    )


@bp.route("/bank", methods=["GET", "POST"])
@login_required
def bank_transfer():
    """The company's bank account, and the form for the receipt of a transfer to it."""
    settings = _bank_settings()
    form = BankTransferForm(amount=_amount_arg())
    status = 200
    if request.method == "POST":
        status = 409 if settings is None else 422
        if settings is not None and form.validate_on_submit():
            done = _submit(form, "bank_transfer", payer_name=form.payer_name.data or "")
            if done is not None:
                return done
    return _render(
        "recharge/bank.html",
        "recharge/_bank_form.html",
        status,
        form=form,
        settings=settings,
        urls=method_urls(_amount_arg()),
    )


@bp.route("/qr", methods=["GET", "POST"])
@login_required
def qr():
    """The collection QR images, and the form for the screenshot of a payment through one."""
    settings = payment_settings.current()
    channels = _qr_channels(settings)
    form = QrForm(amount=_amount_arg(), channels=channels)
    status = 200
    if request.method == "POST":
        status = 409 if not channels else 422
        if channels and form.validate_on_submit():
            done = _submit(form, "qr", qr_channel=form.channel.data)
            if done is not None:
                return done
    return _render(
        "recharge/qr.html",
        "recharge/_qr_form.html",
        status,
        form=form,
        channels=channels,
        revision=settings.revision if settings else 0,
        urls=method_urls(_amount_arg()),
    )


@bp.route("/qr/<any(wechat, alipay):channel>.jpg")
@login_required
def qr_image(channel: str):
    """A collection QR image finance uploaded (logged-in customers only)."""
    settings = payment_settings.current()
    key = getattr(settings, f"{channel}_qr_key") if settings else None
    return send_photo(key, f"{channel}-qr.jpg", attachment=True)


@bp.route("/list")
@login_required
def history():
    """The customer's recharges, newest first, 20 a page."""
    pagination = db.paginate(
        _customer_recharges().order_by(Recharge.id.desc()),
        page=parse_page(request.args.get("page")),
        per_page=PER_PAGE,
        error_out=True,
    )
    return _render("recharge/history.html", "recharge/_list.html", pagination=pagination)


@bp.route("/<int:recharge_id>")
@login_required
def detail(recharge_id: int):
    """One of the customer's recharges: its facts, status and receipt."""
    return render_template("recharge/detail.html", labels=labels, recharge=_own(recharge_id))


@bp.route("/<int:recharge_id>/receipt")
@login_required
def receipt(recharge_id: int):
    """The receipt photo (?size=thumb: its thumbnail), to its owner only, as a download."""
    recharge = _own(recharge_id)
    if request.args.get("size") == "thumb":
        name = f"{recharge.recharge_no}-thumb.jpg"
        return send_photo(recharge.receipt_thumb_key, name, attachment=True)
    return send_photo(recharge.receipt_key, f"{recharge.recharge_no}.jpg", attachment=True)
