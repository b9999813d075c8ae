"""Write counters per table, which cached pages compare to know whether what they read changed."""

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base


class TableVersion(Base):
    """How many committed transactions have written to a table (see services/table_versions)."""

    __tablename__ = "table_versions"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
