"""Staff changes to a rate card: listing versions, switching a channel on or off, editing a
channel's display fields. Every change bumps the card's revision so loaded copies expire."""

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Channel, ChannelZone, RateCard, RateZone, User
from portal.models.base import is_id
from portal.services import audit
from portal.services.errors import DomainError, ValidationFailed
from portal.services.text import clean_line

MAX_TRANSIT_DAYS = 365
MAX_SORT = 9999
_WHOLE = re.compile(r"[0-9]{1,6}")


class NotFound(DomainError):
    """No such card, or the channel is not on that card."""


class ChangedMeanwhile(DomainError):
    """Someone else changed the card or channel since the page was read; nothing was written."""


class ChannelFieldsInvalid(DomainError):
    """Some channel fields are not acceptable; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, object]):
        super().__init__(_l("Correct the marked fields."))
        self.errors = errors


@dataclass(frozen=True)
class CardRow:
    card: RateCard
    channels: int


@dataclass(frozen=True)
class ChannelDisplay:
    name_zh: str
    name_en: str
    transit_min_days: int
    transit_max_days: int
    sort_order: int


def list_cards() -> list[CardRow]:
    """Every card version, newest first, with its number of channels."""
    counts = (
        select(Channel.rate_card_id, func.count().label("n"))
        .group_by(Channel.rate_card_id)
        .subquery()
    )
    rows = db.session.execute(
        select(RateCard, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.rate_card_id == RateCard.id)
        .order_by(RateCard.valid_from.desc(), RateCard.id.desc())
    )
    return [CardRow(card, n) for card, n in rows]


def get_card(card_id: int) -> RateCard:
    """A card with its channels, zones, rows and surcharges loaded; raises NotFound."""
    card = None
    if is_id(card_id):
        card = db.session.scalar(
            select(RateCard)
            .where(RateCard.id == card_id)
            .options(
                selectinload(RateCard.channels)
                .selectinload(Channel.zones)
                .options(selectinload(ChannelZone.rows), selectinload(ChannelZone.zone)),
                selectinload(RateCard.channels).selectinload(Channel.surcharges),
                selectinload(RateCard.zones).selectinload(RateZone.areas),
            )
        )
    if card is None:
        raise NotFound(_l("No such rate card."))
    return card


def get_channel(card_id: int, channel_id: int) -> Channel:
    """A channel of a card; raises NotFound."""
    channel = None
    if is_id(card_id) and is_id(channel_id):
        channel = db.session.scalar(
            select(Channel).where(Channel.id == channel_id, Channel.rate_card_id == card_id)
        )
    if channel is None:
        raise NotFound(_l("No such channel on this rate card."))
    return channel


def _bump_revision(card_id: int, seen: int | None = None) -> None:
    """Add one to the card's revision; with `seen`, only if nobody bumped it since."""
    query = update(RateCard).where(RateCard.id == card_id)
    if seen is not None:
        query = query.where(RateCard.revision == seen)
    result = db.session.execute(
        query.values(revision=RateCard.revision + 1).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ChangedMeanwhile(
            _l("This rate card has just been changed by someone else; please look at it again.")
        )


def set_channel_active(actor: User, card_id: int, channel_id: int, active: bool) -> Channel:
    """Offer a channel in quotes again, or stop offering it; audited.

    Raises NotFound, or ChangedMeanwhile when the channel already is in that state.
    """
    channel = get_channel(card_id, channel_id)
    result = db.session.execute(
        update(Channel)
        .where(Channel.id == channel.id, Channel.is_active == (not active))
        .values(is_active=active)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ChangedMeanwhile(
            _l("This channel is already active.")
            if active
            else _l("This channel is already inactive.")
        )
    _bump_revision(card_id)
    db.session.refresh(channel)
    audit.record(
        actor,
        "channel.activate" if active else "channel.deactivate",
        "channel",
        channel.id,
        {"code": channel.code, "is_active": not active},
        {"code": channel.code, "is_active": active},
    )
    return channel


def _whole(raw: str | None, field: str, low: int, high: int, errors: dict) -> int | None:
    text = (raw or "").strip()
    if not text:
        errors[field] = _l("Enter a number.")
    elif not _WHOLE.fullmatch(text):
        errors[field] = _l("Enter a whole number.")
    elif not low <= int(text) <= high:
        errors[field] = _l("Enter a number from %(low)s to %(high)s.", low=low, high=high)
    else:
        return int(text)
    return None


def _line(raw: str | None, field: str, errors: dict) -> str:
    try:
        return clean_line(raw, field, 100, _l("Enter a name."))
    except ValidationFailed as err:
        errors[field] = err.message
        return ""


def check_channel_display(form: dict[str, str | None]) -> ChannelDisplay:
    """The display fields of a channel from a form; raises ChannelFieldsInvalid with every
    problem at once."""
    errors: dict[str, object] = {}
    name_zh = _line(form.get("name_zh"), "name_zh", errors)
    name_en = _line(form.get("name_en"), "name_en", errors)
    low = _whole(form.get("transit_min_days"), "transit_min_days", 1, MAX_TRANSIT_DAYS, errors)
    high = _whole(form.get("transit_max_days"), "transit_max_days", 1, MAX_TRANSIT_DAYS, errors)
    sort = _whole(form.get("sort_order"), "sort_order", 0, MAX_SORT, errors)
    if low is not None and high is not None and high < low:
        errors["transit_max_days"] = _l("Must not be less than the shortest transit time.")
    if errors:
        raise ChannelFieldsInvalid(errors)
    return ChannelDisplay(name_zh, name_en, low, high, sort)


def edit_channel(
    actor: User, card_id: int, channel_id: int, seen_revision: int, display: ChannelDisplay
) -> Channel:
    """Change a channel's names, transit days and sort order; audited with the old values.

    `seen_revision` is the card's revision the form was read with: if the card changed since,
    ChangedMeanwhile is raised and nothing is written. Raises NotFound.
    """
    channel = get_channel(card_id, channel_id)
    _bump_revision(card_id, seen_revision)
    fields = ChannelDisplay.__dataclass_fields__
    before = {name: getattr(channel, name) for name in fields}
    for name in fields:
        setattr(channel, name, getattr(display, name))
    db.session.flush()
    after = {name: getattr(channel, name) for name in fields}
    audit.record(
        actor,
        "channel.edit",
        "channel",
        channel.id,
        {"code": channel.code, **{k: v for k, v in before.items() if v != after[k]}},
        {"code": channel.code, **{k: v for k, v in after.items() if v != before[k]}},
    )
    return channel
