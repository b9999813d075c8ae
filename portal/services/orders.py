"""Placing and cancelling consolidation orders, and reading a customer's orders."""

from dataclasses import dataclass, replace
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    Address,
    Coupon,
    Order,
    OrderChargeLine,
    OrderDeclarationLine,
    OrderEvent,
    OrderParcel,
    OrderService,
    PackingService,
    Parcel,
    ParcelEvent,
    User,
    utcnow,
)
from portal.models.base import is_id
from portal.services import audit, coupons, memberships, notifications, order_discounts, rate_cards
from portal.services.codes import random_code
from portal.services.declarations import DeclarationInput, check_line
from portal.services.errors import DomainError, ValidationFailed
from portal.services.order_estimate import (
    Shipment,
    channel_quote,
    destination_of,
    measured_weight_g,
)
from portal.services.order_states import CUSTOMER, STAFF, TransitionRefused, transition
from portal.services.pricing_types import Quote

ORDERABLE = ("expected", "received")
MAX_PARCELS = 50
MAX_DECLARATION_LINES = 30
MAX_WEIGHT_G = 500_000
MAX_DECLARED_TOTAL_FEN = 10_000_000  # 100,000 CNY


class OrderNotFound(DomainError):
    """No such order, or not the actor's (shown as 404)."""


class ParcelsTaken(ValidationFailed):
    """A chosen parcel is gone, not the customer's, or already bound to an order."""


@dataclass(frozen=True)
class OrderRequest:
    """Everything the wizard collected; `submit_token` makes a resubmission find the same order."""

    submit_token: str
    parcel_ids: tuple[int, ...]
    address_id: int
    channel_code: str
    weight_g: int
    declarations: tuple[DeclarationInput, ...]
    insure: bool = False
    service_codes: tuple[str, ...] = ()
    note: str = ""
    # The coupon chosen at the review step (None: none).
    coupon_id: int | None = None


# ---- reading -----------------------------------------------------------------------------------


def orderable_parcels(customer: User, ids: tuple[int, ...] | None = None) -> list[Parcel]:
    """The customer's parcels that may go into a new order (unbound), oldest first."""
    query = select(Parcel).where(Parcel.customer_id == customer.id, Parcel.status.in_(ORDERABLE))
    if ids is not None:
        query = query.where(Parcel.id.in_([i for i in ids if is_id(i)]))
    return list(db.session.scalars(query.order_by(Parcel.created_at, Parcel.id)))


def get_order(customer: User, order_no: str) -> Order:
    """The customer's order with this number, or OrderNotFound."""
    order = db.session.scalar(
        select(Order).where(Order.order_no == order_no, Order.customer_id == customer.id)
    )
    if order is None:
        raise OrderNotFound(_l("No such order."))
    return order


def order_counts(customer: User) -> dict[str, int]:
    rows = db.session.execute(
        select(Order.status, func.count())
        .where(Order.customer_id == customer.id)
        .group_by(Order.status)
    )
    return dict(rows.all())


def order_parcels(order: Order) -> list[Parcel]:
    """The parcels of an order: the bound ones, or for a cancelled order the ones it had."""
    return list(
        db.session.scalars(
            select(Parcel)
            .join(OrderParcel, OrderParcel.parcel_id == Parcel.id)
            .where(OrderParcel.order_id == order.id)
            .order_by(OrderParcel.id)
        )
    )


# ---- placing -----------------------------------------------------------------------------------


def _check_declarations(lines: tuple[DeclarationInput, ...]) -> int:
    """Every line passes the template rules, and the total stays under the cap."""
    if not lines:
        raise ValidationFailed(_l("Add at least one declaration line."), "declarations")
    if len(lines) > MAX_DECLARATION_LINES:
        raise ValidationFailed(_l("At most 30 declaration lines."), "declarations")
    for number, line in enumerate(lines, 1):
        try:
            check_line(line)
        except ValidationFailed as err:
            raise ValidationFailed(
                _l("Declaration line %(n)s: %(problem)s", n=number, problem=err.message),
                "declarations",
            ) from err
    total = sum(line.total_fen for line in lines)
    if total > MAX_DECLARED_TOTAL_FEN:
        raise ValidationFailed(
            _l("The declared total may not exceed ¥100,000 per order."), "declarations"
        )
    return total


def _address(customer: User, address_id: int) -> Address:
    address = db.session.get(Address, address_id) if is_id(address_id) else None
    if address is None or address.customer_id != customer.id:
        raise ValidationFailed(_l("Choose one of your addresses."), "address")
    return address


def _services(codes: tuple[str, ...]) -> list[PackingService]:
    if not codes:
        return []
    found = list(
        db.session.scalars(
            select(PackingService).where(
                PackingService.code.in_(codes), PackingService.is_active.is_(True)
            )
        )
    )
    if len(found) != len(set(codes)):
        raise ValidationFailed(_l("A chosen packing service is no longer offered."), "services")
    return sorted(found, key=lambda s: (s.sort, s.id))


def goods_categories(
    parcels: list[Parcel], declarations: tuple[DeclarationInput, ...]
) -> frozenset[str]:
    """Every goods category in the shipment: a channel must accept them all."""
    return frozenset({p.category for p in parcels} | {d.category for d in declarations})


def _priced(
    customer: User, req: OrderRequest, address: Address, parcels: list[Parcel], on: date
) -> tuple[Quote, Coupon | None]:
    """The chosen channel's quote with the membership running now and the chosen coupon."""
    channel = next(
        (c for c in rate_cards.channels_in_force(on) if c.code == req.channel_code), None
    )
    if channel is None:
        raise ValidationFailed(_l("Choose one of the channels offered."), "channel")
    shipment = Shipment(
        destination=destination_of(address),
        weight_g=req.weight_g,
        categories=goods_categories(parcels, req.declarations),
        declared_value_fen=sum(d.total_fen for d in req.declarations),
        insure=req.insure,
        member_percent=memberships.member_percent(customer.id),
    )
    offer = channel_quote(channel, shipment, on)
    if not offer.available:
        raise ValidationFailed(_l("This channel cannot carry the shipment."), "channel")
    if not req.coupon_id:
        return offer, None
    use = coupons.Use(
        customer_id=customer.id,
        channel_code=channel.code,
        country=address.country,
        eligible_fen=order_discounts.eligible_fen(offer),
    )
    coupon = coupons.checked(customer, req.coupon_id, use)
    with_coupon = replace(shipment, coupon=coupons.as_priced(coupon))
    return channel_quote(channel, with_coupon, on), coupon


def new_order_no(on: date) -> str:
    """JY, the business date and six random characters: JY261122K7Q3M8."""
    return f"JY{on:%y%m%d}{random_code(6)}"


@dataclass(frozen=True)
class CheckedOrder:
    """An order request that passed every check, with what it will cost."""

    parcels: list[Parcel]
    address: Address
    offer: Quote
    services: list[PackingService]
    declared_total_fen: int
    coupon: Coupon | None = None

    @property
    def estimate_fen(self) -> int:
        return self.offer.total_fen + sum(s.price_fen for s in self.services)


def check_order(customer: User, req: OrderRequest) -> CheckedOrder:
    """Check an order request and price it without writing anything (the wizard's review step).

    Raises ValidationFailed naming the field at fault, or ParcelsTaken.
    """
    if not req.parcel_ids or len(req.parcel_ids) > MAX_PARCELS:
        raise ValidationFailed(_l("Choose between 1 and 50 parcels."), "parcels")
    parcels = orderable_parcels(customer, req.parcel_ids)
    if len(parcels) != len(set(req.parcel_ids)):
        raise ParcelsTaken(
            _l("Some of these parcels are no longer available; choose again."), "parcels"
        )
    address = _address(customer, req.address_id)
    if not 0 < req.weight_g <= MAX_WEIGHT_G:
        raise ValidationFailed(_l("Enter a weight between 0.01 and 500 kg."), "weight")
    if req.weight_g < measured_weight_g(parcels):
        raise ValidationFailed(
            _l("The weight may not be less than the weight measured by the warehouse."), "weight"
        )
    declared_total = _check_declarations(req.declarations)
    services = _services(req.service_codes)
    offer, coupon = _priced(customer, req, address, parcels, rate_cards.business_today())
    return CheckedOrder(parcels, address, offer, services, declared_total, coupon)


def place_order(customer: User, req: OrderRequest) -> Order:
    """Create an order in 代打包 and bind its parcels, atomically; a resubmission returns the
    order the first submission made. Raises ValidationFailed (field named) or ParcelsTaken."""
    existing = submitted_order(customer, req.submit_token)
    if existing is not None:
        return existing
    checked = check_order(customer, req)
    order = _insert_order(customer, req, checked, rate_cards.business_today())
    if order.id is None:  # a concurrent resubmission with the same token won the insert
        return submitted_order(customer, req.submit_token)
    _bind_parcels(customer, order, checked.parcels)
    if checked.coupon is not None:
        coupons.hold(checked.coupon, order)
    _add_details(order, req, checked.offer, checked.services)
    db.session.add(OrderEvent(order_id=order.id, actor_id=customer.id, to_status=order.status))
    notifications.notify(
        customer.id,
        notifications.ORDER_PLACED,
        f"/orders/{order.order_no}",
        order_no=order.order_no,
    )
    db.session.flush()
    return order


def submitted_order(customer: User, token: str) -> Order | None:
    """The order an earlier submission of the same wizard draft placed, if any."""
    return db.session.scalar(
        select(Order).where(Order.customer_id == customer.id, Order.submit_token == token)
    )


def _insert_order(customer: User, req: OrderRequest, checked: CheckedOrder, on: date) -> Order:
    """Insert the order row in a savepoint, retrying on the (rare) order-number collision.

    Returns an unsaved order (id None) when another submission with the same token got there first.
    """
    offer, address = checked.offer, checked.address
    channel = offer.channel
    for _attempt in range(5):
        order = Order(
            order_no=new_order_no(on),
            customer_id=customer.id,
            status="pending_pack",
            submit_token=req.submit_token,
            rate_card_id=rate_cards.in_force_key(on)[1],
            channel_code=channel.code,
            channel_name=channel.name_zh,
            service_level=channel.service_level,
            transit_days_min=offer.transit_days[0] if offer.transit_days else None,
            transit_days_max=offer.transit_days[1] if offer.transit_days else None,
            ship_name=address.recipient_name,
            ship_phone=address.phone,
            ship_country=address.country,
            ship_region=address.region,
            ship_city=address.city,
            ship_postcode=address.postcode,
            ship_line1=address.line1,
            ship_line2=address.line2,
            ship_tax_id=address.tax_id,
            categories=",".join(sorted(goods_categories(checked.parcels, req.declarations))),
            insure=req.insure,
            declared_total_fen=checked.declared_total_fen,
            estimate_weight_g=req.weight_g,
            estimate_chargeable_g=offer.chargeable_g,
            estimate_fen=0,
            note=req.note,
        )
        try:
            with db.session.begin_nested():
                db.session.add(order)
        except IntegrityError:
            if submitted_order(customer, req.submit_token) is not None:
                return Order()
            continue
        return order
    raise DomainError(_l("Could not number the order; please submit again."))


def _bind_parcels(customer: User, order: Order, parcels: list[Parcel]) -> None:
    """Compare-and-set every parcel from expected/received to consolidated, or fail as a whole.

    Rows are locked in id order (PostgreSQL) so that concurrent orders cannot deadlock; SQLite
    serialises writers anyway. The partial unique index on order_parcels is the last guard.
    """
    ids = sorted(p.id for p in parcels)
    db.session.execute(
        select(Parcel.id).where(Parcel.id.in_(ids)).order_by(Parcel.id).with_for_update()
    )
    result = db.session.execute(
        update(Parcel)
        .where(
            Parcel.id.in_(ids),
            Parcel.customer_id == customer.id,
            Parcel.status.in_(ORDERABLE),
        )
        .values(status="consolidated", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(ids):
        raise ParcelsTaken(
            _l("Some of these parcels have just been put into another order."), "parcels"
        )
    try:
        with db.session.begin_nested():
            db.session.add_all(OrderParcel(order_id=order.id, parcel_id=pid) for pid in ids)
    except IntegrityError as exc:
        raise ParcelsTaken(
            _l("Some of these parcels have just been put into another order."), "parcels"
        ) from exc
    for parcel in parcels:
        db.session.add(
            ParcelEvent(
                parcel_id=parcel.id,
                actor_id=customer.id,
                from_status=parcel.status,
                to_status="consolidated",
                reason=order.order_no,
            )
        )
    for parcel in parcels:
        db.session.expire(parcel)


def _add_details(
    order: Order, req: OrderRequest, offer: Quote, services: list[PackingService]
) -> None:
    order.declaration_lines = [
        OrderDeclarationLine(seq=i, **vars(line)) for i, line in enumerate(req.declarations, 1)
    ]
    order.services = [
        OrderService(code=s.code, name_zh=s.name_zh, name_en=s.name_en, price_fen=s.price_fen)
        for s in services
    ]
    lines = [
        OrderChargeLine(stage="estimate", seq=i, code=line.code.value, amount_fen=line.amount_fen)
        for i, line in enumerate(offer.lines, 1)
    ]
    lines += [
        OrderChargeLine(
            stage="estimate",
            seq=len(lines) + i,
            code="SERVICE",
            amount_fen=s.price_fen,
            detail=s.code,
        )
        for i, s in enumerate(services, 1)
    ]
    order.charge_lines = lines
    order.estimate_fen = sum(line.amount_fen for line in lines)


# ---- cancelling --------------------------------------------------------------------------------


def cancel_order(actor: User, order: Order, reason: str = "", by_staff: bool = False) -> None:
    """Cancel an order in 代打包 or 待支付 and release its parcels to their previous state.

    A customer may cancel only their own order; a paid order needs a refund (the wallet issue).
    Raises TransitionRefused when the order is in another state or changed meanwhile.
    """
    if not by_staff and order.customer_id != actor.id:
        raise OrderNotFound(_l("No such order."))
    if order.status == "paid":
        raise TransitionRefused(
            _l("This order has been paid; please contact us to cancel it with a refund.")
        )
    before = order.status
    transition(order, "cancelled", actor.id, STAFF if by_staff else CUSTOMER, reason)
    release_parcels(order, actor.id)
    coupons.release(order)
    if by_staff:
        audit.record(
            actor,
            "order.cancel",
            "order",
            order.order_no,
            {"status": before},
            {"status": "cancelled"},
            reason,
        )
    notifications.notify(
        order.customer_id,
        notifications.ORDER_CANCELLED,
        f"/orders/{order.order_no}",
        order_no=order.order_no,
    )


def release_parcels(order: Order, actor_id: int) -> None:
    """Unbind a cancelled order's parcels: each goes back to 已入库 or 待入库."""
    now = utcnow()
    ids = list(
        db.session.scalars(
            select(OrderParcel.parcel_id).where(
                OrderParcel.order_id == order.id, OrderParcel.released_at.is_(None)
            )
        )
    )
    db.session.execute(
        update(OrderParcel)
        .where(OrderParcel.order_id == order.id, OrderParcel.released_at.is_(None))
        .values(released_at=now)
        .execution_options(synchronize_session=False)
    )
    for parcel in db.session.scalars(select(Parcel).where(Parcel.id.in_(ids))):
        back_to = "received" if parcel.is_in_stock else "expected"
        db.session.add(
            ParcelEvent(
                parcel_id=parcel.id,
                actor_id=actor_id,
                from_status=parcel.status,
                to_status=back_to,
                reason=order.order_no,
            )
        )
        parcel.status, parcel.updated_at = back_to, now
    db.session.flush()
