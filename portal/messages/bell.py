"""The unread-message count in the top bar of every page a logged-in user sees."""

from flask import current_app, g, has_request_context
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from portal.messages import bp
from portal.services import notifications


def unread_messages() -> int | None:
    """The current user's unread count, read once per request and only when a page asks."""
    if "unread_messages" not in g:
        try:
            g.unread_messages = notifications.unread_count(current_user)
        except SQLAlchemyError:
            # The counter must not turn a page (an error page, say) into a crash.
            current_app.logger.exception("could not count unread messages")
            g.unread_messages = None
    return g.unread_messages


@bp.app_context_processor
def _bell() -> dict:
    if has_request_context() and current_user and current_user.is_authenticated:
        return {"unread_messages": unread_messages}
    return {}
