"""The payment gateway client built from the app's configuration.

`PAYMENT_GATEWAY = "alipay"` uses ALIPAY_APP_ID, ALIPAY_PRIVATE_KEY_FILE (our app's private key),
ALIPAY_PUBLIC_KEY_FILE (Alipay's public key) and ALIPAY_GATEWAY_URL. `"simulator"` (development
and tests only; production refuses it) talks to portal/gateway_simulator with two key pairs made
on first use: in the instance folder's gateway-keys/ (mode 0600), or once per process in a
temporary folder under test.
"""

import atexit
import os
import shutil
import tempfile
import threading
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, current_app

from portal.gateways.alipay import AlipayClient, Transport, load_private_key, load_public_key

SIMULATOR_APP_ID = "2021000000000000"
SIMULATOR_GATEWAY_PATH = "/simulator/gateway.do"
MERCHANT_KEY = "merchant-private.pem"
SIMULATOR_KEY = "simulator-private.pem"
_lock = threading.Lock()


class GatewayNotConfigured(Exception):
    """Online payment is switched on without the app id or keys it needs."""


@cache
def _process_folder() -> Path:
    """A temporary folder shared by every test app in this process (keys are made once)."""
    folder = tempfile.mkdtemp(prefix="portal-gateway-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)


def key_folder(app: Flask) -> Path:
    """Where the simulator's and our development key pairs are kept."""
    configured = app.config.get("GATEWAY_KEY_FOLDER")
    if configured:
        return Path(configured)
    if app.testing:
        return _process_folder() / "gateway-keys"
    return Path(app.instance_path) / "gateway-keys"


@cache
def _stored_key(path: Path) -> rsa.RSAPrivateKey:
    """The private key in `path`, generated and written (0600, never overwritten) if missing."""
    with _lock:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            try:
                os.link(temporary, path)  # another process may have been quicker: keep its key
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        return load_private_key(path.read_bytes())


def merchant_key(app: Flask) -> rsa.RSAPrivateKey:
    """Our private key towards the simulator."""
    return _stored_key(key_folder(app) / MERCHANT_KEY)


def simulator_key(app: Flask) -> rsa.RSAPrivateKey:
    """The simulator's own private key (it signs notifications and query answers)."""
    return _stored_key(key_folder(app) / SIMULATOR_KEY)


@cache
def _key_file(path: str, private: bool):
    data = Path(path).read_bytes()
    return load_private_key(data) if private else load_public_key(data)


def is_available(app: Flask | None = None) -> bool:
    """Whether online recharge can be offered (the simulator, or Alipay with its keys)."""
    config = (app or current_app).config
    if config.get("PAYMENT_GATEWAY") == "simulator":
        return True
    return config.get("PAYMENT_GATEWAY") == "alipay" and all(
        config.get(name)
        for name in ("ALIPAY_APP_ID", "ALIPAY_PRIVATE_KEY_FILE", "ALIPAY_PUBLIC_KEY_FILE")
    )


def gateway_client(app: Flask | None = None, transport: Transport | None = None) -> AlipayClient:
    """The Alipay client for the configured gateway; GatewayNotConfigured when there is none.

    Towards the simulator, queries are answered in-process unless a transport is given."""
    app = app or current_app._get_current_object()
    config = app.config
    if not is_available(app):
        raise GatewayNotConfigured("online payment is not configured")
    if config["PAYMENT_GATEWAY"] == "simulator":
        from portal.gateway_simulator.service import SELLER_ID, answer_gateway_post

        return AlipayClient(
            app_id=SIMULATOR_APP_ID,
            private_key=merchant_key(app),
            gateway_public_key=simulator_key(app).public_key(),
            gateway_url=SIMULATOR_GATEWAY_PATH,
            transport=transport or (lambda _url, form: answer_gateway_post(form)),
            seller_id=SELLER_ID,
        )
    client = AlipayClient(
        app_id=config["ALIPAY_APP_ID"],
        private_key=_key_file(config["ALIPAY_PRIVATE_KEY_FILE"], True),
        gateway_public_key=_key_file(config["ALIPAY_PUBLIC_KEY_FILE"], False),
        gateway_url=config["ALIPAY_GATEWAY_URL"],
        seller_id=config["ALIPAY_SELLER_ID"],
    )
    if transport is not None:
        client.transport = transport
    return client
