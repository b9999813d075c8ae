from flask import Blueprint

bp = Blueprint("addresses", __name__)

from portal.addresses import views  # noqa: E402, F401
