"""Logins through other systems (WeChat, 物流通) linked to local accounts; staff invitations."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, one_of, utcnow

LOGIN_PROVIDERS = ("wechat", "wuliutong")


class ExternalLogin(Base):
    """One account of another system that logs in as a local user.

    For WeChat the subject is the unionid when WeChat gives one (it is the same person in the
    公众号 and on the open platform), else the openid; the openid is kept as well. For 物流通 it is
    the sister system's account id. No password of another system is ever stored.
    """

    __tablename__ = "external_logins"
    __table_args__ = (
        CheckConstraint(one_of("provider", LOGIN_PROVIDERS), name="provider"),
        UniqueConstraint("provider", "subject"),
        UniqueConstraint("user_id", "provider"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(128))
    openid: Mapped[str | None] = mapped_column(String(128), index=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")


class StaffInvitation(Base):
    """A one-time link an admin sends a new staff member to choose a password (only the SHA-256
    of the token is stored)."""

    __tablename__ = "staff_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", foreign_keys=[user_id])
