"""A local stand-in for Alipay (development and tests only; production refuses to start with it):
a pay page for our signed requests, trade queries, and notifications signed with its own key."""

import secrets
from pathlib import Path

from flask import Blueprint, Flask

from portal.extensions import csrf
from portal.gateways.config import key_folder

bp = Blueprint("gateway_simulator", __name__)


def register(app: Flask) -> None:
    """Mount the simulator at /simulator/ when it is the configured gateway."""
    if app.config["PAYMENT_GATEWAY"] != "simulator":
        return
    if not app.config.get("GATEWAY_SIMULATOR_DB"):
        folder = key_folder(app).parent if app.testing else Path(app.instance_path)
        # Under test every app gets a fresh file, so no test sees another's trades or outbox.
        name = f"simulator-{secrets.token_hex(8)}.sqlite3" if app.testing else "simulator.sqlite3"
        app.config["GATEWAY_SIMULATOR_DB"] = str(folder / name)
    app.register_blueprint(bp, url_prefix="/simulator")


from portal.gateway_simulator import views  # noqa: E402

# The simulator's forms and API are posted by "another site" that knows no CSRF token of ours.
csrf.exempt(views.gateway_api)
csrf.exempt(views.pay_or_cancel)
