"""Packing an order (打包): the boxes as measured, the bill priced with the order's own rate card,
adjustments with their reasons, and the move to 待支付."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import format_fen
from portal.models import (
    Order,
    OrderBox,
    OrderChargeLine,
    OrderParcel,
    Parcel,
    RateCard,
    User,
    utcnow,
)
from portal.quote.labels import REASON_TEXTS
from portal.services import audit, images, notifications, order_discounts, rate_cards
from portal.services.errors import DomainError, FieldErrors, ValidationFailed
from portal.services.images import StoredImage
from portal.services.order_states import STAFF, transition
from portal.services.pricing import quote
from portal.services.pricing_types import ChannelRates, Destination, Piece, Quote, QuoteRequest
from portal.services.text import has_control_characters

MAX_BOXES = 20
MAX_BOX_G = 100_000
MAX_SIDE_CM = 300
MAX_ADJUSTMENTS = 10
MAX_ADJUSTMENT_FEN = 1_000_000  # ¥10,000 either way
MAX_REASON = 200
ADJUSTMENT = "adjustment"
SERVICE = "SERVICE"
_SIZES = ("weight", "length", "width", "height")

# Plain ASCII numbers only: no sign, exponent, separators or full-width digits.
_KG = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")
_CM = re.compile(r"[0-9]{1,3}")
_YUAN = re.compile(r"[+-]?[0-9]{1,5}(\.[0-9]{1,2})?")


class InvalidFields(FieldErrors):
    """Some fields of the packing form are not acceptable."""


class NotPackable(DomainError):
    """The order is not waiting to be packed, or some of its parcels have not arrived."""


@dataclass(frozen=True)
class BoxInput:
    """One box as measured: grams, whole centimetres, and an optional photo upload."""

    weight_g: int
    length_cm: int
    width_cm: int
    height_cm: int
    photo: bytes | None = None

    @property
    def piece(self) -> Piece:
        return Piece(self.weight_g, self.length_cm, self.width_cm, self.height_cm)


@dataclass(frozen=True)
class AdjustmentInput:
    """A correction of the bill in fen (either sign) and why it was made."""

    amount_fen: int
    reason: str


@dataclass(frozen=True)
class Packed:
    """A packed order and the photos stored for it (discard them if the commit fails)."""

    order: Order
    photos: list[StoredImage]


# ---- the form's fields ---------------------------------------------------------------------------


def parse_box(prefix: str, values: Mapping[str, str], photo: bytes | None) -> BoxInput | None:
    """One row of the box table, or None when it is empty; raises InvalidFields naming each bad
    field (`<prefix>-weight`, `-length`, `-width`, `-height`, `-photo`)."""
    texts = {name: (values.get(f"{prefix}-{name}") or "").strip() for name in _SIZES}
    if not any(texts.values()) and not photo:
        return None
    errors: dict[str, object] = {}
    weight = texts["weight"]
    grams = int(Decimal(weight) * 1000) if len(weight) <= 10 and _KG.fullmatch(weight) else 0
    if not 0 < grams <= MAX_BOX_G:
        errors[f"{prefix}-weight"] = _l(
            "Enter the box weight in kg, from 0.001 to 100, with at most 3 decimals."
        )
    sides = {}
    for name in ("length", "width", "height"):
        text = texts[name]
        sides[name] = int(text) if _CM.fullmatch(text) else 0
        if not 0 < sides[name] <= MAX_SIDE_CM:
            errors[f"{prefix}-{name}"] = _l("Enter whole centimetres from 1 to 300.")
    if photo:
        try:
            images.check_image(photo, f"{prefix}-photo")
        except images.InvalidImage as err:
            errors[err.field] = err.message
    if errors:
        raise InvalidFields(errors)
    return BoxInput(grams, sides["length"], sides["width"], sides["height"], photo or None)


def parse_adjustment(prefix: str, values: Mapping[str, str]) -> AdjustmentInput | None:
    """One adjustment row (`<prefix>-amount` in yuan, `<prefix>-reason`), or None when empty."""
    amount = (values.get(f"{prefix}-amount") or "").strip()
    reason = (values.get(f"{prefix}-reason") or "").strip()
    if not amount and not reason:
        return None
    errors: dict[str, object] = {}
    fen = int(Decimal(amount) * 100) if len(amount) <= 12 and _YUAN.fullmatch(amount) else 0
    if not fen or abs(fen) > MAX_ADJUSTMENT_FEN:
        errors[f"{prefix}-amount"] = _l(
            "Enter an amount in yuan other than 0, at most 10000 either way, e.g. -5.50."
        )
    if not reason:
        errors[f"{prefix}-reason"] = _l("Say why the bill is adjusted.")
    elif has_control_characters(reason):
        errors[f"{prefix}-reason"] = _l("Remove the control characters or line breaks.")
    elif len(reason) > MAX_REASON:
        errors[f"{prefix}-reason"] = _l("At most %(count)s characters.", count=MAX_REASON)
    if errors:
        raise InvalidFields(errors)
    return AdjustmentInput(fen, reason)


# ---- reading -------------------------------------------------------------------------------------


def bound_parcels(order: Order) -> list[Parcel]:
    """The parcels bound to the order now (not released), in the order they were bound."""
    return list(
        db.session.scalars(
            select(Parcel)
            .join(OrderParcel, OrderParcel.parcel_id == Parcel.id)
            .where(OrderParcel.order_id == order.id, OrderParcel.released_at.is_(None))
            .order_by(OrderParcel.id)
        )
    )


def order_channel(order: Order) -> ChannelRates | None:
    """The order's channel as priced on the rate card version the order was placed with."""
    card = db.session.get(RateCard, order.rate_card_id)
    if card is None:
        return None
    return rate_cards.card_channel(card, order.channel_code)


def bill_request(order: Order, boxes: list[BoxInput]) -> QuoteRequest:
    """What the pricing service is asked for the bill: the boxes and the order's own facts."""
    return QuoteRequest(
        destination=Destination(
            order.ship_country, order.ship_region, order.ship_postcode, city=order.ship_city
        ),
        pieces=tuple(box.piece for box in boxes),
        # Dated rules of the card (fuel, say) apply as on the day the order is packed.
        on=rate_cards.business_today(),
        categories=frozenset(order.category_list),
        declared_value_fen=order.declared_total_fen,
        insure=order.insure,
    )


def price_boxes(order: Order, boxes: list[BoxInput]) -> Quote:
    """The freight quote for these boxes on the order's card; raises ValidationFailed when the
    channel can no longer carry them."""
    channel = order_channel(order)
    if channel is None:
        raise ValidationFailed(_l("The order's channel is missing from its rate card."), "boxes")
    offer = quote(channel, bill_request(order, boxes))
    if not offer.available:
        raise ValidationFailed(
            _l(
                "The channel cannot carry these boxes: %(reason)s",
                reason=REASON_TEXTS.get(offer.reason, offer.reason),
            ),
            "boxes",
        )
    return offer


# ---- packing -------------------------------------------------------------------------------------


def check_packable(order: Order) -> list[Parcel]:
    """The order's parcels when it can be packed now; raises NotPackable otherwise."""
    if order.status != "pending_pack":
        if order.packed_at is not None:
            raise NotPackable(_l("This order has already been packed."))
        raise NotPackable(_l("Only orders awaiting packing can be packed."))
    parcels = bound_parcels(order)
    if not parcels or any(p.received_at is None for p in parcels):
        raise NotPackable(_l("Some parcels of this order have not arrived at the warehouse yet."))
    return parcels


def _check_inputs(boxes: list[BoxInput], adjustments: list[AdjustmentInput]) -> None:
    if not boxes:
        raise ValidationFailed(_l("Record at least one box."), "boxes")
    if len(boxes) > MAX_BOXES:
        raise ValidationFailed(_l("At most %(n)s boxes per order.", n=MAX_BOXES), "boxes")
    if len(adjustments) > MAX_ADJUSTMENTS:
        raise ValidationFailed(
            _l("At most %(n)s adjustments per order.", n=MAX_ADJUSTMENTS), "adjustments"
        )
    for adjustment in adjustments:
        if not adjustment.reason.strip():
            raise ValidationFailed(_l("Say why the bill is adjusted."), "adjustments")


def _bill_lines(
    order: Order, offer: Quote, adjustments: list[AdjustmentInput]
) -> list[OrderChargeLine]:
    lines = [(line.code.value, line.amount_fen, "") for line in offer.lines]
    lines += [(SERVICE, s.price_fen, s.code) for s in order.services]
    lines += [(ADJUSTMENT, a.amount_fen, a.reason) for a in adjustments]
    return [
        OrderChargeLine(stage="bill", seq=seq, code=code, amount_fen=amount, detail=detail)
        for seq, (code, amount, detail) in enumerate(lines, 1)
    ]


def pack_order(
    actor: User, order_id: int, boxes: list[BoxInput], adjustments: list[AdjustmentInput]
) -> Packed:
    """Record the boxes, price the bill on the order's card and move the order to 待支付.

    Raises NotPackable, ValidationFailed (a box, an adjustment or the channel refusing the
    weight) or TransitionRefused when another packer got there first; then nothing is kept.
    """
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotPackable(_l("No such order."))
    check_packable(order)
    _check_inputs(boxes, adjustments)
    offer = price_boxes(order, boxes)
    lines = _bill_lines(order, offer, adjustments)
    bill_fen = sum(line.amount_fen for line in lines)
    if bill_fen < 0:
        raise ValidationFailed(_l("The adjustments may not make the bill negative."), "adjustments")
    transition(order, "awaiting_payment", actor.id, STAFF)
    uploads = [box.photo for box in boxes if box.photo]
    photos = images.store_images(uploads, "boxes", limit=MAX_BOXES) if uploads else []
    try:
        _write(actor, order, boxes, photos, offer, lines)
    except Exception:
        images.discard(photos)
        raise
    return Packed(order, photos)


def _write(
    actor: User,
    order: Order,
    boxes: list[BoxInput],
    photos: list[StoredImage],
    offer: Quote,
    lines: list[OrderChargeLine],
) -> None:
    stored = iter(photos)
    for seq, box in enumerate(boxes, 1):
        photo = next(stored) if box.photo else None
        db.session.add(
            OrderBox(
                order_id=order.id,
                seq=seq,
                weight_g=box.weight_g,
                length_cm=box.length_cm,
                width_cm=box.width_cm,
                height_cm=box.height_cm,
                photo_key=photo.image_key if photo else None,
                thumb_key=photo.thumb_key if photo else None,
            )
        )
    for line in lines:
        line.order_id = order.id
        db.session.add(line)
    order.bill_fen = sum(line.amount_fen for line in lines)
    order.bill_weight_g = sum(box.weight_g for box in boxes)
    order.bill_chargeable_g = offer.chargeable_g
    order.packed_at = utcnow()
    db.session.flush()
    db.session.expire(order, ["charge_lines"])
    order_discounts.discount_at_packing(order)
    notifications.notify(
        order.customer_id,
        notifications.ORDER_PACKED,
        f"/orders/{order.order_no}",
        order_no=order.order_no,
        amount=format_fen(order.bill_fen),
    )
    audit.record(
        actor,
        "order.pack",
        "order",
        order.order_no,
        {"status": "pending_pack"},
        {
            "status": order.status,
            "boxes": len(boxes),
            "bill_fen": order.bill_fen,
            "bill_weight_g": order.bill_weight_g,
            "bill_chargeable_g": order.bill_chargeable_g,
        },
    )
    db.session.expire(order, ["boxes", "charge_lines"])
