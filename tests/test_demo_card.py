"""The demo rate card: what the issue asks it to cover, and the workbook equal to the CSV files."""

from collections import defaultdict

from portal.cli import DEMO_RATE_CARD
from portal.services.rate_sheets import card_summary, import_rate_card


def test_demo_card_covers_the_countries_and_service_levels(app):
    with app.app_context():
        card = import_rate_card(DEMO_RATE_CARD)
        active = [ch for ch in card.channels if ch.is_active]
        assert len(active) >= 30
        levels = defaultdict(set)
        for ch in active:
            for cz in ch.zones:
                for area in cz.zone.areas:
                    levels[area.country].add(ch.service_level)
        for country in ("US", "GB", "CA", "AU", "JP", "DE", "TW"):
            assert levels[country] == {"express", "standard", "economy"}, country
        assert any(ch.is_ddp for ch in active)
        assert any({"battery_in_equipment"} <= set(ch.category_codes) for ch in active)
        assert any(s.kind == "remote" for ch in active for s in ch.surcharges)
        flat = [r for ch in active for cz in ch.zones for r in cz.rows if r.first_g == r.max_incl_g]
        assert flat


def test_the_example_workbook_is_the_demo_card(app):
    with app.app_context():
        from_csv = card_summary(import_rate_card(DEMO_RATE_CARD))
        from_xlsx = card_summary(
            import_rate_card(DEMO_RATE_CARD.with_suffix(".xlsx"), version="xlsx-copy")
        )
        assert from_xlsx == from_csv
