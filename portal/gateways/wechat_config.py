"""The WeChat login clients built from the app's configuration.

`WECHAT_LOGIN = "wechat"` uses WECHAT_MP_APP_ID/SECRET (公众号, web authorization inside
WeChat) and WECHAT_OPEN_APP_ID/SECRET (open-platform website app, QR login on a desktop).
`"simulator"` (development and tests only; production refuses it) sends the browser to
portal/wechat_simulator and answers the server-to-server calls in-process. `"off"`: no button.
"""

from flask import Flask, current_app

from portal.gateways.wechat import QRCONNECT_URL, Transport, WeChatApp

# "mp": inside WeChat's browser (公众号 web authorization); "qr": QR login on other browsers.
FLOWS = ("mp", "qr")
SCOPES = {"mp": "snsapi_userinfo", "qr": "snsapi_login"}
SIMULATOR_PREFIX = "/wechat-simulator"
SIMULATOR_APPS = {
    "mp": ("wx5e1c0a00000000a1", "simulator-mp-secret"),
    "qr": ("wx5e1c0a00000000b2", "simulator-open-secret"),
}
_CREDENTIALS = {
    "mp": ("WECHAT_MP_APP_ID", "WECHAT_MP_APP_SECRET"),
    "qr": ("WECHAT_OPEN_APP_ID", "WECHAT_OPEN_APP_SECRET"),
}


class WeChatNotConfigured(Exception):
    """WeChat login is off, or this flow's app id or secret is missing."""


def is_enabled(app: Flask | None = None) -> bool:
    """Whether the WeChat button is offered at all."""
    return (app or current_app).config.get("WECHAT_LOGIN") in ("wechat", "simulator")


def flow_for(user_agent: str) -> str:
    """The 公众号 flow inside WeChat's own browser, the QR flow anywhere else."""
    return "mp" if "MicroMessenger" in (user_agent or "") else "qr"


def scope_for(flow: str, app: Flask | None = None) -> str:
    """snsapi_userinfo inside WeChat (WECHAT_MP_SCOPE may say snsapi_base), snsapi_login for QR."""
    if flow == "mp":
        return (app or current_app).config.get("WECHAT_MP_SCOPE") or SCOPES["mp"]
    return SCOPES["qr"]


def wechat_app(
    flow: str, app: Flask | None = None, transport: Transport | None = None
) -> WeChatApp:
    """The client for one flow; WeChatNotConfigured when it cannot be offered.

    Towards the simulator the API calls are answered in-process unless a transport is given."""
    app = app or current_app._get_current_object()
    config = app.config
    if flow not in FLOWS or not is_enabled(app):
        raise WeChatNotConfigured("WeChat login is not configured")
    if config["WECHAT_LOGIN"] == "simulator":
        from portal.wechat_simulator.service import answer_api

        app_id, secret = SIMULATOR_APPS[flow]
        page = "connect/qrconnect" if flow == "qr" else "connect/oauth2/authorize"
        return WeChatApp(
            app_id=app_id,
            secret=secret,
            authorize_url=f"{SIMULATOR_PREFIX}/{page}",
            api_base=SIMULATOR_PREFIX,
            transport=transport or (lambda url, _timeout: answer_api(url)),
            timeout=config["WECHAT_TIMEOUT_SECONDS"],
        )
    id_name, secret_name = _CREDENTIALS[flow]
    if not (config.get(id_name) and config.get(secret_name)):
        raise WeChatNotConfigured(f"{id_name} and {secret_name} are needed")
    client = WeChatApp(
        app_id=config[id_name],
        secret=config[secret_name],
        timeout=config["WECHAT_TIMEOUT_SECONDS"],
    )
    if flow == "qr":
        client.authorize_url = QRCONNECT_URL
    if transport is not None:
        client.transport = transport
    return client
