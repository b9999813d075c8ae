from flask import Blueprint

bp = Blueprint("recharge", __name__)

from portal.recharge import online, views  # noqa: E402, F401
