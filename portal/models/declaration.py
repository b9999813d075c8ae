"""Saved customs-declaration lines (常用申报) a customer reuses when ordering."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime, utcnow


class DeclarationTemplate(Base):
    __tablename__ = "declaration_templates"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_value_fen > 0", name="unit_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(30), default="general")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_value_fen: Mapped[int] = mapped_column(BigInteger)
    hs_code: Mapped[str] = mapped_column(String(12), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
