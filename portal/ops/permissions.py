"""Which staff roles may use each ops page and action: one declared table, read by the ops gate.

An ops endpoint missing from the table is refused to every role (a test checks that none is).
"""

from portal.models.user import STAFF_ROLES

EVERY_ROLE = frozenset(STAFF_ROLES)
ADMIN = frozenset({"admin"})
WAREHOUSE = frozenset({"admin", "warehouse"})
FINANCE = frozenset({"admin", "finance"})
SERVICE = frozenset({"admin", "service"})
# Looking at orders and customers is everyone's job; changing them is not.
READERS = EVERY_ROLE

PERMISSIONS: dict[str, frozenset[str]] = {
    "ops.dashboard": EVERY_ROLE,
    "ops.audit_log": ADMIN,
    # Intake desk, unclaimed parcels and claims
    # Packing, shipping and tracking
    # Order processing list, exports and printing
    # Customers
    # Rate cards
}


def may_use(endpoint: str | None, roles: set[str]) -> bool:
    """Whether a staff member with these roles may use this ops endpoint."""
    return bool(PERMISSIONS.get(endpoint or "", frozenset()) & roles)
