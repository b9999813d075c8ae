"""Counting the packing lists and labels printed for an order."""

from sqlalchemy import update

from portal.extensions import db
from portal.models import Order, User
from portal.services import audit

# The kind in the URL, and the order's column counting its prints.
PRINT_COLUMNS = {"packing-list": "packing_list_prints", "label": "label_prints"}


def record_print(actor: User, order_id: int, kind: str) -> int:
    """Count one more print of an order's packing list or label, atomically; return the count.

    Raises KeyError for an unknown kind and LookupError when the order does not exist.
    """
    column = getattr(Order, PRINT_COLUMNS[kind])
    printed = db.session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values({column: column + 1})
        .returning(column, Order.order_no)
        .execution_options(synchronize_session=False)
    ).first()
    if printed is None:
        raise LookupError(order_id)
    count, order_no = printed
    audit.record(
        actor,
        f"order.print_{PRINT_COLUMNS[kind].removesuffix('_prints')}",
        "order",
        order_no,
        {PRINT_COLUMNS[kind]: count - 1},
        {PRINT_COLUMNS[kind]: count},
    )
    return count
