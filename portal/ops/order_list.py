"""The order processing list (销售订单处理): tabs, search, days, total, and its export."""

from datetime import datetime

from flask import Response, request, stream_with_context
from flask_babel import gettext as _

from portal.htmx import page_or_partial
from portal.models.base import utcnow
from portal.ops import bp
from portal.orders import labels
from portal.paging import parse_page
from portal.services import order_export, order_search
from portal.services.rate_cards import BUSINESS_ZONE

EXPORT_FORMATS = ("xlsx", "csv")
TABS = ("", *labels.TABS)


def _render(query, errors: dict, found, status: int = 200, export_error: str = "") -> Response:
    return page_or_partial(
        "ops/orders.html",
        "ops/_order_list.html",
        status,
        query=query,
        errors=errors,
        found=found,
        export_error=export_error,
        tabs=TABS,
        labels=labels,
        channel_names=labels.channel_names(row.order for row in found.rows) if found else {},
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
