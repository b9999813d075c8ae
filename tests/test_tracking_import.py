"""Importing a carrier's tracking CSV: all rows or none, bad rows listed by line, no repeats."""

import io
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, TrackingEvent
from portal.services import tracking_import
from tests.helpers import post, soup
from tests.test_ops_packing import _shop as _packing_shop  # noqa: F401 (the `shop` fixture)
from tests.test_ops_packing import staff_client
from tests.test_ops_shipping import shipped_order

URL = "/ops/tracking/import"
GOOD = (
    "tracking number,time,place,description\n"
    "1Z0001,2025-01-02 10:30,Shenzhen,Handed to airline\n"
    "1z-0001,2025/01/03 08:00:15,LAX,Arrived\n"
    "1Z0002,2025-01-04 09:00,,Out for delivery\n"
)


def upload(client, text: str | bytes, name: str = "events.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return post(client, URL, {"file": (io.BytesIO(data), name)})


def events() -> list[tuple]:
    rows = db.session.execute(
        select(
            TrackingEvent.order_id,
            TrackingEvent.occurred_at,
            TrackingEvent.place,
            TrackingEvent.description,
        ).order_by(TrackingEvent.occurred_at)
    )
    return [tuple(r) for r in rows]


def two_shipped(app, shop, make_parcel) -> tuple[int, int]:
    first = shipped_order(app, shop, "1Z0001")
    other_parcel = make_parcel(shop.customer.id, received=True)
    second = shipped_order(app, replace(shop, received_id=other_parcel), "1Z0002")
    return first, second


def test_a_good_file_adds_every_event_and_a_second_import_adds_nothing(app, shop, make_parcel):
    first, second = two_shipped(app, shop, make_parcel)
    client = staff_client(app, shop.staff)
    assert soup(client.get(URL)).select_one("#file") is not None

    response = upload(client, GOOD)
    assert response.status_code == 303
    with app.app_context():
        assert events() == [
            (first, datetime(2025, 1, 2, 2, 30, tzinfo=UTC), "Shenzhen", "Handed to airline"),
            (first, datetime(2025, 1, 3, 0, 0, 15, tzinfo=UTC), "LAX", "Arrived"),
            (second, datetime(2025, 1, 4, 1, 0, tzinfo=UTC), "", "Out for delivery"),
        ]
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "tracking.import"))
        assert entry.actor_id == shop.staff.id
        assert entry.after == {"added": 3, "skipped": 0, "orders": 2}
    flash = soup(client.get(URL)).select_one("#flash").get_text()
    assert "3" in flash

    again = upload(client, GOOD)
    assert again.status_code == 303
    with app.app_context():
        assert len(events()) == 3
        latest = db.session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "tracking.import")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        assert latest.after == {"added": 0, "skipped": 3, "orders": 0}


def test_a_bom_chinese_headers_and_any_column_order_are_read(app, shop, make_parcel):
    first, _second = two_shipped(app, shop, make_parcel)
    client = staff_client(app, shop.staff)
    text = "描述,运单号,地点,时间\n已揽收,1Z0001,深圳,2025-01-02 10:30\n"
    response = upload(client, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert response.status_code == 303
    with app.app_context():
        assert events() == [(first, datetime(2025, 1, 2, 2, 30, tzinfo=UTC), "深圳", "已揽收")]


def test_a_file_without_a_header_is_read_in_the_usual_column_order(app, shop, make_parcel):
    first, _second = two_shipped(app, shop, make_parcel)
    client = staff_client(app, shop.staff)
    assert upload(client, "1Z0001,2025-01-02T10:30,深圳,已揽收\r\n\r\n").status_code == 303
    with app.app_context():
        assert [e[3] for e in events()] == ["已揽收"]


def test_every_bad_row_is_listed_by_line_and_nothing_is_written(app, shop, make_parcel):
    two_shipped(app, shop, make_parcel)
    client = staff_client(app, shop.staff)
    text = (
        "运单号,时间,地点,描述\n"  # line 1
        "1Z0001,2025-01-02 10:30,深圳,已揽收\n"  # 2: good
        "NOSUCH999,2025-01-02 10:30,深圳,已揽收\n"  # 3: unknown number
        "1Z0001,not a time,深圳,已揽收\n"  # 4: bad time
        "1Z0001,2025-01-02 11:30,深圳,\n"  # 5: no description
        "\n"  # 6: blank, skipped
        "1Z0002,2099-01-01 00:00,LA,Future\n"  # 7: in the future
        "!!,2025-01-02 10:30,深圳,x\n"  # 8: malformed number
        f"1Z0002,2025-01-02 10:30,{'x' * 101},x\n"  # 9: place too long
    )
    with app.app_context():
        audit_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    response = upload(client, text)
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one("#file")["aria-invalid"] == "true"
    assert page.select_one("#file-error")
    lines = [int(r["data-line"]) for r in page.select('[data-testid="row-error"]')]
    assert lines == [3, 4, 5, 7, 8, 9]
    messages = {
        int(r["data-line"]): r.get_text(" ", strip=True)
        for r in page.select('[data-testid="row-error"]')
    }
    assert "NOSUCH999" in messages[3]
    with app.app_context():
        assert events() == []
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_unreadable_files_are_refused(app, shop, make_parcel, monkeypatch):
    two_shipped(app, shop, make_parcel)
    client = staff_client(app, shop.staff)
    monkeypatch.setattr(tracking_import, "MAX_ROWS", 3)
    # A small limit: a test client's body over 500 KB is a temporary file it never closes.
    monkeypatch.setattr(tracking_import, "MAX_BYTES", 1_000)
    cases = [
        b"",
        b"   \n",
        "1Z0001,2025-01-02 10:30,深圳,已揽收\n".encode("gbk"),
        b"1Z0001,2025-01-02 10:30,x,\x00y\n",
        b"x" * 1_001,
        "运单号,时间\n1Z0001,2025-01-02 10:30\n".encode(),
        ("1Z0001,2025-01-02 10:30,x,y\n" * 4).encode(),
        b'1Z0001,"2025-01-02 10:30\n',
    ]
    for data in cases:
        response = upload(client, data)
        assert response.status_code == 422, data[:40]
        assert soup(response).select_one("#file-error"), data[:40]
    response = post(client, URL, {})
    assert response.status_code == 422
    with app.app_context():
        assert events() == []
