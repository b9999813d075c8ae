"""The simulator's side of Alipay: it checks our signed requests, records paid trades, answers
trade queries and delivers signed notifications until they are acknowledged.

It stands in for an outside service, so it keeps its trades and its outbox in its own SQLite
file (stdlib sqlite3, GATEWAY_SIMULATOR_DB), never in the portal's database.
"""

import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, current_app

from portal.gateways import alipay
from portal.gateways.config import SIMULATOR_APP_ID, merchant_key, simulator_key

log = logging.getLogger(__name__)

PAY_METHODS = {alipay.PAGE_PAY[0]: alipay.PAGE_PAY[1], alipay.WAP_PAY[0]: alipay.WAP_PAY[1]}
MAX_REQUEST_AGE = timedelta(minutes=30)
MAX_AMOUNT_FEN = 100_000_000 * 100
# Seconds before each further attempt after a failed delivery; given up after MAX_ATTEMPTS.
BACKOFF_SECONDS = (2, 5, 15, 60, 300, 900, 3600)
MAX_ATTEMPTS = 8
# A delivery in progress holds its row this long, so two deliverers never send it together.
LEASE_SECONDS = 30
SELLER_ID = "2088000000000001"
SCHEMA = """
CREATE TABLE IF NOT EXISTS trades (
    out_trade_no TEXT PRIMARY KEY,
    trade_no TEXT NOT NULL UNIQUE,
    total_amount TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    paid_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    out_trade_no TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    params TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    acked_at REAL,
    given_up INTEGER NOT NULL DEFAULT 0,
    last_reply TEXT NOT NULL DEFAULT ''
);
"""
_autodelivery_lock = threading.Lock()


class RequestRefused(Exception):
    """Our request to the simulator is not acceptable; `code` reads like Alipay's sub_code."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class PayRequest:
    """A verified page or wap pay request."""

    params: dict[str, str]
    method: str
    out_trade_no: str
    amount_fen: int
    subject: str
    notify_url: str
    return_url: str


@dataclass(frozen=True)
class Trade:
    out_trade_no: str
    trade_no: str
    total_amount: str
    subject: str
    status: str
    paid_at: str


def database_path(app: Flask | None = None) -> Path:
    config = (app or current_app).config
    return Path(config["GATEWAY_SIMULATOR_DB"])


def _connect() -> sqlite3.Connection:
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(SCHEMA)
    return connection


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _signed_by_merchant(params: Mapping[str, str]) -> None:
    signature = params.get("sign") or ""
    content = alipay.sign_content(params)
    if not alipay.rsa2_verify(content, signature, merchant_key(current_app).public_key()):
        raise RequestRefused("isv.invalid-signature")
    if params.get("app_id") != SIMULATOR_APP_ID:
        raise RequestRefused("isv.invalid-app-id")
    if params.get("sign_type") != "RSA2" or params.get("charset") != "utf-8":
        raise RequestRefused("isv.invalid-signature-type")


def check_pay_request(params: Mapping[str, str], now: datetime | None = None) -> PayRequest:
    """A page/wap pay request whose merchant signature, app, timestamp and amount are valid."""
    params = {k: v for k, v in params.items() if isinstance(v, str)}
    _signed_by_merchant(params)
    method = params.get("method", "")
    if method not in PAY_METHODS:
        raise RequestRefused("isv.invalid-method")
    try:
        stamp = alipay.parse_beijing_time(params.get("timestamp", ""))
        biz = json.loads(params.get("biz_content", ""))
        amount_fen = alipay.amount_to_fen(biz["total_amount"])
        out_trade_no, subject = str(biz["out_trade_no"]), str(biz["subject"])
    except (ValueError, KeyError, TypeError):
        raise RequestRefused("isv.invalid-biz-content") from None
    if abs(_now(now) - stamp) > MAX_REQUEST_AGE:
        raise RequestRefused("isv.invalid-timestamp")
    if biz.get("product_code") != PAY_METHODS[method] or not out_trade_no or not subject:
        raise RequestRefused("isv.invalid-biz-content")
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise RequestRefused("ACQ.TOTAL_FEE_EXCEED")
    return PayRequest(
        params=params,
        method=method,
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        subject=subject,
        notify_url=params.get("notify_url", ""),
        return_url=params.get("return_url", ""),
    )


def _trade(connection: sqlite3.Connection, out_trade_no: str) -> Trade | None:
    row = connection.execute(
        "SELECT * FROM trades WHERE out_trade_no = ?", (out_trade_no,)
    ).fetchone()
    return Trade(**dict(row)) if row else None


def _notification(request: PayRequest, trade: Trade) -> dict[str, str]:
    amount = alipay.fen_to_amount(request.amount_fen)
    return {
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "app_id": SIMULATOR_APP_ID,
        "auth_app_id": SIMULATOR_APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": trade.status,
        "total_amount": amount,
        "receipt_amount": amount,
        "buyer_pay_amount": amount,
        "subject": trade.subject,
        "gmt_create": trade.paid_at,
        "gmt_payment": trade.paid_at,
        "seller_id": SELLER_ID,
        "buyer_id": "2088" + "".join(secrets.choice("0123456789") for _ in range(12)),
    }


def pay(request: PayRequest, now: datetime | None = None) -> Trade:
    """The customer pressed Pay: record the trade and queue its notification (once per trade)."""
    now = _now(now)
    with closing(_connect()) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            trade = _trade(connection, request.out_trade_no)
            if trade is None:
                trade = Trade(
                    out_trade_no=request.out_trade_no,
                    trade_no=f"{alipay.beijing_time(now)[:10].replace('-', '')}22001"
                    + "".join(secrets.choice("0123456789") for _ in range(15)),
                    total_amount=alipay.fen_to_amount(request.amount_fen),
                    subject=request.subject,
                    status="TRADE_SUCCESS",
                    paid_at=alipay.beijing_time(now),
                )
                connection.execute(
                    "INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        trade.out_trade_no,
                        trade.trade_no,
                        trade.total_amount,
                        trade.subject,
                        trade.status,
                        trade.paid_at,
                    ),
                )
                if request.notify_url:
                    connection.execute(
                        "INSERT INTO outbox (out_trade_no, notify_url, params, next_at)"
                        " VALUES (?, ?, ?, ?)",
                        (
                            trade.out_trade_no,
                            request.notify_url,
                            json.dumps(_notification(request, trade)),
                            now.timestamp(),
                        ),
                    )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    start_autodelivery(current_app._get_current_object())
    return trade


def return_url(request: PayRequest, trade: Trade, now: datetime | None = None) -> str:
    """Where the browser goes after paying: the merchant's return_url with signed parameters
    (which prove nothing to the merchant: only the notification or a query does)."""
    params = {
        "app_id": SIMULATOR_APP_ID,
        "auth_app_id": SIMULATOR_APP_ID,
        "charset": "utf-8",
        "method": f"{request.method}.return",
        "out_trade_no": trade.out_trade_no,
        "seller_id": SELLER_ID,
        "timestamp": alipay.beijing_time(_now(now)),
        "total_amount": trade.total_amount,
        "trade_no": trade.trade_no,
        "version": "1.0",
        "sign_type": "RSA2",
    }
    content = alipay.sign_content(params, exclude=("sign", "sign_type"))
    params["sign"] = alipay.rsa2_sign(content, simulator_key(current_app))
    separator = "&" if "?" in request.return_url else "?"
    return f"{request.return_url}{separator}{urlencode(params)}"


def signed_notification(params: Mapping[str, str], now: datetime | None = None) -> dict:
    """A notification's parameters dated now and signed with the simulator's key."""
    signed = {**params, "notify_time": alipay.beijing_time(_now(now)), "sign_type": "RSA2"}
    content = alipay.sign_content(signed, exclude=("sign", "sign_type"))
    signed["sign"] = alipay.rsa2_sign(content, simulator_key(current_app))
    return signed


def deliver_due(now: datetime | None = None, transport: alipay.Transport | None = None) -> dict:
    """Post every notification that is due; acknowledged only by the reply `success`, else
    tried again later (BACKOFF_SECONDS), up to MAX_ATTEMPTS. Returns counts."""
    now = _now(now)
    moment = now.timestamp()
    transport = transport or alipay.post_form
    summary = {"acknowledged": 0, "failed": 0}
    with closing(_connect()) as connection:
        due = connection.execute(
            "SELECT * FROM outbox WHERE acked_at IS NULL AND given_up = 0 AND next_at <= ?"
            " ORDER BY id",
            (moment,),
        ).fetchall()
        for row in due:
            claimed = connection.execute(
                "UPDATE outbox SET next_at = ? WHERE id = ? AND next_at = ? AND acked_at IS NULL",
                (moment + LEASE_SECONDS, row["id"], row["next_at"]),
            )
            if claimed.rowcount != 1:
                continue
            form = signed_notification(json.loads(row["params"]), now)
            try:
                reply = transport(row["notify_url"], form)
            except Exception as err:  # noqa: BLE001 (any failure means "try again later")
                reply = f"error: {err}"
            attempts = row["attempts"] + 1
            if reply == "success":
                connection.execute(
                    "UPDATE outbox SET attempts = ?, acked_at = ?, last_reply = ? WHERE id = ?",
                    (attempts, moment, reply, row["id"]),
                )
                summary["acknowledged"] += 1
                continue
            delay = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
            connection.execute(
                "UPDATE outbox SET attempts = ?, next_at = ?, given_up = ?, last_reply = ?"
                " WHERE id = ?",
                (attempts, moment + delay, int(attempts >= MAX_ATTEMPTS), reply[:200], row["id"]),
            )
            summary["failed"] += 1
    return summary


def _query_answer(params: Mapping[str, str]) -> dict:
    try:
        _signed_by_merchant(params)
    except RequestRefused as refused:
        return {"code": "40002", "msg": "Invalid Arguments", "sub_code": refused.code}
    if params.get("method") != alipay.QUERY:
        return {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method"}
    try:
        out_trade_no = str(json.loads(params.get("biz_content", ""))["out_trade_no"])
    except (ValueError, KeyError, TypeError):
        return {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-biz-content"}
    with closing(_connect()) as connection:
        trade = _trade(connection, out_trade_no)
    if trade is None:
        return {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_NOT_EXIST",
            "sub_msg": "交易不存在",
            "out_trade_no": out_trade_no,
        }
    return {
        "code": "10000",
        "msg": "Success",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": trade.status,
        "total_amount": trade.total_amount,
        "send_pay_date": trade.paid_at,
    }


def answer_gateway_post(params: Mapping[str, str]) -> str:
    """The JSON text the gateway answers to a server-to-server call (alipay.trade.query):
    the response object's exact text is what the simulator signs."""
    params = {k: v for k, v in params.items() if isinstance(v, str)}
    inner = json.dumps(_query_answer(params), ensure_ascii=False, separators=(",", ":"))
    signature = alipay.rsa2_sign(inner, simulator_key(current_app))
    return f'{{"{alipay.QUERY_RESPONSE}":{inner},"sign":{json.dumps(signature)}}}'


def _deliver_forever(app: Flask) -> None:
    while True:
        time.sleep(1)
        if not app.config["GATEWAY_SIMULATOR_AUTODELIVER"]:
            continue  # switched off since (tests reuse one app and deliver by hand)
        with app.app_context():
            try:
                deliver_due()
            except Exception:  # noqa: BLE001 (keep delivering; the next round tries again)
                log.exception("gateway simulator: delivering notifications failed")


def start_autodelivery(app: Flask) -> None:
    """Deliver notifications every second in a daemon thread (development, browser tests)."""
    if not app.config["GATEWAY_SIMULATOR_AUTODELIVER"]:
        return
    with _autodelivery_lock:
        thread = app.extensions.get("gateway_simulator_thread")
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=_deliver_forever, args=(app,), name="gateway-simulator", daemon=True
            )
            app.extensions["gateway_simulator_thread"] = thread
            thread.start()
