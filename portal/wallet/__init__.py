from flask import Blueprint

bp = Blueprint("wallet", __name__)

from portal.wallet import views  # noqa: E402, F401
