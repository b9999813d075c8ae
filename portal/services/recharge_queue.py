"""What finance reads about recharges: the review queue by tab with its counts, one recharge with
its customer's balance and recent recharges, and the next one waiting after a decision."""

import contextlib
import math
import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select

from portal.extensions import db
from portal.models import Recharge, User
from portal.models.base import is_id
from portal.models.recharge import RECHARGE_METHODS
from portal.services import ledger
from portal.services.errors import ValidationFailed
from portal.services.identifiers import parse_phone
from portal.services.recharges import RechargeNotFound, get_recharge
from portal.services.text import has_control_characters

PER_PAGE = 50
MAX_QUERY = 40
RECENT = 10
# Each tab of the queue: which recharges it holds.
TABS = {
    "pending": and_(Recharge.method != "online", Recharge.status == "submitted"),
    "approved": and_(Recharge.method != "online", Recharge.status == "approved"),
    "rejected": and_(Recharge.method != "online", Recharge.status == "rejected"),
    "online": Recharge.method == "online",
}
_PHONE = re.compile(r"\+?[0-9][0-9 -]{6,18}")


@dataclass(frozen=True)
class QueueQuery:
    tab: str = "pending"
    method: str = ""
    q: str = ""
    page: int = 1


@dataclass(frozen=True)
class QueueRow:
    recharge: Recharge
    customer_code: str
    customer_phone: str | None


@dataclass(frozen=True)
class QueuePage:
    query: QueueQuery
    counts: dict[str, int]
    rows: list[QueueRow]
    page: int
    pages: int

    @property
    def total(self) -> int:
        return self.counts[self.query.tab]


@dataclass(frozen=True)
class RechargeFile:
    """One recharge as finance checks it: the customer, their balance, their latest recharges."""

    recharge: Recharge
    customer: User
    balance_fen: int
    recent: list[Recharge]


def read_query(
    tab: str | None, method: str | None, q: str | None, page: int = 1
) -> tuple[QueueQuery, dict[str, object]]:
    """The queue's query from request values (an unknown tab or method falls back to the
    default) and a message for unusable search words (field "q")."""
    errors: dict[str, object] = {}
    words = (q or "").strip()
    if len(words) > MAX_QUERY:
        errors["q"] = _l("Search for at most %(n)s characters.", n=MAX_QUERY)
    elif has_control_characters(words):
        errors["q"] = _l("Remove the control characters or line breaks.")
    query = QueueQuery(
        tab if tab in TABS else "pending",
        method if method in RECHARGE_METHODS else "",
        "" if errors else words,
        page,
    )
    return query, errors


def _customers(q: str):
    """Customers matching the words as a customer code or a mobile number."""
    conditions = [User.customer_code == q.upper()]
    if _PHONE.fullmatch(q):
        with contextlib.suppress(ValidationFailed):
            conditions.append(User.phone == parse_phone(q))
    return select(User.id).where(or_(*conditions))


def _filters(query: QueueQuery) -> list:
    conditions = []
    if query.method:
        conditions.append(Recharge.method == query.method)
    if query.q:
        conditions.append(
            or_(
                Recharge.recharge_no == query.q.upper(),
                Recharge.customer_id.in_(_customers(query.q)),
            )
        )
    return conditions


def _order(tab: str) -> tuple:
    if tab == "pending":
        return Recharge.created_at, Recharge.id
    return Recharge.created_at.desc(), Recharge.id.desc()


def queue(query: QueueQuery) -> QueuePage:
    """One page of a tab (pending oldest first, the others newest first) and every tab's count
    for the same method and search, in two queries."""
    filters = _filters(query)
    counted = db.session.execute(
        select(*(func.count().filter(condition) for condition in TABS.values())).where(*filters)
    ).one()
    counts = {tab: int(n or 0) for tab, n in zip(TABS, counted, strict=True)}
    pages = max(1, math.ceil(counts[query.tab] / PER_PAGE))
    page = min(max(query.page, 1), pages)
    found = db.session.execute(
        select(Recharge, User.customer_code, User.phone)
        .join(User, User.id == Recharge.customer_id)
        .where(TABS[query.tab], *filters)
        .order_by(*_order(query.tab))
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    rows = [QueueRow(recharge, code, phone) for recharge, code, phone in found]
    return QueuePage(query, counts, rows, page, pages)


def recharge_file(recharge_id: int) -> RechargeFile:
    """Everything finance needs to decide on a recharge; raises RechargeNotFound."""
    if not is_id(recharge_id):
        raise RechargeNotFound(_l("No such recharge."))
    recharge = get_recharge(recharge_id)
    customer = db.session.get(User, recharge.customer_id)
    recent = db.session.scalars(
        select(Recharge)
        .where(Recharge.customer_id == customer.id, Recharge.id != recharge.id)
        .order_by(Recharge.id.desc())
        .limit(RECENT)
    )
    return RechargeFile(recharge, customer, ledger.balance_fen(customer), list(recent))


def next_pending(after_id: int) -> int | None:
    """The oldest recharge still waiting for review other than `after_id`, if any."""
    return db.session.scalar(
        select(Recharge.id)
        .where(TABS["pending"], Recharge.id != after_id)
        .order_by(*_order("pending"))
        .limit(1)
    )


def pending_count() -> int:
    """How many recharges wait for review."""
    return db.session.scalar(select(func.count()).select_from(Recharge).where(TABS["pending"]))
