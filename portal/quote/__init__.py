from flask import Blueprint

bp = Blueprint("quote", __name__)

from portal.quote import views  # noqa: E402, F401
