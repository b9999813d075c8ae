"""The message centre: the user's messages, opening one, marking all read, and the bell."""

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.extensions import db
from portal.htmx import hx_redirect, is_partial, page_or_partial
from portal.messages import bp, labels
from portal.models.base import is_id
from portal.paging import page_number, parse_page
from portal.security import safe_next
from portal.services import notifications

MAX_URL = 500
CHANGED = {"HX-Trigger": "messagesChanged"}


def _list_context(page: int) -> dict:
    messages, has_next = notifications.messages_page(current_user, page)
    return {
        "messages": messages,
        "page_no": page,
        "has_next": has_next,
        "list_url": url_for("messages.index", page=page if page > 1 else None),
        "labels": labels,
    }


@bp.route("/")
@login_required
def index():
    context = _list_context(parse_page(request.args.get("page")))
    if not context["messages"] and context["page_no"] > 1:
        abort(404)
    return page_or_partial("messages/index.html", "messages/_list.html", **context)


def _local(target: str | None, default: str) -> str:
    if target and len(target) > MAX_URL:
        return default
    return safe_next(target, default)


@bp.route("/<int:message_id>/read", methods=["POST"])
@login_required
def read(message_id: int):
    """Mark a message read and go to what it is about (back to the list when nothing)."""
    message = notifications.mark_read(current_user, message_id) if is_id(message_id) else None
    if message is None:
        abort(404)
    db.session.commit()
    back = _local(request.form.get("next"), url_for("messages.index"))
    response = hx_redirect(_local(message.link, back))
    response.headers.update(CHANGED)
    return response


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all():
    notifications.mark_all_read(current_user)
    db.session.commit()
    page = page_number(request.form.get("page")) or 1
    if is_partial():
        response = make_response(render_template("messages/_list.html", **_list_context(page)))
        response.vary.add("HX-Request")
    else:
        flash(_("All your messages are marked as read."), "success")
        response = hx_redirect(url_for("messages.index", page=page if page > 1 else None))
    response.headers.update(CHANGED)
    return response


@bp.route("/badge")
@login_required
def badge():
    """The bell alone, for htmx to refresh it; a browser opening this URL gets the messages."""
    if is_partial():
        response = make_response(render_template("_bell.html"))
        response.headers["Cache-Control"] = "no-store"
    else:
        response = redirect(url_for("messages.index"))
    response.vary.add("HX-Request")
    return response
