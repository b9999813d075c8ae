from flask import Blueprint

bp = Blueprint("account", __name__)

from portal.account import views, wuliutong  # noqa: E402, F401
