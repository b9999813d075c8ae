"""What an order is expected to cost before the warehouse packs it: the pricing service's quote
for the parcels' known or estimated weight, plus the packing services chosen."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db
from portal.models import Address, PackingService, Parcel
from portal.services.pricing import quote, quote_all
from portal.services.pricing_types import (
    ChannelRates,
    Coupon,
    Destination,
    Piece,
    Quote,
    QuoteRequest,
)


@dataclass(frozen=True)
class Shipment:
    """What the wizard knows about the shipment when it asks for prices."""

    destination: Destination
    weight_g: int
    categories: frozenset[str]
    declared_value_fen: int = 0
    insure: bool = False
    member_percent: Decimal = Decimal(0)
    coupon: Coupon | None = None

    def request(self, on: date) -> QuoteRequest:
        return QuoteRequest(
            destination=self.destination,
            pieces=(Piece(self.weight_g),),
            on=on,
            categories=self.categories,
            declared_value_fen=self.declared_value_fen,
            insure=self.insure,
            member_percent=self.member_percent,
            coupon=self.coupon,
        )


def destination_of(address: Address) -> Destination:
    """An address book entry as a pricing destination."""
    return Destination(address.country, address.region, address.postcode, city=address.city)


def known_weight_g(parcels: list[Parcel]) -> tuple[int, bool]:
    """The sum of the parcels' measured or estimated weights, and whether every parcel had one."""
    weights = [p.known_weight_g for p in parcels]
    return sum(w for w in weights if w), all(weights)


def measured_weight_g(parcels: list[Parcel]) -> int:
    """The sum of the weights the warehouse measured (an estimate may not go below it)."""
    return sum(p.weight_g for p in parcels if p.weight_g)


def channel_quotes(channels: list[ChannelRates], shipment: Shipment, on: date) -> list[Quote]:
    """Every channel's quote for the shipment, cheapest first, unavailable ones last."""
    return quote_all(channels, shipment.request(on))


def channel_quote(channel: ChannelRates, shipment: Shipment, on: date) -> Quote:
    return quote(channel, shipment.request(on))


def active_packing_services() -> list[PackingService]:
    return list(
        db.session.scalars(
            select(PackingService)
            .where(PackingService.is_active.is_(True))
            .order_by(PackingService.sort, PackingService.id)
        )
    )
