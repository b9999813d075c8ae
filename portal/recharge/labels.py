"""Words for recharges, shared by the customer's pages, the wallet and the finance console."""

from flask_babel import lazy_gettext as _l

METHOD_LABELS = {
    "bank_transfer": _l("Bank transfer"),
    "qr": _l("QR scan"),
    "online": _l("Online"),
}
STATUS_LABELS = {
    "submitted": _l("Awaiting review"),
    "approved": _l("Credited"),
    "rejected": _l("Rejected"),
    "created": _l("Awaiting payment"),
    "paid": _l("Credited"),
}
CHANNEL_LABELS = {
    "wechat": _l("WeChat Pay"),
    "alipay": _l("Alipay"),
}
# The badge colours already in the style sheet that read the same (waiting, done, refused).
STATUS_STYLES = {
    "submitted": "awaiting_payment",
    "created": "awaiting_payment",
    "approved": "paid",
    "paid": "paid",
    "rejected": "cancelled",
}


def method_label(method: str) -> str:
    return str(METHOD_LABELS.get(method, method))


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def channel_label(channel: str) -> str:
    return str(CHANNEL_LABELS.get(channel, channel))


def status_class(status: str) -> str:
    """The CSS class of a status badge, e.g. "status status-paid"."""
    return f"status status-{STATUS_STYLES.get(status, status)}"
