"""Declaration templates (常用申报): list, add, edit, delete saved customs lines."""

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.declarations import bp
from portal.declarations.forms import DeclarationForm
from portal.extensions import db
from portal.forms import add_error
from portal.htmx import hx_redirect, is_partial, page_or_partial
from portal.quote.labels import CATEGORY_LABELS
from portal.security import safe_next
from portal.services import declarations
from portal.services.declarations import TemplateNotFound
from portal.services.errors import DomainError


@bp.context_processor
def _helpers():
    return {"category_labels": CATEGORY_LABELS}


def _next_url() -> str:
    """Where to go after saving: a safe ?next= path, or "" for the template list."""
    return safe_next(request.args.get("next"), "")


def _template_or_404(template_id: int):
    try:
        return declarations.get_template(current_user, template_id)
    except TemplateNotFound:
        abort(404)


@bp.route("/")
@login_required
def index():
    return page_or_partial(
        "declarations/index.html",
        "declarations/_list.html",
        templates=declarations.customer_templates(current_user),
    )


def _form_response(form: DeclarationForm, template=None):
    status = 422 if form.is_submitted() else 200
    return page_or_partial(
        "declarations/form.html",
        "declarations/_form.html",
        status,
        form=form,
        template=template,
        next_url=_next_url(),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    form = DeclarationForm()
    if form.validate_on_submit():
        try:
            declarations.add_template(current_user, form.to_input())
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("The declaration template has been saved."), "success")
            return hx_redirect(_next_url() or url_for("declarations.index"))
    return _form_response(form)


@bp.route("/<int:template_id>/edit", methods=["GET", "POST"])
@login_required
def edit(template_id: int):
    template = _template_or_404(template_id)
    form = DeclarationForm() if request.method == "POST" else DeclarationForm.for_template(template)
    if form.validate_on_submit():
        try:
            declarations.update_template(current_user, template_id, form.to_input())
        except DomainError as err:
            db.session.rollback()
            add_error(form, err)
        else:
            db.session.commit()
            flash(_("The declaration template has been saved."), "success")
            return hx_redirect(_next_url() or url_for("declarations.index"))
    return _form_response(form, template)


@bp.route("/<int:template_id>/delete", methods=["GET", "POST"])
@login_required
def delete(template_id: int):
    """GET asks for confirmation (inside the list for htmx); POST deletes."""
    if request.method == "GET":
        return page_or_partial(
            "declarations/delete.html",
            "declarations/_delete.html",
            template=_template_or_404(template_id),
            inline=is_partial(),
        )
    try:
        declarations.delete_template(current_user, template_id)
    except TemplateNotFound:
        abort(404)
    db.session.commit()
    flash(_("The declaration template has been deleted."), "success")
    if is_partial():
        return page_or_partial(
            "declarations/index.html",
            "declarations/_list.html",
            templates=declarations.customer_templates(current_user),
            flash_oob=True,
        )
    return hx_redirect(url_for("declarations.index"))
