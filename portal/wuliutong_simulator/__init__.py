"""A local stand-in for the 物流通 sister system's account check (development and tests only;
production refuses to start with it)."""

from flask import Blueprint, Flask

from portal.extensions import csrf

bp = Blueprint("wuliutong_simulator", __name__)


def register(app: Flask) -> None:
    """Mount the simulator at /wuliutong-simulator/ when it is the configured 物流通 login."""
    if app.config["WULIUTONG_LOGIN"] != "simulator":
        return
    app.register_blueprint(bp, url_prefix="/wuliutong-simulator")


from portal.wuliutong_simulator import views  # noqa: E402

# The API is called by another server, which knows no CSRF token of ours.
csrf.exempt(views.verify_api)
