from flask import Blueprint

bp = Blueprint("messages", __name__)

from portal.messages import bell, views  # noqa: E402, F401
