"""`flask quote`: the quote widget's answer as JSON, for support staff and scripts."""

import json
from dataclasses import replace
from decimal import Decimal

import click
from flask import Flask
from werkzeug.datastructures import MultiDict

from portal.i18n import format_kg
from portal.quote import labels
from portal.quote.forms import QuoteForm, parse_decimal
from portal.quote.offers import country_choices, serving
from portal.services import rate_cards
from portal.services.pricing import quote, quote_all
from portal.services.pricing_types import Coupon, Quote


def amount(fen: int) -> str:
    """Fen as yuan with two decimals and no separators: -1600 -> "-16.00"."""
    return f"{Decimal(fen) / 100:.2f}"


def quote_json(q: Quote) -> dict:
    """One quote in the documented JSON shape (amounts as strings with two decimals)."""
    return {
        "channel": q.channel.code,
        "available": q.available,
        "reason": q.reason.value if q.reason else None,
        "chargeable_weight_kg": format_kg(q.chargeable_g) if q.available else None,
        "pieces": [
            {
                "actual_kg": format_kg(p.actual_g),
                "volumetric_kg": format_kg(p.volumetric_g or p.actual_g),
                "chargeable_kg": format_kg(p.chargeable_g),
            }
            for p in q.pieces
        ],
        "lines": [
            {
                "code": line.code.value,
                "label": str(labels.LINE_LABELS[line.code]),
                "amount": amount(line.amount_fen),
            }
            for line in q.lines
        ],
        "total": amount(q.total_fen) if q.available else None,
        "transit_days": list(q.transit_days) if q.transit_days else None,
        "warnings": [{"code": w.code.value, "message": labels.warning_text(w)} for w in q.warnings],
    }


def parse_coupon(spec: str) -> Coupon:
    """`fixed:AMOUNT[:THRESHOLD]` or `percent:PCT[:THRESHOLD[:CAP]]`, amounts in CNY."""
    kind, *numbers = spec.split(":")
    values = [parse_decimal(n, 2) for n in numbers]
    if kind not in ("fixed", "percent") or not 1 <= len(values) <= (2 if kind == "fixed" else 3):
        raise click.BadParameter("use fixed:AMOUNT[:THRESHOLD] or percent:PCT[:THRESHOLD[:CAP]]")
    if any(v is None or v < 0 for v in values) or (kind == "percent" and values[0] > 100):
        raise click.BadParameter("amounts must be non-negative numbers (percent at most 100)")
    fen = [int(v * 100) for v in values]
    threshold = fen[1] if len(fen) > 1 else 0
    if kind == "fixed":
        return Coupon(spec, "fixed", value_fen=fen[0], threshold_fen=threshold)
    cap = fen[2] if len(fen) > 2 else None
    return Coupon(spec, "percent", percent=values[0], threshold_fen=threshold, cap_fen=cap)


def _form_errors(form: QuoteForm) -> str:
    return "; ".join(f"--{name}: {' '.join(map(str, errs))}" for name, errs in form.errors.items())


def register(app: Flask) -> None:
    @app.cli.command("quote")
    @click.option("--country", required=True, help="Destination country code, e.g. US.")
    @click.option("--postcode", default="")
    @click.option("--city", default="")
    @click.option("--weight", "weights", multiple=True, required=True, help="kg, once per piece.")
    @click.option("--dims", multiple=True, help="LxWxH in cm, once per piece (or none).")
    @click.option("--channel", default=None, help="Only this channel code.")
    @click.option("--category", default="general")
    @click.option("--declared", default="", help="Declared value in CNY.")
    @click.option("--insure", is_flag=True)
    @click.option("--member-pct", default="0", help="Member discount percentage.")
    @click.option(
        "--coupon", "coupon_spec", default=None, help="fixed:20[:100] or percent:15[:0[:50]]"
    )
    def quote_command(
        country,
        postcode,
        city,
        weights,
        dims,
        channel,
        category,
        declared,
        insure,
        member_pct,
        coupon_spec,
    ) -> None:
        """Price a shipment with every channel for the destination and print JSON."""
        if dims and len(dims) != len(weights):
            raise click.UsageError("give --dims once per --weight, or not at all")
        member = parse_decimal(member_pct, 2)
        if member is None or not 0 <= member <= 100:
            raise click.BadParameter("a percentage from 0 to 100", param_hint="--member-pct")
        coupon = parse_coupon(coupon_spec) if coupon_spec else None
        day = rate_cards.business_today()
        channels = rate_cards.channels_in_force(day)
        pieces = []
        for i, weight in enumerate(weights):
            sides = dims[i].lower().split("x") if dims else ["", "", ""]
            if len(sides) != 3:
                raise click.BadParameter(f"{dims[i]!r} is not LxWxH", param_hint="--dims")
            data = MultiDict(
                {
                    "country": country.upper(),
                    "postcode": postcode,
                    "city": city,
                    "weight": weight,
                    "length": sides[0],
                    "width": sides[1],
                    "height": sides[2],
                    "category": category,
                    "declared": declared,
                    "insure": "y" if insure else "",
                }
            )
            form = QuoteForm(data, countries=country_choices(channels))
            if not form.validate():
                raise click.UsageError(_form_errors(form))
            request = form.to_request(day, member_percent=member, coupon=coupon)
            pieces += request.pieces
        request = replace(request, pieces=tuple(pieces))
        wanted = serving(channels, request.destination.country)
        if channel is not None:
            chosen = [c for c in channels if c.code == channel]
            if not chosen:
                raise click.BadParameter(f"no active channel {channel!r}", param_hint="--channel")
            quotes = [quote(chosen[0], request)]
        else:
            quotes = quote_all(wanted, request)
        click.echo(json.dumps([quote_json(q) for q in quotes], ensure_ascii=False, indent=2))
