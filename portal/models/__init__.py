"""Every model module is imported here so that Alembic sees all tables."""

from portal.models.base import Base, utcnow
from portal.models.throttle import LoginThrottle
from portal.models.user import STAFF_ROLES, User, UserRole
from portal.models.warehouse import Warehouse

__all__ = ["Base", "LoginThrottle", "STAFF_ROLES", "User", "UserRole", "Warehouse", "utcnow"]
