"""What the set-up screens (warehouses, packing services) share: a fingerprint of a record's
saved fields, which the edit form carries to notice a parallel edit, and switching a record off
or on with an audit entry."""

import hashlib
import json
from collections.abc import Iterable

from portal.extensions import db
from portal.models import User
from portal.services import audit


def fingerprint(record: object, fields: Iterable[str]) -> str:
    """A short hash of the record's saved values of these fields."""
    saved = {field: getattr(record, field) for field in fields}
    text = json.dumps(saved, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def switch(actor: User, record, entity_type: str, active: bool) -> None:
    """Set `record.is_active`, audited as `<entity_type>.activate` / `.deactivate`; nothing
    happens (and nothing is recorded) when it already is in that state."""
    if record.is_active == active:
        return
    action = "activate" if active else "deactivate"
    audit.record(
        actor,
        f"{entity_type}.{action}",
        entity_type,
        record.id,
        {"is_active": record.is_active},
        {"is_active": active},
    )
    record.is_active = active
    db.session.flush()
