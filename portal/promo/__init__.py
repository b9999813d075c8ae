from flask import Blueprint

bp = Blueprint("promo", __name__)

from portal.promo import views  # noqa: E402, F401
