from flask import Blueprint

bp = Blueprint("orders", __name__)

from portal.orders import pay, views, wizard  # noqa: E402, F401
