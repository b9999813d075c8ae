"""Warehouses customers send their parcels to."""

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime, utcnow


class Warehouse(Base):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    contact_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(30))
    region: Mapped[str] = mapped_column(String(100))
    address_line: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(12))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def recipient_for(self, customer_code: str) -> str:
        """The recipient line a customer writes on a shop order: contact name plus customer code."""
        return f"{self.contact_name}({customer_code})"

    def address_for(self, customer_code: str) -> str:
        """The street address with the customer code appended, as peers print it."""
        return f"{self.region}{self.address_line}({customer_code})"
