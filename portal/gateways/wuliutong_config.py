"""The 物流通 client built from the app's configuration.

`WULIUTONG_LOGIN = "remote"` calls WULIUTONG_API_URL as WULIUTONG_CLIENT_ID, signing with
WULIUTONG_SECRET and waiting WULIUTONG_TIMEOUT_SECONDS at most; `"simulator"` (development and
tests only; production refuses it) is answered in-process by portal/wuliutong_simulator;
`"off"` (or "remote" without all three settings) hides the 物流通 login.
"""

from flask import Flask, current_app

from portal.gateways.wuliutong import Transport, WuliutongClient

REMOTE_SETTINGS = ("WULIUTONG_API_URL", "WULIUTONG_CLIENT_ID", "WULIUTONG_SECRET")


class WuliutongNotConfigured(Exception):
    """The 物流通 login is off, or "remote" without its URL, client id or secret."""


def is_enabled(app: Flask | None = None) -> bool:
    """Whether the login page offers the 物流通 account."""
    config = (app or current_app).config
    mode = config.get("WULIUTONG_LOGIN")
    if mode == "simulator":
        return True
    return mode == "remote" and all(config.get(name) for name in REMOTE_SETTINGS)


def wuliutong_client(
    app: Flask | None = None, transport: Transport | None = None
) -> WuliutongClient:
    """The client for the configured sister system; WuliutongNotConfigured when there is none."""
    app = app or current_app._get_current_object()
    config = app.config
    if not is_enabled(app):
        raise WuliutongNotConfigured("the 物流通 login is not configured")
    timeout = float(config.get("WULIUTONG_TIMEOUT_SECONDS") or 5)
    if config["WULIUTONG_LOGIN"] == "simulator":
        from portal.wuliutong_simulator.service import (
            SIMULATOR_CLIENT_ID,
            SIMULATOR_SECRET,
            in_process_transport,
        )

        return WuliutongClient(
            base_url="/wuliutong-simulator",
            client_id=SIMULATOR_CLIENT_ID,
            secret=SIMULATOR_SECRET,
            timeout_seconds=timeout,
            transport=transport or in_process_transport,
        )
    client = WuliutongClient(
        base_url=config["WULIUTONG_API_URL"],
        client_id=config["WULIUTONG_CLIENT_ID"],
        secret=config["WULIUTONG_SECRET"],
        timeout_seconds=timeout,
    )
    if transport is not None:
        client.transport = transport
    return client
