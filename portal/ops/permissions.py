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
    "ops.order_cancel": SERVICE,
    # Intake desk, unclaimed parcels and claims
    "ops.intake": WAREHOUSE,
    "ops.intake_receive": WAREHOUSE,
    "ops.intake_unclaimed": WAREHOUSE,
    "ops.parcels": READERS,
    "ops.parcel_photo": READERS,
    "ops.unclaimed": WAREHOUSE,
    "ops.unclaimed_photo": READERS,
    "ops.claims": SERVICE | WAREHOUSE,
    "ops.claim_proof": SERVICE | WAREHOUSE,
    "ops.claim_approve": SERVICE | WAREHOUSE,
    "ops.claim_reject": SERVICE | WAREHOUSE,
    # Packing, shipping and tracking
    "ops.packing_queue": WAREHOUSE,
    "ops.pack": WAREHOUSE,
    "ops.packing_parcel_photo": WAREHOUSE,
    "ops.box_photo": WAREHOUSE,
    "ops.shipping": WAREHOUSE,
    "ops.ship": WAREHOUSE,
    "ops.tracking_add": WAREHOUSE,
    "ops.tracking_import": WAREHOUSE,
    "ops.deliver": WAREHOUSE,
    # Order processing list, exports and printing
    "ops.orders": READERS,
    "ops.orders_export": READERS,
    "ops.order": READERS,
    "ops.order_packing_list": READERS,
    "ops.order_label": READERS,
    "ops.order_print": WAREHOUSE | SERVICE,
    # Customers
    "ops.customers": READERS,
    "ops.customer": READERS,
    "ops.customer_disable": SERVICE,
    "ops.customer_enable": SERVICE,
    # Rate cards
    "ops.rate_cards": READERS,
    "ops.rate_card": READERS,
    "ops.rate_card_export": READERS,
    "ops.channel_toggle": ADMIN,
    "ops.rate_card_edit_channel": ADMIN,
    "ops.rate_card_import": ADMIN,
    # Finance: recharge review, payment settings, adjustments, reconciliation
    "ops.recharges": FINANCE,
    "ops.recharge": FINANCE,
    "ops.recharge_approve": FINANCE,
    "ops.recharge_reject": FINANCE,
    "ops.recharge_receipt": FINANCE,
    "ops.payment_settings": FINANCE,
    "ops.payment_qr": FINANCE,
    "ops.balance_adjust": FINANCE,
    "ops.reconciliation": FINANCE,
    "ops.rebate_rules": FINANCE,
    # Coupons and membership tiers
    "ops.coupons": FINANCE,
    "ops.coupon_issue": FINANCE,
    "ops.coupon_active": FINANCE,
    "ops.tiers": FINANCE,
    "ops.tier": FINANCE,
    # Refunds
    "ops.order_refund": FINANCE,
    "ops.order_cancel_refund": FINANCE,
    # Online payments
    "ops.online_reconcile": FINANCE,
    # Set-up: warehouses and packing services
    "ops.warehouses": ADMIN,
    "ops.warehouse": ADMIN,
    "ops.warehouse_active": ADMIN,
    "ops.packing_services": ADMIN,
    "ops.packing_service": ADMIN,
    "ops.packing_service_active": ADMIN,
    # Set-up: staff users and site settings
    "ops.staff": ADMIN,
    "ops.staff_member": ADMIN,
    "ops.staff_active": ADMIN,
    "ops.staff_invite": ADMIN,
    "ops.site_settings": ADMIN,
}


def may_use(endpoint: str | None, roles: set[str]) -> bool:
    """Whether a staff member with these roles may use this ops endpoint."""
    return bool(PERMISSIONS.get(endpoint or "", frozenset()) & roles)
