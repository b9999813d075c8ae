from flask import Blueprint

bp = Blueprint("coupons", __name__)

from portal.coupons import views  # noqa: E402, F401
