"""Settings kept in one row (payment settings, site settings), saved by compare-and-set on the
row's revision so that two people editing at once cannot overwrite each other."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.services.errors import DomainError

SETTINGS_ID = 1


class SettingsChanged(DomainError):
    """Someone saved the settings since this form was opened; nothing was changed."""


def write_row(model, before, revision: int, row: dict):
    """Insert the row (revision 0: never saved) or update it if its revision is still
    `revision`, bumping it; raises SettingsChanged otherwise."""
    changed = SettingsChanged(
        _l("Someone else saved these settings meanwhile. Reload the page to see their changes.")
    )
    if before is None:
        if revision != 0:
            raise changed
        settings = model(id=SETTINGS_ID, revision=1, **row)
        try:
            with db.session.begin_nested():
                db.session.add(settings)
        except IntegrityError:
            raise changed from None
        return settings
    moved = db.session.execute(
        update(model)
        .where(model.id == before.id, model.revision == revision)
        .values(revision=model.revision + 1, **row)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise changed
    db.session.refresh(before)
    return before
