"""Failed-login counters kept in the database so every worker and machine shares them."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime


class LoginThrottle(Base):
    __tablename__ = "login_throttles"

    # sha256 of the normalised login identifier, so unknown identifiers are throttled alike
    # and no raw identifier typed by a stranger is stored.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
