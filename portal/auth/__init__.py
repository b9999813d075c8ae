from flask import Blueprint

bp = Blueprint("auth", __name__)

from portal.auth import invitation, views, wechat, wuliutong  # noqa: E402, F401
