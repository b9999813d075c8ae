"""What the customer's home page shows: where to ship to, and counts of their things."""

from dataclasses import dataclass, field

from sqlalchemy import select

from portal.extensions import db
from portal.models import User, Warehouse
from portal.services import ledger, orders, parcel_list


@dataclass(frozen=True)
class HomeSummary:
    warehouses: list[Warehouse]
    # state -> count; the parcel, order and wallet features fill these as they land.
    parcels: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    balance_fen: int = 0


PARCEL_STATES = ("expected", "received", "consolidated")
ORDER_STATES = ("pending_pack", "awaiting_payment", "paid", "shipped")


def active_warehouses() -> list[Warehouse]:
    return list(
        db.session.scalars(
            select(Warehouse).where(Warehouse.is_active.is_(True)).order_by(Warehouse.id)
        )
    )


def home_summary(user: User) -> HomeSummary:
    """The warehouses to ship to, the user's parcel and order counts by state, and balance."""
    return HomeSummary(
        warehouses=active_warehouses(),
        parcels={**dict.fromkeys(PARCEL_STATES, 0), **parcel_list.count_by_status(user)},
        orders={**dict.fromkeys(ORDER_STATES, 0), **orders.order_counts(user)},
        balance_fen=ledger.balance_fen(user),
    )
