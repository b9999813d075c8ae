from flask import Blueprint

bp = Blueprint("parcels", __name__)

from portal.parcels import views  # noqa: E402, F401
