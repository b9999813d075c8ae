"""Every model module is imported here so that Alembic sees all tables."""

from portal.models.base import Base, utcnow
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
from portal.models.throttle import LoginThrottle
from portal.models.user import STAFF_ROLES, User, UserRole
from portal.models.warehouse import Warehouse

__all__ = [
    "DUTY_BASES",
    "GOODS_CATEGORIES",
    "OVER_LIMIT_ACTIONS",
    "SERVICE_LEVELS",
    "STAFF_ROLES",
    "SURCHARGE_KINDS",
    "ZONE_KINDS",
    "Base",
    "Channel",
    "ChannelZone",
    "DutyRule",
    "LoginThrottle",
    "RateCard",
    "RateRow",
    "RateZone",
    "RateZoneArea",
    "Surcharge",
    "User",
    "UserRole",
    "Warehouse",
    "utcnow",
]
