"""Customer accounts as staff see them: search, one customer's page, disabling and enabling."""

import math
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select, update

from portal.extensions import db
from portal.models import Order, Parcel, User, UserRole
from portal.models.base import is_id
from portal.services import audit
from portal.services.accounts import end_sessions
from portal.services.errors import DomainError
from portal.services.text import clean_line

PER_PAGE = 50
LATEST = 20
MAX_QUERY = 60
MAX_REASON = 200


class CustomerNotFound(DomainError):
    """No customer with this id (staff accounts are not customers here)."""


class AlreadyChanged(DomainError):
    """The account is already in the state asked for (someone else may just have changed it)."""


@dataclass(frozen=True)
class CustomerPage:
    customers: list[User]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class CustomerProfile:
    customer: User
    parcel_counts: dict[str, int]
    parcels: list[Parcel]
    order_counts: dict[str, int]
    orders: list[Order]


def _is_customer():
    return ~exists().where(UserRole.user_id == User.id)


def check_query(raw: str | None) -> str:
    """The search words, trimmed; raises ValidationFailed (field "q") when unusable."""
    return clean_line(raw, "q", MAX_QUERY)


def search_customers(q: str, page: int) -> CustomerPage:
    """Customers, newest first: the exact customer code, a phone or an email beginning with q."""
    conditions = [_is_customer()]
    if q:
        phone = q.replace(" ", "").replace("-", "")
        conditions.append(
            or_(
                User.customer_code == q.upper(),
                User.phone.startswith(phone, autoescape=True),
                User.phone.startswith("+86" + phone, autoescape=True),
                User.email.startswith(q.lower(), autoescape=True),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(User).where(*conditions))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(page, 1), pages)
    customers = db.session.scalars(
        select(User)
        .where(*conditions)
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    return CustomerPage(list(customers), page, pages, total)


def get_customer(customer_id: int) -> User:
    """A customer by id; raises CustomerNotFound for unknown ids and for staff accounts."""
    if not is_id(customer_id):
        raise CustomerNotFound(_l("No such customer."))
    customer = db.session.scalar(select(User).where(User.id == customer_id, _is_customer()))
    if customer is None:
        raise CustomerNotFound(_l("No such customer."))
    return customer


def _counts(model, customer_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(model.status, func.count())
        .where(model.customer_id == customer_id)
        .group_by(model.status)
    )
    return {status: count for status, count in rows}


def customer_profile(customer_id: int) -> CustomerProfile:
    """A customer with parcel and order counts by status and the latest parcels and orders."""
    customer = get_customer(customer_id)
    parcels = db.session.scalars(
        select(Parcel)
        .where(Parcel.customer_id == customer.id)
        .order_by(Parcel.created_at.desc(), Parcel.id.desc())
        .limit(LATEST)
    )
    orders = db.session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(LATEST)
    )
    return CustomerProfile(
        customer,
        _counts(Parcel, customer.id),
        list(parcels),
        _counts(Order, customer.id),
        list(orders),
    )


def _set_disabled(customer: User, disabled: bool) -> bool:
    """Compare-and-set the flag; False when it already had that value."""
    result = db.session.execute(
        update(User)
        .where(User.id == customer.id, User.is_disabled == (not disabled))
        .values(is_disabled=disabled)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(customer, ["is_disabled"])
    return result.rowcount == 1


def disable_customer(actor: User, customer_id: int, reason: str | None) -> User:
    """Disable a customer's account and end all its sessions; audited with the reason.

    Raises ValidationFailed (field "reason"), CustomerNotFound or AlreadyChanged.
    """
    reason = clean_line(reason, "reason", MAX_REASON, _l("Give the reason for disabling."))
    customer = get_customer(customer_id)
    if not _set_disabled(customer, True):
        raise AlreadyChanged(_l("This account is already disabled."))
    end_sessions(customer)
    audit.record(
        actor,
        "customer.disable",
        "user",
        customer.id,
        {"is_disabled": False},
        {"is_disabled": True},
        reason,
    )
    return customer


def enable_customer(actor: User, customer_id: int, reason: str | None = "") -> User:
    """Let a disabled customer log in again; audited. Raises CustomerNotFound or AlreadyChanged."""
    reason = clean_line(reason, "reason", MAX_REASON)
    customer = get_customer(customer_id)
    if not _set_disabled(customer, False):
        raise AlreadyChanged(_l("This account is already enabled."))
    audit.record(
        actor,
        "customer.enable",
        "user",
        customer.id,
        {"is_disabled": True},
        {"is_disabled": False},
        reason,
    )
    return customer
