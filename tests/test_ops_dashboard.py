"""The staff to-do dashboard: queue counts (Beijing day boundaries included), the 7 and 30 day
trends counted in SQL on both databases, and the server-drawn SVG charts."""

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import url_for
from sqlalchemy import update

from portal.extensions import db
from portal.models import (
    Order,
    OrderEvent,
    OrderParcel,
    Parcel,
    ParcelClaim,
    UnclaimedParcel,
)
from portal.ops import permissions
from portal.services import ops_dashboard
from portal.services.charts import build_chart, nice_step
from tests.helpers import HTMX, login, soup, sql_statements

# 2026-11-22 12:00 in Beijing.
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
TODAY = date(2026, 11, 22)
SVG = "{http://www.w3.org/2000/svg}"


def beijing(day: date, hour: int, minute: int = 0) -> datetime:
    """A Beijing wall-clock time as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(ops_dashboard, "utcnow", lambda: NOW)


@pytest.fixture
def admin(client, make_staff):
    login(client, make_staff("admin"))
    return client


def add(app, *rows) -> list[int]:
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def set_order(app, order_no: str, **values) -> int:
    with app.app_context():
        db.session.execute(update(Order).where(Order.order_no == order_no).values(**values))
        db.session.commit()
        return db.session.query(Order.id).filter_by(order_no=order_no).scalar()


def receive_parcels_of(app, order_no: str, when: datetime) -> None:
    with app.app_context():
        order_id = db.session.query(Order.id).filter_by(order_no=order_no).scalar()
        ids = [
            link.parcel_id for link in db.session.query(OrderParcel).filter_by(order_id=order_id)
        ]
        db.session.execute(update(Parcel).where(Parcel.id.in_(ids)).values(received_at=when))
        db.session.commit()


def tile(response, key: str) -> int:
    node = soup(response).find(attrs={"data-testid": f"count-{key}"})
    return int(node.find(class_="ops-dash-number").get_text(strip=True))


@pytest.fixture
def queues(app, clock, make_customer, make_parcel, insert_orders):
    """Known queues: see the expected counts in EXPECTED."""
    customer = make_customer()
    make_parcel(customer.id)
    make_parcel(customer.id)
    make_parcel(customer.id, received=True, received_at=beijing(TODAY, 0, 5))
    make_parcel(customer.id, received=True, received_at=beijing(TODAY, 11, 59))
    # 23:30 yesterday in Beijing (15:30 UTC) is not today, though it is the same UTC day as
    # a time just after Beijing midnight (16:05 UTC).
    make_parcel(customer.id, received=True, received_at=beijing(TODAY - timedelta(days=1), 23, 30))
    # Received today but already bound to an order: the "received" list does not show it.
    make_parcel(customer.id, status="consolidated", received_at=beijing(TODAY, 9))
    unclaimed = add(
        app,
        UnclaimedParcel(tracking_no="YT1", weight_g=500),
        UnclaimedParcel(tracking_no="YT2", weight_g=500),
        UnclaimedParcel(tracking_no="YT3", weight_g=500, status="claimed"),
    )
    add(
        app,
        ParcelClaim(
            unclaimed_id=unclaimed[0], customer_id=customer.id, tracking_no="YT1", contents="书"
        ),
        ParcelClaim(
            unclaimed_id=unclaimed[1],
            customer_id=customer.id,
            tracking_no="YT2",
            contents="书",
            status="rejected",
        ),
    )
    ready = insert_orders(customer.id, 2, "pending_pack", parcels=2)[0]
    receive_parcels_of(app, ready, NOW)
    half = insert_orders(customer.id, 1, "pending_pack", parcels=2)[0]
    with app.app_context():
        order_id = db.session.query(Order.id).filter_by(order_no=half).scalar()
        first = db.session.query(OrderParcel).filter_by(order_id=order_id).first().parcel_id
        db.session.execute(update(Parcel).where(Parcel.id == first).values(received_at=NOW))
        db.session.commit()
    insert_orders(customer.id, 3, "awaiting_payment")
    insert_orders(customer.id, 1, "paid")
    insert_orders(customer.id, 2, "shipped")
    insert_orders(customer.id, 4, "delivered")
    insert_orders(customer.id, 1, "cancelled")
    return customer


EXPECTED = {
    "parcels_expected": 2,
    "received_today": 2,
    "unclaimed": 2,
    "pending_claims": 1,
    "ready_to_pack": 1,
    "awaiting_payment": 3,
    "paid": 1,
    "shipped": 2,
    "pending_recharges": 0,
}


def test_counts_of_each_queue(app, queues):
    with app.app_context():
        assert asdict(ops_dashboard.counts()) == EXPECTED


def test_the_page_shows_each_count(admin, queues):
    page = admin.get("/ops/")
    assert page.status_code == 200
    assert {key: tile(page, key) for key in EXPECTED} == EXPECTED


def test_a_released_parcel_does_not_hold_an_order_back(app, queues):
    """A cancelled order's released, unreceived parcel is not part of a live order."""
    with app.app_context():
        order = db.session.query(Order).filter_by(status="pending_pack").order_by(Order.id).all()
        waiting = order[1]
        db.session.execute(
            update(OrderParcel).where(OrderParcel.order_id == waiting.id).values(released_at=NOW)
        )
        db.session.commit()
        # No live parcel left unreceived: it is ready (an empty order cannot exist in practice).
        assert ops_dashboard.counts().ready_to_pack == 2


LINKS = {
    "parcels_expected": ("ops.parcels", "/ops/parcels?status=expected"),
    "received_today": ("ops.parcels", "/ops/parcels?status=received&received=today"),
    "unclaimed": ("ops.unclaimed", "/ops/unclaimed"),
    "pending_claims": ("ops.claims", "/ops/claims"),
    "ready_to_pack": ("ops.packing_queue", None),
    "awaiting_payment": ("ops.orders", "/ops/orders?status=awaiting_payment"),
    "paid": ("ops.shipping", None),
    "shipped": ("ops.orders", "/ops/orders?status=shipped"),
}


@pytest.mark.parametrize("role", ["admin", "warehouse", "finance", "service"])
def test_each_count_links_to_its_list_only_for_those_who_may_open_it(
    app, client, make_staff, clock, role
):
    login(client, make_staff(role))
    page = soup(client.get("/ops/"))
    with app.test_request_context():
        for key, (endpoint, path) in LINKS.items():
            link = page.find(attrs={"data-testid": f"count-{key}-link"})
            assert page.find(attrs={"data-testid": f"count-{key}"}) is not None
            if permissions.may_use(endpoint, {role}):
                args = dict(re.findall(r"(\w+)=(\w+)", path.partition("?")[2])) if path else {}
                assert link["href"] == url_for(endpoint, **args), key
            else:
                assert link is None, key


@pytest.fixture
def history(app, clock, make_customer, make_parcel, insert_orders):
    """Orders placed, parcels received and orders paid around Beijing midnights."""
    customer = make_customer()
    yesterday, first_of_7, first_of_30 = (TODAY - timedelta(days=n) for n in (1, 6, 29))
    placed = {
        beijing(TODAY, 0, 0): 1,  # exactly Beijing midnight: today
        beijing(yesterday, 23, 59): 1,
        beijing(TODAY, 10): 2,
        beijing(first_of_7, 0, 1): 1,
        beijing(first_of_7 - timedelta(days=1), 23, 59): 1,  # the day before the 7 days
        beijing(first_of_30, 8): 1,
        beijing(first_of_30 - timedelta(days=1), 8): 3,  # before the 30 days
    }
    numbers = insert_orders(customer.id, sum(placed.values()), "awaiting_payment")
    it = iter(numbers)
    order_ids = []
    for when, n in placed.items():
        for _ in range(n):
            order_ids.append(set_order(app, next(it), created_at=when, bill_fen=1_000))
    for when in (beijing(TODAY, 1), beijing(yesterday, 23, 30), beijing(first_of_30, 0, 0)):
        make_parcel(customer.id, received=True, received_at=when)
    make_parcel(customer.id)  # never received
    paid = [
        (order_ids[0], beijing(TODAY, 9), 12_345),
        (order_ids[1], beijing(yesterday, 23, 59), 50_000),
        (order_ids[2], beijing(TODAY, 0, 0), 655),
    ]
    for order_id, when, bill in paid:
        set_order_by_id(app, order_id, bill_fen=bill)
        add(
            app,
            OrderEvent(
                order_id=order_id, from_status="awaiting_payment", to_status="paid", created_at=when
            ),
        )
    # A packed (not paid) event does not count as revenue.
    add(
        app,
        OrderEvent(
            order_id=order_ids[3],
            from_status="pending_pack",
            to_status="awaiting_payment",
            created_at=beijing(TODAY, 2),
        ),
    )
    return customer


def set_order_by_id(app, order_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Order).where(Order.id == order_id).values(**values))
        db.session.commit()


def series(days: int, values: dict[date, int]) -> list[tuple[date, int]]:
    first = TODAY - timedelta(days=days - 1)
    return [
        (first + timedelta(days=i), values.get(first + timedelta(days=i), 0)) for i in range(days)
    ]


def test_seven_days_per_beijing_day_with_zero_days(app, history):
    yesterday = TODAY - timedelta(days=1)
    with app.app_context():
        trends = ops_dashboard.trends(7)
    assert trends.orders_placed == series(7, {TODAY: 3, yesterday: 1, TODAY - timedelta(days=6): 1})
    assert trends.parcels_received == series(7, {TODAY: 1, yesterday: 1})
    assert trends.revenue_fen == series(7, {TODAY: 12_345 + 655, yesterday: 50_000})


def test_thirty_days_start_29_days_back(app, history):
    first = TODAY - timedelta(days=29)
    with app.app_context():
        trends = ops_dashboard.trends(30)
    assert len(trends.orders_placed) == 30
    assert trends.orders_placed[0] == (first, 1)
    assert sum(v for _, v in trends.orders_placed) == 7
    assert trends.parcels_received[0] == (first, 1)
    assert sum(v for _, v in trends.parcels_received) == 3


def test_only_7_and_30_days_are_offered(app):
    with app.app_context(), pytest.raises(ValueError):
        ops_dashboard.trends(8)


def chart_svgs(response) -> dict[str, ET.Element]:
    """Each chart's <svg>, parsed as XML (which also proves it is well formed)."""
    text = response.get_data(as_text=True)
    found = {}
    for match in re.finditer(r'<figure class="ops-chart" id="chart-([a-z-]+)"', text):
        start = text.index("<svg", match.end())
        end = text.index("</svg>", start) + len("</svg>")
        found[match.group(1)] = ET.fromstring(text[start:end])  # noqa: S314 (our own page)
    return found


@pytest.mark.parametrize("days", [7, 30])
def test_each_chart_has_one_bar_or_point_per_day(admin, history, days):
    response = admin.get(f"/ops/?days={days}")
    assert response.status_code == 200
    svgs = chart_svgs(response)
    assert set(svgs) == {"orders-placed", "parcels-received", "revenue"}
    for name in ("orders-placed", "parcels-received"):
        bars = svgs[name].findall(f".//{SVG}rect")
        assert len(bars) == days
        assert [b.get("data-day") for b in bars] == [
            (TODAY - timedelta(days=days - 1 - i)).isoformat() for i in range(days)
        ]
    points = svgs["revenue"].findall(f".//{SVG}circle")
    assert len(points) == days
    assert int(points[-1].get("data-value")) == 13_000
    assert len(svgs["revenue"].findall(f".//{SVG}polyline")) == 1
    for svg in svgs.values():
        assert svg.find(f"{SVG}title").text and svg.find(f"{SVG}desc").text
    orders = [int(b.get("data-value")) for b in svgs["orders-placed"].findall(f".//{SVG}rect")]
    assert orders[-2:] == [1, 3]
    # The same numbers as a table for screen readers.
    table = soup(response).find(attrs={"data-testid": "chart-revenue-data"})
    cells = [row.find("td").get_text(strip=True) for row in table.find("tbody").find_all("tr")]
    assert len(cells) == days and cells[-1] == "130.00" and cells[-2] == "500.00"


def test_a_taller_bar_is_a_bigger_value(admin, history):
    svg = chart_svgs(admin.get("/ops/?days=7"))["orders-placed"]
    heights = {
        int(b.get("data-value")): float(b.get("height")) for b in svg.findall(f".//{SVG}rect")
    }
    assert heights[0] == 0 < heights[1] < heights[3]


def test_the_period_switch_answers_a_fragment_for_htmx(admin, history):
    response = admin.get("/ops/?days=30", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert "<html" not in body
    root = soup(response).find(id="dashboard-trends")
    assert root is not None and soup(response).find(id="dashboard-counts") is None
    switch = root.find(attrs={"data-testid": "period-30"})
    assert switch["aria-current"] == "page"
    seven = root.find(attrs={"data-testid": "period-7"})
    assert seven["href"] == seven["hx-get"] == "/ops/?days=7"
    assert seven["hx-push-url"] == "true"


BAD_PERIODS = ["8", "0", "-7", "07", "7.0", " 7", "30x", "abc", "", "9" * 40, "\x00", "七"]


@pytest.mark.parametrize("value", BAD_PERIODS)
def test_a_bad_period_is_refused_with_a_message(admin, clock, value):
    response = admin.get("/ops/", query_string={"days": value})
    assert response.status_code == 422
    page = soup(response)
    assert page.find(id="days-error").get_text(strip=True)
    assert len(chart_svgs(response)["orders-placed"].findall(f".//{SVG}rect")) == 7


def count_page_queries(app, client) -> int:
    with sql_statements(app) as statements:
        assert client.get("/ops/?days=30").status_code == 200
    return len(statements)


def test_the_page_costs_a_fixed_number_of_queries(app, admin, history, insert_orders, make_parcel):
    few = count_page_queries(app, admin)
    insert_orders(history.id, 20, "paid")
    for _ in range(10):
        make_parcel(history.id, received=True)
    assert count_page_queries(app, admin) == few
    assert few <= 12


def test_nice_steps():
    assert [nice_step(x) for x in (0, 0.3, 1, 1.1, 2.5, 4, 7, 11, 260)] == [
        1,
        1,
        1,
        2,
        5,
        5,
        10,
        20,
        500,
    ]
    assert nice_step(3, minimum=100) == 100
    assert nice_step(30_001, minimum=100) == 50_000


def test_a_chart_of_zeros_and_a_line_chart():
    days = [(TODAY - timedelta(days=i), 0) for i in range(6, -1, -1)]
    chart = build_chart(days)
    assert len(chart.bars) == 7 and all(bar.height == 0 for bar in chart.bars)
    assert [t.value for t in chart.ticks] == [0, 1]
    line = build_chart(
        [(d, v) for (d, _), v in zip(days, [0, 5, 0, 0, 0, 0, 10], strict=True)], "line"
    )
    assert len(line.points) == 7 and not line.bars
    assert line.points[-1].y == line.plot_bottom - (line.plot_bottom - line.plot_top) * 10 / 10
    assert [t.value for t in line.ticks] == [0, 5, 10]
    assert len(line.polyline.split()) == 7
    assert line.day_labels[-1].day == TODAY
    with pytest.raises(ValueError):
        build_chart(days, "pie")
