"""The 集运 customer portal: create_app() builds the Flask application."""

import os

from flask import Flask
from werkzeug.local import LocalProxy
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import database, page_cache
from portal.cached_blocks import CachedBlocks, columns_of
from portal.config import TestConfig, check_production_safety, config_from_env
from portal.errors import (
    install_error_handlers,
    login_required_answer,
    refresh_required_answer,
)
from portal.extensions import babel, csrf, db, login_manager, migrate
from portal.i18n import (
    LANGUAGE_NAMES,
    bound_gettext,
    format_fen,
    format_kg,
    format_yuan,
    select_locale,
)
from portal.requests import PortalRequest
from portal.security import install_security_headers
from portal.services import session_users, site_settings, table_versions
from portal.services.accounts import load_session_user

# Signed-in users kept per process for cached pages (services/session_users): a few kB each.
SESSION_USER_COPIES = 4096
MIGRATIONS_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations"
)


def create_app(overrides: dict | None = None, testing: bool = False) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = PortalRequest
    app.config.from_object(TestConfig if testing else config_from_env())
    app.config.update(overrides or {})
    check_production_safety(app.config)
    database.resolve_database_uri(app)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = database.engine_options(app)

    if app.config["TRUSTED_PROXY_COUNT"]:
        n = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    _init_extensions(app)
    _register_blueprints(app)
    install_error_handlers(app)
    install_security_headers(app)
    database.mark_request_read_only(app)
    with app.app_context():
        page_cache.init_app(app, db.engine)

    from portal.cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        database.install_sqlite_hooks(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        database.install_idle_ping(db.engine)
        table_versions.install(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_session_user)
    session_users.init_app(app, SESSION_USER_COPIES)
    login_manager.unauthorized_handler(login_required_answer)
    login_manager.needs_refresh_handler(refresh_required_answer)

    # The site name, contacts and notice (header, title, footer): read when first used.
    site = LocalProxy(site_settings.cached)

    @app.context_processor
    def _template_globals():
        return {
            "language_names": LANGUAGE_NAMES,
            "current_locale": select_locale(),
            "site": site,
            **bound_gettext(),
        }

    app.jinja_env.add_extension(CachedBlocks)
    app.jinja_env.globals["columns_of"] = columns_of
    app.jinja_env.filters["fen"] = format_fen
    app.jinja_env.filters["kg"] = format_kg
    app.jinja_env.filters["yuan"] = format_yuan


def _register_blueprints(app: Flask) -> None:
    from portal.account import bp as account_bp
    from portal.addresses import bp as addresses_bp
    from portal.auth import bp as auth_bp
    from portal.coupons import bp as coupons_bp
    from portal.declarations import bp as declarations_bp
    from portal.gateway_simulator import register as register_gateway_simulator
    from portal.main import bp as main_bp
    from portal.member import bp as member_bp
    from portal.messages import bp as messages_bp
    from portal.ops import bp as ops_bp
    from portal.orders import bp as orders_bp
    from portal.parcels import bp as parcels_bp
    from portal.promo import bp as promo_bp
    from portal.quote import bp as quote_bp
    from portal.recharge import bp as recharge_bp
    from portal.wallet import bp as wallet_bp
    from portal.wechat_simulator import register as register_wechat_simulator
    from portal.wuliutong_simulator import register as register_wuliutong_simulator

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(account_bp, url_prefix="/account")
    app.register_blueprint(ops_bp, url_prefix="/ops")
    app.register_blueprint(quote_bp)
    app.register_blueprint(parcels_bp, url_prefix="/parcels")
    app.register_blueprint(orders_bp, url_prefix="/orders")
    app.register_blueprint(addresses_bp, url_prefix="/addresses")
    app.register_blueprint(declarations_bp, url_prefix="/declarations")
    app.register_blueprint(messages_bp, url_prefix="/messages")
    app.register_blueprint(wallet_bp, url_prefix="/wallet")
    app.register_blueprint(recharge_bp, url_prefix="/recharge")
    app.register_blueprint(promo_bp, url_prefix="/promo")
    app.register_blueprint(coupons_bp, url_prefix="/coupons")
    app.register_blueprint(member_bp, url_prefix="/member")
    register_gateway_simulator(app)
    register_wechat_simulator(app)
    register_wuliutong_simulator(app)
