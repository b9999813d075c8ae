"""What the ops order list (销售订单处理) reads: the search, the tab counts and the query's total,
and one page of orders; the export reads the same query.

Every search kind is served by an index (see `Order.__table_args__`): order numbers and outbound
tracking numbers by exact match or by a prefix written as a range, customer codes and phones by
the users' unique columns, parcel tracking numbers by `parcels.tracking_no` and the links.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, Select, func, or_, select

from portal.extensions import db
from portal.models import ORDER_STATES, Order, OrderParcel, Parcel, User
from portal.services.couriers import normalise_tracking_no
from portal.services.errors import ValidationFailed
from portal.services.identifiers import parse_phone
from portal.services.rate_cards import BUSINESS_ZONE
from portal.services.text import has_control_characters

PER_PAGE = 50
MAX_QUERY = 40
# A prefix shorter than this would count too much of the table (every order starts with "JY").
MIN_PREFIX = 6
FIRST_YEAR, LAST_YEAR = 2000, 2999
# Order numbers, customer codes and tracking numbers use these characters, in this order.
_KEY_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_KEY = re.compile(r"[0-9A-Z]+")
_PHONE = re.compile(r"\+?[0-9][0-9 -]{6,18}")


@dataclass(frozen=True)
class OrderQuery:
    """A tab ("" for all), the search words, days inclusive in Beijing time, a page."""

    status: str = ""
    q: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1


# What the list shows of an order (not the whole row: the page reads 50 of them per request).
LISTED_COLUMNS = (
    Order.id,
    Order.order_no,
    Order.created_at,
    Order.status,
    Order.rate_card_id,
    Order.channel_code,
    Order.channel_name,
    Order.ship_country,
    Order.estimate_weight_g,
    Order.bill_weight_g,
    Order.estimate_fen,
    Order.bill_fen,
    Order.outbound_tracking_no,
    Order.packing_list_prints,
    Order.label_prints,
)


@dataclass(frozen=True)
class OrderRow:
    """An order of the page: its `LISTED_COLUMNS` (by name), its customer and parcel count."""

    order: Row
    customer_code: str
    customer_phone: str | None
    parcels: int


@dataclass(frozen=True)
class OrderPage:
    query: OrderQuery
    # Orders matching the search and days in each status, and their amounts (fen).
    counts: dict[str, int]
    amounts: dict[str, int]
    rows: list[OrderRow]
    page: int
    pages: int

    @property
    def total(self) -> int:
        """How many orders the current tab holds."""
        return tab_total(self.counts, self.query.status)

    @property
    def amount_fen(self) -> int:
        """The current query's amount: each order's bill when billed, else its estimate."""
        return tab_total(self.amounts, self.query.status)


def tab_total(per_status: Mapping[str, int], status: str) -> int:
    return per_status.get(status, 0) if status else sum(per_status.values())


def _day(args: Mapping[str, str], name: str, errors: dict) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        errors[name] = _l("Enter a date as YYYY-MM-DD.")
    elif not FIRST_YEAR <= day.year <= LAST_YEAR:
        errors[name] = _l(
            "Enter a date between %(first)s and %(last)s.", first=FIRST_YEAR, last=LAST_YEAR
        )
        day = None
    return day


def read_query(args: Mapping[str, str], page: int = 1) -> tuple[OrderQuery, dict[str, object]]:
    """The list's query from request parameters, and a message for each bad one."""
    errors: dict[str, object] = {}
    status = args.get("status") or ""
    if status not in ORDER_STATES:
        status = ""
    q = (args.get("q") or "").strip()
    if len(q) > MAX_QUERY:
        errors["q"] = _l("Search for at most %(n)s characters.", n=MAX_QUERY)
    elif has_control_characters(q):
        errors["q"] = _l("Remove the control characters or line breaks.")
    since, until = _day(args, "since", errors), _day(args, "until", errors)
    if since and until and since > until and not errors:
        errors["until"] = _l("The end date is before the start date.")
    query = OrderQuery(status, "" if "q" in errors else q, since, until, page)
    return query, errors


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, BUSINESS_ZONE)


def _after_prefix(prefix: str) -> str | None:
    """The first key after every key that starts with `prefix` (None: no upper bound)."""
    chars = list(prefix)
    while chars:
        position = _KEY_CHARS.index(chars[-1])
        if position + 1 < len(_KEY_CHARS):
            chars[-1] = _KEY_CHARS[position + 1]
            return "".join(chars)
        chars.pop()
    return None


def _number_matches(column, key: str):
    """Exact match, or a prefix (as an index range) for a long enough key."""
    if len(key) < MIN_PREFIX:
        return column == key
    upper = _after_prefix(key)
    return column >= key if upper is None else (column >= key) & (column < upper)


def _login_matches(q: str) -> list:
    """A customer's phone (as stored, E.164) or email address, when the words can be one."""
    if "@" in q:
        return [User.email == q.lower()]
    if not _PHONE.fullmatch(q):
        return []
    try:
        return [User.phone == parse_phone(q)]
    except ValidationFailed:
        return []


def search_condition(q: str):
    """Orders whose number, customer (code, phone or email), outbound or parcel tracking
    number match."""
    key = normalise_tracking_no(q)
    customers = select(User.id).where(or_(User.customer_code == key, *_login_matches(q)))
    by_parcel = (
        select(OrderParcel.order_id)
        .join(Parcel, Parcel.id == OrderParcel.parcel_id)
        .where(Parcel.tracking_no == key)
    )
    conditions = [
        Order.customer_id.in_(customers),
        Order.id.in_(by_parcel),
    ]
    if _KEY.fullmatch(key):
        conditions += [
            _number_matches(Order.order_no, key),
            _number_matches(Order.outbound_tracking_no, key),
        ]
    return or_(*conditions)


def filters(query: OrderQuery) -> list:
    """The conditions of the search and the days (not the tab)."""
    conditions = []
    if query.q:
        conditions.append(search_condition(query.q))
    if query.since:
        conditions.append(Order.created_at >= _start_of(query.since))
    if query.until:
        conditions.append(Order.created_at < _start_of(query.until + timedelta(days=1)))
    return conditions


def selected(query: OrderQuery) -> Select:
    """The orders of the query in its tab, newest first (no columns chosen yet)."""
    conditions = filters(query)
    if query.status:
        conditions.append(Order.status == query.status)
    return select().where(*conditions).order_by(Order.created_at.desc(), Order.id.desc())


def count_by_status(query: OrderQuery) -> tuple[dict[str, int], dict[str, int]]:
    """Orders and their amount (bill, else estimate) per status for the search and days."""
    counts, amounts = dict.fromkeys(ORDER_STATES, 0), dict.fromkeys(ORDER_STATES, 0)
    rows = db.session.execute(
        select(
            Order.status, func.count(), func.sum(func.coalesce(Order.bill_fen, Order.estimate_fen))
        )
        .where(*filters(query))
        .group_by(Order.status)
    )
    for status, count, amount in rows:
        counts[status], amounts[status] = count, int(amount or 0)
    return counts, amounts


def list_orders(query: OrderQuery, per_page: int = PER_PAGE) -> OrderPage:
    """One page of the query's orders with their customers and parcel counts, in three queries:
    the grouped counts, the page with its customers, and the page's parcel counts.

    The page reads only the listed columns, as plain rows: loading 50 whole `Order` objects
    cost more than the query itself."""
    counts, amounts = count_by_status(query)
    pages = max(1, math.ceil(tab_total(counts, query.status) / per_page))
    page = min(max(query.page, 1), pages)
    found = db.session.execute(
        selected(query)
        .add_columns(*LISTED_COLUMNS, User.customer_code, User.phone)
        .join(User, User.id == Order.customer_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    parcel_counts = _parcel_counts([row.id for row in found])
    rows = [
        OrderRow(row, row.customer_code, row.phone, parcel_counts.get(row.id, 0)) for row in found
    ]
    return OrderPage(query, counts, amounts, rows, page, pages)


def _parcel_counts(order_ids: list[int]) -> dict[int, int]:
    """Order id -> how many parcels are bound to it, in one query for the page."""
    if not order_ids:
        return {}
    return dict(
        db.session.execute(
            select(OrderParcel.order_id, func.count())
            .where(OrderParcel.order_id.in_(order_ids))
            .group_by(OrderParcel.order_id)
        ).all()
    )
