from flask import Blueprint

bp = Blueprint("declarations", __name__)

from portal.declarations import views  # noqa: E402, F401
