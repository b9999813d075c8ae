"""The order processing list (销售订单处理): tabs, search, days, total, and its export."""

from dataclasses import dataclass
from datetime import datetime

from flask import Response, request, stream_with_context, url_for
from flask_babel import gettext as _

from portal.htmx import page_or_partial
from portal.i18n import format_fen, format_kg
from portal.models.base import utcnow
from portal.ops import bp
from portal.orders import labels
from portal.page_cache import cached_page
from portal.paging import parse_page
from portal.services import order_export, order_search
from portal.services.rate_cards import BUSINESS_ZONE

EXPORT_FORMATS = ("xlsx", "csv")
TABS = ("", *labels.TABS)
# The creation time as the list shows it, in Beijing time (Babel's "yyyy-MM-dd HH:mm").
CREATED_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class TableRow:
    """One order as the table shows it, every cell already formatted."""

    href: str
    order_no: str
    status: str
    status_label: str
    created_iso: str
    created: str
    customer_code: str
    customer_phone: str | None
    channel: str
    country: str
    parcels: int
    weight: str
    billed: bool
    amount: str
    outbound_tracking_no: str
    prints: str


@dataclass(frozen=True)
class Words:
    """The table's words in the user's language, translated once per page rather than per row."""

    statuses: dict[str, str]
    kg: str
    packing_lists: str
    label_prints: str

    def status(self, status: str) -> str:
        return self.statuses.get(status, status)

    def weight(self, grams: int) -> str:
        return self.kg % {"kg": format_kg(grams)}

    def prints(self, packing_lists: int, label_prints: int) -> str:
        """How often the packing list and the label were printed: "List 1 · Label 0"."""
        lists = self.packing_lists % {"n": packing_lists}
        return f"{lists} · {self.label_prints % {'n': label_prints}}"


def _words() -> Words:
    """The words in the language of this request."""
    return Words(
        statuses={status: str(label) for status, label in labels.STATUS_LABELS.items()},
        kg=_("%(kg)s kg"),
        packing_lists=_("List %(n)s"),
        label_prints=_("Label %(n)s"),
    )


def _order_href_prefix() -> str:
    """The order page's URL without the id its rule ends with: one url_for per page."""
    return url_for("ops.order", order_id=0).removesuffix("0")


def _table_row(
    row: order_search.OrderRow, channel: str, href_prefix: str, words: Words
) -> TableRow:
    """One order's cells, formatted with strftime and `%` rather than Babel and gettext."""
    o = row.order
    billed = o.bill_fen is not None
    return TableRow(
        href=f"{href_prefix}{o.id}",
        order_no=o.order_no,
        status=o.status,
        status_label=words.status(o.status),
        created_iso=o.created_at.isoformat(),
        created=o.created_at.astimezone(BUSINESS_ZONE).strftime(CREATED_FORMAT),
        customer_code=row.customer_code,
        customer_phone=row.customer_phone,
        channel=channel,
        country=o.ship_country,
        parcels=row.parcels,
        weight=words.weight(o.bill_weight_g or o.estimate_weight_g),
        billed=billed,
        amount=format_fen(o.bill_fen if billed else o.estimate_fen),
        outbound_tracking_no=o.outbound_tracking_no,
        prints=words.prints(o.packing_list_prints, o.label_prints),
    )


def _table(found: order_search.OrderPage, words: Words) -> list[TableRow]:
    """The page's orders as table rows: channel names in one query, the URL built once."""
    channels = labels.channel_names(row.order for row in found.rows)
    href_prefix = _order_href_prefix()
    return [_table_row(row, channels[row.order.id], href_prefix, words) for row in found.rows]


def _render(query, errors: dict, found, status: int = 200, export_error: str = "") -> Response:
    words = _words()
    return page_or_partial(
        "ops/orders.html",
        "ops/_order_list.html",
        status,
        query=query,
        errors=errors,
        found=found,
        export_error=export_error,
        tabs=TABS,
        status_labels=words.statuses,
        table=_table(found, words) if found else [],
    )


def _filters(query: order_search.OrderQuery) -> dict[str, str]:
    """The query as URL parameters (for tabs, pages and the export links)."""
    values = {
        "status": query.status,
        "q": query.q,
        "since": query.since.isoformat() if query.since else "",
        "until": query.until.isoformat() if query.until else "",
    }
    return {name: value for name, value in values.items() if value}


@bp.app_template_global("ops_order_filters")
def ops_order_filters(query: order_search.OrderQuery, **changes) -> dict[str, str]:
    return {**_filters(query), **changes}


@bp.route("/orders")
@cached_page
def orders():
    """Every order: a tab per status with its count, search, days, and the query's total."""
    query, errors = order_search.read_query(request.args, parse_page(request.args.get("page")))
    if errors:
        return _render(query, errors, None, 422)
    return _render(query, errors, order_search.list_orders(query))


def _stamp() -> str:
    now: datetime = utcnow().astimezone(BUSINESS_ZONE)
    return now.strftime("%Y%m%d-%H%M")


@bp.route("/orders/export")
def orders_export():
    """The current query as XLSX or CSV, streamed; refused beyond MAX_ROWS orders."""
    query, errors = order_search.read_query(request.args)
    kind = request.args.get("format", "xlsx")
    if errors:
        return _render(query, errors, None, 422)
    counts, _amounts = order_search.count_by_status(query)
    found = order_search.tab_total(counts, query.status)
    problem = ""
    if kind not in EXPORT_FORMATS:
        problem = _("Choose XLSX or CSV.")
    elif found > order_export.MAX_ROWS:
        problem = _(
            "%(found)s orders match: at most %(limit)s can be exported at once. "
            "Narrow the dates or the search.",
            found=f"{found:,}",
            limit=f"{order_export.MAX_ROWS:,}",
        )
    if problem:
        return _render(query, errors, order_search.list_orders(query), 422, problem)
    rows = order_export.export_rows(query, labels.status_label)
    filename = f"orders-{_stamp()}.{kind}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if kind == "csv":
        chunks = order_export.csv_chunks(rows, order_export.header())
        return Response(
            stream_with_context(chunks),
            mimetype="text/csv",
            headers=disposition,
        )
    path = order_export.xlsx_file(rows, order_export.header())
    response = Response(
        order_export.file_chunks(path),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={**disposition, "Content-Length": str(path.stat().st_size)},
        direct_passthrough=True,
    )
    return response
