"""Which staff roles may use each ops page and action: one declared table, read by the ops gate.

An ops endpoint missing from the table is refused to every role (a test checks that none is).
"""

from portal.models.user import STAFF_ROLES

EVERY_ROLE = frozenset(STAFF_ROLES)

PERMISSIONS: dict[str, frozenset[str]] = {
    "ops.dashboard": EVERY_ROLE,
    "ops.audit_log": frozenset({"admin"}),
}


def may_use(endpoint: str | None, roles: set[str]) -> bool:
    """Whether a staff member with these roles may use this ops endpoint."""
    return bool(PERMISSIONS.get(endpoint or "", frozenset()) & roles)
