"""Every model module is imported here so that Alembic sees all tables."""

from portal.models.address import Address
from portal.models.audit import AuditEntry
from portal.models.base import Base, utcnow
from portal.models.coupon import COUPON_KINDS, COUPON_SOURCES, Coupon, CouponTemplate
from portal.models.declaration import DeclarationTemplate
from portal.models.ledger import (
    ACCOUNT_KINDS,
    TRANSACTION_KINDS,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from portal.models.login import LOGIN_PROVIDERS, ExternalLogin, StaffInvitation
from portal.models.membership import Membership, MembershipTier
from portal.models.notification import Notification
from portal.models.order import (
    CHARGE_STAGES,
    ORDER_STATES,
    Order,
    OrderBox,
    OrderChargeLine,
    OrderDeclarationLine,
    OrderEvent,
    OrderParcel,
    OrderService,
    PackingService,
    TrackingEvent,
)
from portal.models.parcel import PARCEL_STATES, Parcel, ParcelEvent, ParcelPhoto
from portal.models.rates import (
    DUTY_BASES,
    GOODS_CATEGORIES,
    OVER_LIMIT_ACTIONS,
    SERVICE_LEVELS,
    SURCHARGE_KINDS,
    ZONE_KINDS,
    Channel,
    ChannelZone,
    DutyRule,
    RateCard,
    RateRow,
    RateZone,
    RateZoneArea,
    Surcharge,
)
from portal.models.recharge import (
    CREDITED_STATES,
    QR_CHANNELS,
    RECHARGE_METHODS,
    RECHARGE_STATES,
    PaymentSettings,
    Recharge,
    SecurityEvent,
)
from portal.models.referral import RebateRule, ReferralRebate
from portal.models.site import SiteSettings
from portal.models.table_version import TableVersion
from portal.models.throttle import LoginThrottle
from portal.models.unclaimed import (
    CLAIM_STATES,
    UNCLAIMED_STATES,
    ParcelClaim,
    UnclaimedParcel,
    UnclaimedParcelPhoto,
)
from portal.models.user import STAFF_ROLES, User, UserRole
from portal.models.warehouse import Warehouse

__all__ = [
    "ACCOUNT_KINDS",
    "TRANSACTION_KINDS",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "AuditEntry",
    "CHARGE_STAGES",
    "CLAIM_STATES",
    "DUTY_BASES",
    "GOODS_CATEGORIES",
    "ORDER_STATES",
    "OVER_LIMIT_ACTIONS",
    "PARCEL_STATES",
    "SERVICE_LEVELS",
    "STAFF_ROLES",
    "SURCHARGE_KINDS",
    "UNCLAIMED_STATES",
    "ZONE_KINDS",
    "Address",
    "Base",
    "Channel",
    "COUPON_KINDS",
    "COUPON_SOURCES",
    "Coupon",
    "CouponTemplate",
    "ChannelZone",
    "DeclarationTemplate",
    "DutyRule",
    "LoginThrottle",
    "LOGIN_PROVIDERS",
    "ExternalLogin",
    "StaffInvitation",
    "SiteSettings",
    "TableVersion",
    "Membership",
    "MembershipTier",
    "Notification",
    "Order",
    "OrderBox",
    "OrderChargeLine",
    "OrderDeclarationLine",
    "OrderEvent",
    "OrderParcel",
    "OrderService",
    "PackingService",
    "Parcel",
    "ParcelClaim",
    "ParcelEvent",
    "ParcelPhoto",
    "RateCard",
    "RateRow",
    "RateZone",
    "RateZoneArea",
    "RebateRule",
    "ReferralRebate",
    "Surcharge",
    "TrackingEvent",
    "UnclaimedParcel",
    "UnclaimedParcelPhoto",
    "User",
    "UserRole",
    "Warehouse",
    "CREDITED_STATES",
    "QR_CHANNELS",
    "RECHARGE_METHODS",
    "RECHARGE_STATES",
    "PaymentSettings",
    "Recharge",
    "SecurityEvent",
    "utcnow",
]
