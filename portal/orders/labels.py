"""Words for orders: statuses, charge lines, channel and country names, and the comparison of
an order's estimate with its bill."""

from collections.abc import Iterable
from dataclasses import dataclass

from babel import Locale
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import format_kg
from portal.models import Channel, Order, OrderChargeLine, OrderService
from portal.quote.labels import CATEGORY_LABELS, LINE_LABELS, SERVICE_LEVEL_LABELS, yuan
from portal.services import packing
from portal.services.pricing_types import LineCode

STATUS_LABELS = {
    "pending_pack": _l("Awaiting packing"),
    "awaiting_payment": _l("Awaiting payment"),
    "paid": _l("Paid"),
    "shipped": _l("Shipped"),
    "delivered": _l("Delivered"),
    "cancelled": _l("Cancelled"),
}
# The tabs of "My orders", and the steps of the progress bar (a cancelled order leaves it).
TABS = ("pending_pack", "awaiting_payment", "paid", "shipped", "delivered", "cancelled")
PROGRESS = ("pending_pack", "awaiting_payment", "paid", "shipped", "delivered")
CANCELLABLE = ("pending_pack", "awaiting_payment")
# Lines that follow the weight, so a bill differs from the estimate when the packed weight does.
WEIGHT_LINES = {LineCode.BASE, LineCode.REMOTE, LineCode.SENSITIVE, LineCode.FUEL}
SERVICE = "SERVICE"
ADJUSTMENT = packing.ADJUSTMENT


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def category_label(code: str) -> str:
    return str(CATEGORY_LABELS.get(code, code))


def service_level_label(code: str) -> str:
    return str(SERVICE_LEVEL_LABELS.get(code, code))


def _chinese() -> bool:
    return str(get_locale()).startswith("zh")


def country_name(code: str) -> str:
    return Locale.parse(str(get_locale())).territories.get(code, code)


def service_name(service: OrderService) -> str:
    return service.name_zh if _chinese() else service.name_en


def channel_names(orders: Iterable[Order]) -> dict[int, str]:
    """Order id -> the channel's name in the user's language, in one query for all the orders.

    The order keeps the Chinese name as it was; the English one is read from its rate card.
    """
    orders = list(orders)
    names = {order.id: order.channel_name for order in orders}
    if _chinese() or not orders:
        return names
    rows = db.session.execute(
        select(Channel.rate_card_id, Channel.code, Channel.name_en).where(
            Channel.rate_card_id.in_({o.rate_card_id for o in orders}),
            Channel.code.in_({o.channel_code for o in orders}),
        )
    )
    english = {(card, code): name for card, code, name in rows}
    for order in orders:
        names[order.id] = english.get((order.rate_card_id, order.channel_code)) or names[order.id]
    return names


def line_label(line: OrderChargeLine, services: dict[str, OrderService]) -> str:
    """A charge line's name; a packing service is named as the order recorded it."""
    if line.code == SERVICE:
        service = services.get(line.detail)
        if service is not None:
            return service_name(service)
        return _("Packing service %(code)s", code=line.detail)
    if line.code == ADJUSTMENT:
        return _("Adjustment: %(reason)s", reason=line.detail)
    try:
        return str(LINE_LABELS[LineCode(line.code)])
    except (KeyError, ValueError):
        return line.code


def signed_yuan(amount_fen: int) -> str:
    """A difference with its sign: +¥1.20, −¥0.50, ¥0.00."""
    if amount_fen > 0:
        return "+" + yuan(amount_fen)
    if amount_fen < 0:
        return "−" + yuan(-amount_fen)
    return yuan(0)


@dataclass(frozen=True)
class LineDifference:
    """One charge (a code, or one packing service) as estimated and as billed."""

    code: str
    label: str
    estimate_fen: int | None
    bill_fen: int | None
    note: str

    @property
    def difference_fen(self) -> int:
        return (self.bill_fen or 0) - (self.estimate_fen or 0)


def _key(line: OrderChargeLine) -> tuple[str, str]:
    """Lines are compared per code; each packing service and each adjustment on its own."""
    return (line.code, line.detail if line.code in (SERVICE, ADJUSTMENT) else "")


def _sums(lines: list[OrderChargeLine]) -> dict[tuple[str, str], int]:
    sums: dict[tuple[str, str], int] = {}
    for line in lines:
        sums[_key(line)] = sums.get(_key(line), 0) + line.amount_fen
    return sums


def _note(code: str, estimate: int | None, bill: int | None, order: Order) -> str:
    if estimate is None:
        return _("Added when the order was packed.")
    if bill is None:
        return _("Not charged in the bill.")
    if estimate == bill:
        return _("As estimated.")
    if code in WEIGHT_LINES:
        return _(
            "Charged on the weight measured when packed; the estimate was for %(weight)s kg "
            "(chargeable %(chargeable)s kg).",
            weight=format_kg(order.estimate_weight_g),
            chargeable=format_kg(order.estimate_chargeable_g),
        )
    return _("Changed when the order was packed.")


def compare(order: Order) -> list[LineDifference]:
    """The estimate and the bill side by side, per charge code, estimate order first."""
    services = {s.code: s for s in order.services}
    estimate_lines, bill_lines = order.charges("estimate"), order.charges("bill")
    estimate, bill = _sums(estimate_lines), _sums(bill_lines)
    first_line: dict[tuple[str, str], OrderChargeLine] = {}
    for line in [*estimate_lines, *bill_lines]:
        first_line.setdefault(_key(line), line)
    return [
        LineDifference(
            code=key[0],
            label=line_label(line, services),
            estimate_fen=estimate.get(key),
            bill_fen=bill.get(key),
            note=_note(key[0], estimate.get(key), bill.get(key), order),
        )
        for key, line in first_line.items()
    ]
