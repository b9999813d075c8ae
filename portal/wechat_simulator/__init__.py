"""A local stand-in for WeChat's web authorization (development and tests only; production
refuses to start with it): the 公众号 authorize page, the website app's qrconnect page, and the
access_token and userinfo answers (given in-process, see portal/gateways/wechat_config.py)."""

import secrets
from pathlib import Path

from flask import Blueprint, Flask

from portal.gateways.config import key_folder
from portal.gateways.wechat_config import SIMULATOR_PREFIX

bp = Blueprint("wechat_simulator", __name__)


def register(app: Flask) -> None:
    """Mount the simulator at /wechat-simulator/ when it is the configured WeChat login."""
    if app.config.get("WECHAT_LOGIN") != "simulator":
        return
    if not app.config.get("WECHAT_SIMULATOR_DB"):
        folder = key_folder(app).parent if app.testing else Path(app.instance_path)
        # Under test every app gets its own file (in a folder removed at exit).
        name = (
            f"wechat-simulator-{secrets.token_hex(8)}.sqlite3"
            if app.testing
            else "wechat-simulator.sqlite3"
        )
        app.config["WECHAT_SIMULATOR_DB"] = str(folder / name)
    app.register_blueprint(bp, url_prefix=SIMULATOR_PREFIX)


from portal.wechat_simulator import views  # noqa: E402, F401
