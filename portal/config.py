"""Configuration read from the environment; production refuses to start with unsafe defaults."""

import os
from datetime import timedelta

DEV_SECRET_KEY = "dev-only-insecure-secret-key"  # noqa: S105


class Config:
    ENV_NAME = "development"
    SITE_NAME = os.environ.get("SITE_NAME", "集运通")
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    # None means "portal.sqlite3 in the instance folder", resolved by create_app().
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    PG_STATEMENT_TIMEOUT_MS = int(os.environ.get("PG_STATEMENT_TIMEOUT_MS", "15000"))
    PG_LOCK_TIMEOUT_MS = int(os.environ.get("PG_LOCK_TIMEOUT_MS", "5000"))
    SQLITE_BUSY_TIMEOUT_MS = 5000

    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    # Staff upload several full-size phone photos at once (intake, boxes); only after login.
    OPS_MAX_CONTENT_LENGTH = 64 * 1024 * 1024
    MAX_FORM_PARTS = 1000

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    REMEMBER_COOKIE_NAME = "remember_token"
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    HSTS = False

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")

    # argon2id parameters: argon2-cffi's RFC 9106 "low memory" profile.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST_KIB = 65536
    ARGON2_PARALLELISM = 4

    # Login throttling, per account identifier (see services/throttle.py).
    LOGIN_FREE_FAILURES = 5
    LOGIN_MAX_FAILURES_PER_HOUR = 100
    LOGIN_MAX_LOCK_SECONDS = 900

    # Number of reverse proxies in front of the app whose X-Forwarded-* headers we trust.
    TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

    # Days a received parcel is stored free, and how many days before the end it is "expiring soon".
    FREE_STORAGE_DAYS = int(os.environ.get("FREE_STORAGE_DAYS", "30"))
    STORAGE_WARNING_DAYS = int(os.environ.get("STORAGE_WARNING_DAYS", "5"))
    # Uploaded images (intake photos, receipts) live here, outside static/; None means
    # "uploads" in the instance folder.
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER")

    # Online recharge (portal/gateways): "alipay" with the app id and key files below, or
    # "simulator", a stand-in for Alipay at /simulator/ (never in production).
    PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "simulator")
    ALIPAY_APP_ID = os.environ.get("ALIPAY_APP_ID", "")
    # The merchant's Alipay user id (2088…): notifications naming another seller are refused.
    ALIPAY_SELLER_ID = os.environ.get("ALIPAY_SELLER_ID", "")
    ALIPAY_PRIVATE_KEY_FILE = os.environ.get("ALIPAY_PRIVATE_KEY_FILE")
    ALIPAY_PUBLIC_KEY_FILE = os.environ.get("ALIPAY_PUBLIC_KEY_FILE")
    ALIPAY_GATEWAY_URL = os.environ.get(
        "ALIPAY_GATEWAY_URL", "https://openapi.alipay.com/gateway.do"
    )
    # The simulator's key pairs and its own SQLite file; None means in the instance folder.
    GATEWAY_KEY_FOLDER = os.environ.get("GATEWAY_KEY_FOLDER")
    GATEWAY_SIMULATOR_DB = os.environ.get("GATEWAY_SIMULATOR_DB")
    # A background thread delivers the simulator's notifications every second.
    GATEWAY_SIMULATOR_AUTODELIVER = True

    # WeChat login (portal/gateways/wechat.py): "wechat" with the 公众号 app id and secret (web
    # authorization inside WeChat) and the open-platform website app id and secret (QR login on
    # a desktop); "simulator", a stand-in at /wechat-simulator/ (never in production); "off".
    WECHAT_LOGIN = os.environ.get("WECHAT_LOGIN", "simulator")
    WECHAT_MP_APP_ID = os.environ.get("WECHAT_MP_APP_ID", "")
    WECHAT_MP_APP_SECRET = os.environ.get("WECHAT_MP_APP_SECRET", "")
    WECHAT_OPEN_APP_ID = os.environ.get("WECHAT_OPEN_APP_ID", "")
    WECHAT_OPEN_APP_SECRET = os.environ.get("WECHAT_OPEN_APP_SECRET", "")
    WECHAT_TIMEOUT_SECONDS = 5

    # 物流通 account login (portal/gateways/wuliutong.py): "remote" calls the sister system at
    # WULIUTONG_API_URL with HMAC-signed requests (client id and shared secret); "simulator", a
    # stand-in at /wuliutong-simulator/ (never in production); "off".
    WULIUTONG_LOGIN = os.environ.get("WULIUTONG_LOGIN", "simulator")
    WULIUTONG_API_URL = os.environ.get("WULIUTONG_API_URL", "")
    WULIUTONG_CLIENT_ID = os.environ.get("WULIUTONG_CLIENT_ID", "")
    WULIUTONG_SECRET = os.environ.get("WULIUTONG_SECRET", "")
    WULIUTONG_TIMEOUT_SECONDS = 5
    # How long a worker may show site settings saved by another worker (services/site_settings).
    SITE_SETTINGS_CACHE_SECONDS = 5.0
    # Whole pages kept per worker (portal/page_cache.py; 0 turns it off) and their longest life,
    # which bounds how long a write made outside the app (psql, a restored backup) can go unseen.
    PAGE_CACHE_ENTRIES = 512
    PAGE_CACHE_SECONDS = 300.0

    # The stand-in's test switch: when True it does not answer (the in-process call times out).
    WULIUTONG_SIMULATOR_DOWN = False


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS = True
    PREFERRED_URL_SCHEME = "https"
    PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "alipay")
    WECHAT_LOGIN = os.environ.get("WECHAT_LOGIN", "off")
    WULIUTONG_LOGIN = os.environ.get("WULIUTONG_LOGIN", "off")


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105
    # Cheap hashes keep the suite fast; test_passwords checks the production parameters.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST_KIB = 1024
    ARGON2_PARALLELISM = 1
    PAYMENT_GATEWAY = "simulator"
    # Keys are made once per process in a temporary folder; each app gets its own simulator
    # file there; tests deliver the simulator's notifications themselves.
    GATEWAY_KEY_FOLDER = None
    GATEWAY_SIMULATOR_DB = None
    GATEWAY_SIMULATOR_AUTODELIVER = False
    WECHAT_LOGIN = "simulator"
    WULIUTONG_LOGIN = "simulator"
    # Each test starts with the cache cleared (tests/conftest.py) and every save clears it, so
    # a request reads the settings only after they changed: query counts stay the same.
    SITE_SETTINGS_CACHE_SECONDS = float("inf")


def config_from_env() -> type[Config]:
    """Pick the config class named by PORTAL_ENV (development by default)."""
    name = os.environ.get("PORTAL_ENV", "development")
    return {"production": ProductionConfig, "development": Config}[name]


def check_production_safety(config: dict) -> None:
    """Refuse to run in production with the development secret key or none at all, or with the
    payment gateway or a login simulator (anyone could pay anything, or log in as anyone)."""
    if config.get("ENV_NAME") != "production":
        return
    key = config.get("SECRET_KEY") or ""
    if key == DEV_SECRET_KEY or len(key) < 32:
        raise RuntimeError(
            "SECRET_KEY must be set to a random value of at least 32 characters in production"
        )
    if config.get("PAYMENT_GATEWAY") != "alipay":
        raise RuntimeError("PAYMENT_GATEWAY must be 'alipay' in production (not the simulator)")
    if config.get("WECHAT_LOGIN") not in ("wechat", "off"):
        raise RuntimeError("WECHAT_LOGIN must be 'wechat' or 'off' in production")
    if config.get("WULIUTONG_LOGIN") not in ("remote", "off"):
        raise RuntimeError("WULIUTONG_LOGIN must be 'remote' or 'off' in production")
