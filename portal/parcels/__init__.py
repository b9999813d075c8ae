from flask import Blueprint

bp = Blueprint("parcels", __name__)

from portal.parcels import claims, views  # noqa: E402, F401
