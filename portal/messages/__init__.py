from flask import Blueprint

bp = Blueprint("messages", __name__)

from portal.messages import views  # noqa: E402, F401
