"""The pricing service: pure functions from rates and a request to an itemised, frozen Quote.

No Flask and no database here: the quote widget, the order estimate and the warehouse bill all
call `quote()` with values loaded elsewhere, so they can never disagree in method. The order of
calculation and the rounding follow guides/pricing.md: each line is rounded to the fen (half up)
when created and the total is the sum of the lines.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from portal.services.pricing_types import (
    Band,
    ChannelRates,
    Coupon,
    LineCode,
    Notice,
    PieceWeight,
    Quote,
    QuoteLine,
    QuoteRequest,
    Reason,
    SurchargeRule,
    WarningCode,
    ZoneRates,
)

HUNDRED = Decimal(100)


class Unavailable(Exception):
    def __init__(self, reason: Reason, zone_code: str | None = None):
        self.reason = reason
        self.zone_code = zone_code


def to_fen(amount: Decimal) -> int:
    """Round a Decimal amount of fen to a whole fen, half up (never banker's rounding)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def percent_of(percent: Decimal, amount_fen: int) -> int:
    return to_fen(percent * amount_fen / HUNDRED)


def per_kg(rate_fen: int, weight_g: int) -> int:
    return to_fen(Decimal(rate_fen) * weight_g / 1000)


def quote(channel: ChannelRates, request: QuoteRequest) -> Quote:
    """Price one channel for one request; an unavailable channel comes back with its reason."""
    return with_declared_value(freight(channel, request), request)


@dataclass(frozen=True)
class Freight:
    """A channel's price for a request up to the lines that read the declared value: the
    zone, the pieces, the chargeable weight, the freight lines (base, surcharges, fuel and
    discounts) and their notices. `with_declared_value` adds insurance and duties."""

    channel: ChannelRates
    zone: ZoneRates
    pieces: tuple[PieceWeight, ...]
    weight_g: int
    lines: tuple[QuoteLine, ...]
    notices: tuple[Notice, ...]


def freight(channel: ChannelRates, request: QuoteRequest) -> Freight | Quote:
    """The part of the price that never reads the declared value, or the unavailable Quote."""
    try:
        return _Pricing(channel, request).freight()
    except Unavailable as refusal:
        return Quote(
            channel=channel, available=False, reason=refusal.reason, zone_code=refusal.zone_code
        )


def with_declared_value(part: Freight | Quote, request: QuoteRequest) -> Quote:
    """The whole quote: the freight with the insurance and duties for the declared value (an
    unavailable quote stays as it is)."""
    if isinstance(part, Quote):
        return part
    return _Pricing(part.channel, request).finish(part)


def quote_all(channels: Iterable[ChannelRates], request: QuoteRequest) -> list[Quote]:
    """Every channel priced: available ones cheapest first (then fastest), then the unavailable."""
    return sort_quotes([quote(channel, request) for channel in channels])


def sort_quotes(quotes: Iterable[Quote]) -> list[Quote]:
    """Available quotes cheapest first (then fastest, then by code), then the unavailable."""
    return sorted(
        quotes,
        key=lambda q: (
            not q.available,
            q.total_fen if q.available else 0,
            q.transit_days or (0, 0),
            q.channel.code,
        ),
    )


def reads_declared_value(channel: ChannelRates, request: QuoteRequest) -> bool:
    """Whether pricing the request on the channel can read its declared value.

    `_Pricing` reads it in exactly two places: `_insurance` (only when insuring on a channel that
    offers insurance) and `_duties` (only on a DDP channel with a duty rule for the country; the
    rule's dates are left out here, which only makes this answer "yes" more often). Keep this in
    step with them: the quote memo relies on it."""
    if request.insure and channel.insurance_percent is not None:
        return True
    country = request.destination.country
    return channel.is_ddp and any(rule.country == country for rule in channel.duty_rules)


class QuoteMemo:
    """Quotes remembered per channel and per request, where a request is every field of
    `QuoteRequest` except the declared value for a channel that does not read it
    (`reads_declared_value`). For a channel that does, its `Freight` is remembered without the
    declared value: quoting an amount after another only adds insurance and duties again.

    Channels are told apart by identity: an entry keeps its quote (or freight), and that its
    channel, so a remembered id always belongs to the same living object. Channels and
    requests are frozen values, so a remembered quote is the one `quote()` would compute
    again."""

    def __init__(self, size: int = 128):
        self.size = size
        self._requests: OrderedDict[tuple, _Known] = OrderedDict()
        self._lock = threading.Lock()

    def quote_all(self, channels: Iterable[ChannelRates], request: QuoteRequest) -> list[Quote]:
        """As `quote_all()`, with each channel's quote reused when it was priced before."""
        exact = self._known_for(request)
        undeclared = (
            exact
            if request.declared_value_fen == 0
            else self._known_for(replace(request, declared_value_fen=0))
        )
        quotes = []
        for channel in channels:
            reads = reads_declared_value(channel, request)
            known = exact if reads else undeclared
            found = _mine(known.quotes, channel)
            if found is None:
                if reads:
                    part = _mine(undeclared.freights, channel)
                    if part is None:
                        part = undeclared.freights[id(channel)] = freight(channel, request)
                    found = with_declared_value(part, request)
                else:
                    found = quote(channel, request)
                known.quotes[id(channel)] = found
            quotes.append(found)
        return sort_quotes(quotes)

    def _known_for(self, request: QuoteRequest) -> "_Known":
        """What is remembered for one request (a new, empty entry if nothing)."""
        key = _exact(request)
        with self._lock:
            known = self._requests.get(key)
            if known is None:
                known = self._requests[key] = _Known({}, {})
                while len(self._requests) > self.size:
                    self._requests.popitem(last=False)
            else:
                self._requests.move_to_end(key)
            return known

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()


@dataclass
class _Known:
    """One request's remembered quotes and freights, by channel id."""

    quotes: dict[int, Quote]
    freights: dict[int, "Freight | Quote"]


def _mine(known: dict, channel: ChannelRates):
    """The entry for this very channel object, if any."""
    found = known.get(id(channel))
    return found if found is not None and found.channel is channel else None


def _exact(request: QuoteRequest) -> tuple:
    """The request as a key that also tells Decimal("10") from Decimal("10.0"): equal numbers,
    but a quote's facts keep the one it was given."""
    coupon = request.coupon
    return (
        request,
        request.member_percent.as_tuple(),
        None if coupon is None else coupon.percent.as_tuple(),
    )


def chargeable_piece(channel: ChannelRates, piece) -> PieceWeight:
    """Actual vs volumetric weight of one piece, the larger rounded up to the channel's step."""
    divisor = channel.volumetric_divisor
    counts_volume = (
        divisor is not None
        and piece.has_dimensions
        and (
            channel.volumetric_min_side_cm is None
            or piece.longest_side_cm >= channel.volumetric_min_side_cm
        )
    )
    step = channel.rounding_step_g
    if not counts_volume:
        return PieceWeight(piece.weight_g, None, ceil_div(piece.weight_g, step) * step)
    volume_g_times_divisor = piece.length_cm * piece.width_cm * piece.height_cm * 1000
    heavier = max(piece.weight_g * divisor, volume_g_times_divisor)
    return PieceWeight(
        actual_g=piece.weight_g,
        volumetric_g=ceil_div(volume_g_times_divisor, divisor),
        chargeable_g=ceil_div(heavier, divisor * step) * step,
    )


def _over(value: int, limit: int | None) -> bool:
    return limit is not None and value > limit


def band_price(band: Band, weight_g: int) -> tuple[int, int]:
    """The price of a band at weight W and the number of further units charged."""
    units = ceil_div(weight_g - band.first_g, band.unit_g) if weight_g > band.first_g else 0
    return band.parcel_fee_fen + band.first_price_fen + units * band.unit_price_fen, units


def discount_lines(
    base_fen: int, member_percent: Decimal, coupon: Coupon | None
) -> tuple[list[QuoteLine], list[Notice]]:
    """The member discount (a percent of the base freight) and then the coupon, which applies
    to the base less the member discount: the lines and the notices that explain them.

    The quote computes them this way, and so does the bill at payment, from its base line."""
    if not Decimal(0) <= member_percent <= HUNDRED:
        raise ValueError("member percent must be between 0 and 100")
    lines, notices = [], []
    member = percent_of(member_percent, base_fen)
    if member:
        lines.append(QuoteLine(LineCode.MEMBER_DISCOUNT, -member, (("percent", member_percent),)))
    if coupon is None:
        return lines, notices
    eligible = base_fen - member
    if eligible < coupon.threshold_fen or eligible <= 0:
        facts = (
            ("coupon", coupon.code),
            ("threshold_fen", coupon.threshold_fen),
            ("eligible_fen", eligible),
        )
        notices.append(Notice(WarningCode.COUPON_BELOW_THRESHOLD, facts))
        return lines, notices
    if coupon.kind == "fixed":
        amount = min(coupon.value_fen, eligible)
    else:
        amount = percent_of(coupon.percent, eligible)
        if coupon.cap_fen is not None and amount > coupon.cap_fen:
            amount = coupon.cap_fen
            facts = (("coupon", coupon.code), ("cap_fen", coupon.cap_fen))
            notices.append(Notice(WarningCode.COUPON_CAPPED, facts))
        amount = min(amount, eligible)
    lines.append(QuoteLine(LineCode.COUPON, -amount, (("code", coupon.code),)))
    return lines, notices


@dataclass
class _Pricing:
    channel: ChannelRates
    request: QuoteRequest

    def freight(self) -> Freight:
        if not self.request.pieces or any(p.weight_g <= 0 for p in self.request.pieces):
            raise ValueError("a quote needs at least one piece, each heavier than 0 g")
        zone = self._zone()
        self._check_categories(zone)
        self.oversize_pieces = self._check_piece_limits(zone)
        self.remote_rule = self._remote_rule(zone)
        self.pieces = tuple(chargeable_piece(self.channel, p) for p in self.request.pieces)
        self.notices: list[Notice] = []
        weight = sum(p.chargeable_g for p in self.pieces)
        if weight < self.channel.min_chargeable_g:
            weight = self.channel.min_chargeable_g
            self._notice(WarningCode.MIN_WEIGHT_APPLIED, weight_g=weight)
        if self.channel.max_chargeable_g is not None and weight > self.channel.max_chargeable_g:
            raise Unavailable(Reason.OVER_MAX_WEIGHT, zone.code)
        self.weight = weight

        base = self._base(zone)
        lines = [base]
        lines += self._surcharges()
        lines += self._fuel(base.amount_fen, lines[1:])
        lines += self._discounts(base.amount_fen)
        return Freight(self.channel, zone, self.pieces, weight, tuple(lines), tuple(self.notices))

    def finish(self, part: Freight) -> Quote:
        """The freight's quote with the lines that read the declared value added."""
        self.notices = list(part.notices)
        freight_fen = sum(line.amount_fen for line in part.lines)
        lines = [*part.lines, *self._insurance(), *self._duties(freight_fen)]
        zone = part.zone
        return Quote(
            channel=self.channel,
            available=True,
            zone_code=zone.code,
            pieces=part.pieces,
            chargeable_g=part.weight_g,
            lines=tuple(line for line in lines if line.amount_fen or line.code == LineCode.BASE),
            transit_days=zone.transit_days or self.channel.transit_days,
            warnings=tuple(self.notices),
        )

    def _notice(self, warning: WarningCode, **facts) -> None:
        self.notices.append(Notice(warning, tuple(facts.items())))

    # -- validation ------------------------------------------------------------------------------

    def _zone(self) -> ZoneRates:
        best, best_zone = None, None
        place = self.request.destination.place
        for zone in self.channel.zones:
            score = zone.area_index.best_score(place)
            if score is not None and (best is None or score > best):
                best, best_zone = score, zone
        if best_zone is None:
            raise Unavailable(Reason.NO_ZONE)
        return best_zone

    def _check_categories(self, zone: ZoneRates) -> None:
        if not self.request.categories <= self.channel.categories:
            raise Unavailable(Reason.CATEGORY_NOT_ALLOWED, zone.code)

    def _check_piece_limits(self, zone: ZoneRates) -> int:
        """Count pieces over a limit; on a refusing channel the first one makes it unavailable,
        as does a piece over a refusal limit on a fee channel."""
        ch = self.channel
        over = 0
        for piece in self.request.pieces:
            if _over(piece.weight_g, ch.refuse_piece_g):
                raise Unavailable(Reason.OVER_MAX_WEIGHT, zone.code)
            if piece.has_dimensions and (
                _over(piece.longest_side_cm, ch.refuse_longest_side_cm)
                or _over(piece.girth_cm, ch.refuse_girth_cm)
            ):
                raise Unavailable(Reason.OVER_MAX_DIMENSION, zone.code)
            too_heavy = _over(piece.weight_g, ch.max_piece_g)
            too_big = piece.has_dimensions and (
                _over(piece.longest_side_cm, ch.max_longest_side_cm)
                or _over(piece.girth_cm, ch.max_girth_cm)
            )
            if (too_heavy or too_big) and (ch.over_limit_action != "fee" or not self._oversize()):
                reason = Reason.OVER_MAX_WEIGHT if too_heavy else Reason.OVER_MAX_DIMENSION
                raise Unavailable(reason, zone.code)
            over += too_heavy or too_big
        return over

    def _remote_rule(self, zone: ZoneRates) -> SurchargeRule | None:
        place = self.request.destination.place
        for rule in self._rules("remote"):
            if rule.remote_index.best_score(place) is not None:
                if rule.refuse:
                    raise Unavailable(Reason.REMOTE_NOT_SERVICEABLE, zone.code)
                return rule
        return None

    def _rules(self, kind: str) -> list[SurchargeRule]:
        day = self.request.on
        return [r for r in self.channel.surcharges_by_kind.get(kind, ()) if r.valid_on(day)]

    def _oversize(self) -> SurchargeRule | None:
        rules = self._rules("oversize")
        return rules[0] if rules else None

    # -- lines -----------------------------------------------------------------------------------

    def _base(self, zone: ZoneRates) -> QuoteLine:
        band = next((b for b in zone.bands if b.min_excl_g < self.weight <= b.max_incl_g), None)
        if band is None:
            raise Unavailable(Reason.NO_RATE, zone.code)
        price, units = band_price(band, self.weight)
        facts = {
            "weight_g": self.weight,
            "first_g": min(band.first_g, self.weight),
            "first_price_fen": band.first_price_fen,
            "unit_g": band.unit_g,
            "unit_price_fen": band.unit_price_fen,
            "units": units,
            "parcel_fee_fen": band.parcel_fee_fen,
        }
        if price < self.channel.min_charge_fen:
            price = self.channel.min_charge_fen
            self._notice(WarningCode.MIN_CHARGE_APPLIED, amount_fen=price)
            facts["min_charge_fen"] = price
        return QuoteLine(LineCode.BASE, price, tuple(facts.items()))

    def _surcharges(self) -> list[QuoteLine]:
        lines = []
        if self.remote_rule is not None:
            lines.append(self._weighted(LineCode.REMOTE, self.remote_rule))
        for rule in self._rules("sensitive"):
            if rule.categories & self.request.categories:
                lines.append(self._weighted(LineCode.SENSITIVE, rule))
        if self.oversize_pieces:
            rule = self._oversize()
            amount = self.oversize_pieces * (rule.per_piece_fen or 0)
            lines.append(self._line(LineCode.OVERSIZE, amount, rule, pieces=self.oversize_pieces))
        for rule in self._rules("handling"):
            count = len(self.request.pieces)
            amount = (rule.flat_fen or 0) + count * (rule.per_piece_fen or 0)
            lines.append(self._line(LineCode.HANDLING, amount, rule, pieces=count))
        return lines

    def _weighted(self, code: LineCode, rule: SurchargeRule) -> QuoteLine:
        """A flat amount, or the greater of a per-kg rate x W and a minimum."""
        if rule.flat_fen is not None:
            return self._line(code, rule.flat_fen, rule)
        by_weight = per_kg(rule.per_kg_fen or 0, self.weight)
        amount = max(by_weight, rule.min_fen or 0)
        return self._line(
            code,
            amount,
            rule,
            weight_g=self.weight,
            per_kg_fen=rule.per_kg_fen or 0,
            min_fen=rule.min_fen or 0,
            min_applied=amount > by_weight,
        )

    @staticmethod
    def _line(code: LineCode, amount: int, rule: SurchargeRule, **facts) -> QuoteLine:
        facts["fuel_applies"] = rule.fuel_applies
        return QuoteLine(code, amount, tuple(facts.items()))

    def _fuel(self, base_fen: int, surcharges: list[QuoteLine]) -> list[QuoteLine]:
        rules = sorted(self._rules("fuel"), key=lambda r: r.valid_from or self.request.on)
        if not rules:
            return []
        percent = rules[-1].percent or Decimal(0)
        fueled = base_fen + sum(s.amount_fen for s in surcharges if s.fact("fuel_applies"))
        amount = percent_of(percent, fueled)
        return [QuoteLine(LineCode.FUEL, amount, (("percent", percent), ("basis_fen", fueled)))]

    def _discounts(self, base_fen: int) -> list[QuoteLine]:
        lines, notices = discount_lines(base_fen, self.request.member_percent, self.request.coupon)
        self.notices += notices
        return lines

    def _insurance(self) -> list[QuoteLine]:
        ch, declared = self.channel, self.request.declared_value_fen
        if not self.request.insure:
            return []
        if ch.insurance_percent is None:
            self._notice(WarningCode.INSURANCE_NOT_OFFERED)
            return []
        if declared <= 0:
            self._notice(WarningCode.INSURANCE_NEEDS_VALUE)
            return []
        insured = declared
        if ch.insurance_max_fen is not None and declared > ch.insurance_max_fen:
            insured = ch.insurance_max_fen
            self._notice(WarningCode.INSURANCE_CAPPED, max_fen=insured)
        premium = max(percent_of(ch.insurance_percent, insured), ch.insurance_min_fen)
        facts = (("insured_fen", insured), ("percent", ch.insurance_percent))
        return [QuoteLine(LineCode.INSURANCE, premium, facts)]

    def _duties(self, freight_fen: int) -> list[QuoteLine]:
        if not self.channel.is_ddp:
            return []
        country = self.request.destination.country
        rules = [
            r
            for r in self.channel.duty_rules
            if r.country == country and r.valid_on(self.request.on)
        ]
        declared = self.request.declared_value_fen
        if not rules:
            return []
        rule = max(rules, key=lambda r: r.valid_from)
        if declared <= rule.de_minimis_fen:
            return []
        basis = declared + (freight_fen if rule.basis == "goods_freight" else 0)
        self._notice(WarningCode.DUTIES_ESTIMATED)
        facts = (("percent", rule.percent), ("basis_fen", basis), ("basis", rule.basis))
        return [QuoteLine(LineCode.DUTIES, percent_of(rule.percent, basis), facts)]
