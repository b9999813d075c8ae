from flask import Blueprint

bp = Blueprint("member", __name__)

from portal.member import views  # noqa: E402, F401
