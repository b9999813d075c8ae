"""Site settings staff edit in the console: the portal's name and how customers reach service."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime, utcnow


class SiteSettings(Base):
    """One row; before an admin first saves it the configured SITE_NAME and no contacts apply."""

    __tablename__ = "site_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_name: Mapped[str] = mapped_column(String(40), default="")
    service_phone: Mapped[str] = mapped_column(String(30), default="")
    service_wechat: Mapped[str] = mapped_column(String(40), default="")
    service_email: Mapped[str] = mapped_column(String(254), default="")
    service_hours: Mapped[str] = mapped_column(String(60), default="")
    # A short notice shown on the customer's home page (holiday closures, price changes).
    notice: Mapped[str] = mapped_column(String(300), default="")
    # Bumped by every save, so two admins editing at once cannot overwrite each other.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
