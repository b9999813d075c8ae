"""Friendly error pages, and the htmx answers for an expired login or a stale CSRF token."""

from urllib.parse import urlsplit

from flask import Flask, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.extensions import db
from portal.htmx import is_htmx

ERROR_PAGES = {400, 403, 404, 405, 413, 500}
# For htmx requests the error is shown in the flash region instead of the request's target.
HTMX_ERROR_HEADERS = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}


def _error_response(status: int, message: str | None = None):
    if is_htmx():
        body = render_template("errors/_error.html", status=status, message=message)
        return body, status, HTMX_ERROR_HEADERS
    return render_template("errors/error.html", status=status, message=message), status


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_err):
        if is_htmx():
            # The page holds a stale token: reload it rather than swap an error into it.
            return "", 400, {"HX-Refresh": "true"}
        return _error_response(
            400, _("This page has expired. Please go back, refresh and try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if err.code not in ERROR_PAGES:
            return err
        response = make_response(_error_response(err.code))
        # Keep the exception's own headers but its body's type, e.g. the Allow header of a 405.
        for name, value in err.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _crash(_err: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return _error_response(500)


def _path_of(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed HX-Current-URL header, e.g. "http://["
        return request.path
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _to_login(message: str):
    """Send the user to the login page and back here afterwards: HX-Redirect for htmx."""
    flash(message, "info")
    if is_htmx():
        # Come back to the page the user was on, not to the fragment URL.
        page = _path_of(request.headers.get("HX-Current-URL") or request.path)
        return "", 401, {"HX-Redirect": url_for("auth.login", next=page)}
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def login_required_answer():
    """Flask-Login's unauthorized handler."""
    return _to_login(_("Please log in to continue."))


def refresh_required_answer():
    """Flask-Login's needs-refresh handler: sensitive pages want a password typed this session."""
    return _to_login(_("For your security, please enter your password again."))
