"""Caches behind the quote: the card in force per process, and rendered fragments."""

from datetime import date

from portal.cli import DEMO_RATE_CARD
from portal.extensions import db
from portal.models import RateCard
from portal.quote.fragment_cache import FragmentCache, fragments
from portal.services import rate_cards
from portal.services.rate_sheets import import_rate_card
from tests.helpers import soup

URL = "/quote?country=US&postcode=10001&weight=1.2"
HX = {"HX-Request": "true"}


def load_demo_card(app) -> None:
    with app.app_context():
        import_rate_card(DEMO_RATE_CARD)
        db.session.commit()


def totals(response) -> list[str]:
    return [li["data-total"] for li in soup(response).select("[data-testid=offer]")]


def test_a_fragment_is_rendered_once_and_served_from_the_cache(app, client, monkeypatch):
    load_demo_card(app)
    first = client.get(URL, headers=HX)
    assert first.status_code == 200 and totals(first)
    monkeypatch.setattr(
        "portal.quote.views.quotes.quote_all", lambda *a: (_ for _ in ()).throw(AssertionError)
    )
    second = client.get(URL, headers=HX)
    assert second.get_data() == first.get_data()
    assert "HX-Request" in second.headers["Vary"]


def test_full_pages_and_other_languages_are_not_served_from_the_fragment_cache(app, client):
    load_demo_card(app)
    client.get(URL, headers=HX)
    assert b"<html" in client.get(URL).get_data()
    client.set_cookie("lang", "en")
    english = client.get(URL, headers=HX).get_data(as_text=True)
    assert "Price details" in english


def test_an_edited_card_is_seen_once_the_in_force_lookup_expires(app, client, monkeypatch):
    load_demo_card(app)
    before = totals(client.get(URL, headers=HX))
    with app.app_context():
        card = db.session.query(RateCard).one()
        for channel in card.channels:
            for link in channel.zones:
                for row in link.rows:
                    row.first_price_fen += 1_000
        card.revision += 1
        db.session.commit()
    assert totals(client.get(URL, headers=HX)) == before  # still within IN_FORCE_SECONDS
    clock = rate_cards.time.monotonic() + rate_cards.IN_FORCE_SECONDS + 1
    monkeypatch.setattr(rate_cards.time, "monotonic", lambda: clock)
    after = totals(client.get(URL, headers=HX))
    assert after != before and len(after) == len(before)


def test_the_fragment_cache_keeps_the_most_recent_entries():
    cache = FragmentCache(size=2)
    cache.put(("a",), b"A", 200)
    cache.put(("b",), b"B", 200)
    assert cache.get(("a",)) == (b"A", 200)
    cache.put(("c",), b"C", 422)
    assert cache.get(("b",)) is None
    assert cache.get(("a",)) == (b"A", 200) and cache.get(("c",)) == (b"C", 422)


def test_no_card_in_force_is_remembered_too(app):
    with app.app_context():
        assert rate_cards.in_force_key(date(2026, 11, 22)) is None
        assert rate_cards.channels_in_force(date(2026, 11, 22)) == ()
    fragments.clear()
