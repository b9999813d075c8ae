"""Users (customers and staff) and their staff roles."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, utcnow

STAFF_ROLES = ("admin", "warehouse", "finance", "service")


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    # None for an account that logs in only through WeChat or 物流通 (no local password).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    customer_code: Mapped[str] = mapped_column(String(12), unique=True)
    invite_code: Mapped[str] = mapped_column(String(12), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    locale: Mapped[str | None] = mapped_column(String(10))
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list["UserRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    referred_by: Mapped["User | None"] = relationship(remote_side=[id])

    def get_id(self) -> str:
        # Flask-Login stores this in the session and the remember cookie; bumping
        # session_version makes every copy of either cookie worthless.
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return not self.is_disabled

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_names & set(roles))

    @property
    def login_name(self) -> str:
        return self.phone or self.email or ""


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (
        CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in STAFF_ROLES) + ")", name="known_role"
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)

    user: Mapped[User] = relationship(back_populates="roles")
