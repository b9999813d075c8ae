"""Set-up: the site's name, service contacts and notice."""

import re

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.htmx import hx_redirect, page_or_partial
from portal.ops import bp
from portal.services import site_settings
from portal.services.settings_row import SettingsChanged
from portal.services.site_settings import LIMITS, InvalidSettings

REVISION = re.compile(r"[0-9]{1,9}")


def _form(status: int = 200, errors: dict | None = None, values: dict | None = None):
    settings = site_settings.current()
    if values is None:
        values = {f: getattr(settings, f) if settings else "" for f in LIMITS}
    return page_or_partial(
        "ops/site_settings.html",
        "ops/_site_settings_form.html",
        status,
        settings=settings,
        values=values,
        errors=errors or {},
        limits=LIMITS,
    )


@bp.route("/site-settings", methods=["GET", "POST"], endpoint="site_settings")
def site_settings_page():
    """The site name, service contacts and customer notice; saving is revision-checked."""
    if request.method == "GET":
        return _form()
    values = {f: (request.form.get(f) or "")[:400] for f in LIMITS}
    raw_revision = request.form.get("revision") or ""
    revision = int(raw_revision) if REVISION.fullmatch(raw_revision) else -1
    try:
        site_settings.save(current_user, request.form, revision)
    except InvalidSettings as err:
        db.session.rollback()
        return _form(422, err.errors, values)
    except SettingsChanged as err:
        db.session.rollback()
        return _form(409, {"form": err.message}, values)
    db.session.commit()
    site_settings.clear_cache()
    flash(_("Site settings saved."), "success")
    return hx_redirect(url_for("ops.site_settings"))
