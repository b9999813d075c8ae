"""The promotion center: the invite link and a poster whose QR code opens it, invitees with what
they earned, withdrawing rebates and entering an inviter; and the staff's rule screen."""

import io
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, LedgerTransaction, RebateRule, User
from portal.services import promotion, rebates
from portal.services.promotion import mask_login
from tests.conftest import run_together
from tests.helpers import BAD_AMOUNTS, HTMX, field_error, login, post, soup
from tests.test_rebates import REBATE, invited, pay, rule  # noqa: F401


@pytest.fixture
def earned(app, rule, invited):  # noqa: F811
    """An inviter (logged in) whose invitee paid one order at 5 %: (client, inviter, invitee)."""
    rule("5", "", "2")
    inviter, invitee, (order_id,) = invited()
    with app.app_context():
        pay(invitee, order_id)
    client = app.test_client()
    login(client, inviter)
    return client, inviter, invitee


def test_the_page_shows_the_link_the_code_and_what_was_earned(app, earned):
    client, inviter, invitee = earned
    page = client.get("/promo/")
    assert page.status_code == 200
    html = soup(page)
    link = html.find(attrs={"data-testid": "invite-link"}).get_text(strip=True)
    assert link.endswith(f"/auth/register?invite={inviter.invite_code}")
    assert html.find(attrs={"data-testid": "copy-link"})["data-copy-text"] == link
    assert html.find(attrs={"data-testid": "invitee-count"}).get_text(strip=True) == "1"
    assert html.find(attrs={"data-testid": "earned"})["data-fen"] == str(REBATE)
    rows = html.find_all(attrs={"data-testid": "invitee"})
    assert [row["data-fen"] for row in rows] == [str(REBATE)]
    assert mask_login(invitee.identifier) in rows[0].get_text()
    assert invitee.identifier not in page.get_data(as_text=True)
    assert html.find(attrs={"data-testid": "rebate-balance"})["data-fen"] == str(REBATE)


def test_the_poster_is_a_png_whose_qr_code_is_the_invite_link(app, earned):
    client, inviter, _ = earned
    response = client.get("/promo/poster.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert image.size == (750, 1200)
    decoded = [found.text for found in zxingcpp.read_barcodes(image)]
    assert decoded == [f"http://localhost/auth/register?invite={inviter.invite_code}"]
    download = client.get("/promo/poster.png?download=1")
    assert f"invite-{inviter.invite_code}.png" in download.headers["Content-Disposition"]


def test_the_poster_font_draws_chinese(app):
    """The system CJK font is found (CI installs fonts-noto-cjk): no tofu boxes on the poster."""
    from portal.services.invite_poster import font_file

    found = font_file()
    assert found is not None
    from PIL import ImageFont

    font = ImageFont.truetype(found[0], 40, index=found[1])
    assert " SC" in font.getname()[0]
    # A glyph the font really has is wider than the box a missing one would draw.
    assert font.getmask("邀").getbbox() != font.getmask("\U0010ffff").getbbox()


def test_mask_login_hides_the_middle():
    assert mask_login("13812345678") == "138****5678"
    assert mask_login("+8613812345678") == "138****5678"
    assert mask_login("alice@example.com") == "a***@example.com"


def test_the_promo_page_needs_a_login(client):
    assert client.get("/promo/").status_code == 302
    assert client.get("/promo/poster.png").status_code == 302


def withdraw(client, amount: str, key: str = "a" * 32, htmx: bool = False):
    return post(client, "/promo/withdraw", {"amount": amount, "key": key}, htmx=htmx)


def test_withdrawing_moves_the_money_and_a_resubmission_moves_nothing_more(app, earned):
    client, inviter, _ = earned
    assert withdraw(client, "3.00").status_code == 303
    assert withdraw(client, "3.00").status_code == 303
    with app.app_context():
        user = db.session.get(User, inviter.id)
        assert rebates.rebate_balance_fen(user) == REBATE - 300
        from portal.services import ledger

        assert ledger.balance_fen(user) == 300


@pytest.mark.parametrize("amount", [*BAD_AMOUNTS, "1.99", "6.18"])
def test_a_bad_withdrawal_is_422_with_the_message_beside_the_field(app, earned, amount):
    client, inviter, _ = earned
    response = withdraw(client, amount, htmx=True)
    assert response.status_code == 422
    assert field_error(response, "amount")
    assert soup(response).find(id="promo-withdraw") is not None
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.kind == "withdrawal")
            )
            == 0
        )


def test_a_withdrawal_with_a_forged_key_is_refused(app, earned):
    client, _, _ = earned
    response = withdraw(client, "3.00", key="not-a-key")
    assert response.status_code == 422
    assert soup(response).find(class_="form-errors", role="alert")


def bind(client, code: str):
    return post(client, "/promo/inviter", {"invite_code": code}, htmx=True)


def test_a_customer_without_an_inviter_enters_one(app, make_customer):
    inviter, newcomer = make_customer(), make_customer()
    client = app.test_client()
    login(client, newcomer)
    assert soup(client.get("/promo/")).find(attrs={"data-testid": "bind-form"})
    assert bind(client, inviter.invite_code.lower()).status_code == 204
    with app.app_context():
        assert db.session.get(User, newcomer.id).referred_by_id == inviter.id
    assert not soup(client.get("/promo/")).find(attrs={"data-testid": "bind-form"})
    assert bind(client, inviter.invite_code).status_code == 422


def test_own_code_a_cycle_and_an_unknown_code_are_refused(app, make_customer):
    first = make_customer()
    second = make_customer(invite_code=first.invite_code)
    third = make_customer(invite_code=second.invite_code)
    client = app.test_client()
    login(client, first)
    for code in (first.invite_code, second.invite_code, third.invite_code, "ZZZZ9999", "x" * 30):
        response = bind(client, code)
        assert response.status_code == 422, code
        assert field_error(response, "invite_code"), code
    with app.app_context():
        assert db.session.get(User, first.id).referred_by_id is None


def test_after_seven_days_no_inviter_can_be_entered(app, make_customer):
    inviter, late = make_customer(), make_customer()
    with app.app_context():
        user = db.session.get(User, late.id)
        user.created_at = user.created_at - timedelta(days=8)
        db.session.commit()
    client = app.test_client()
    login(client, late)
    assert not soup(client.get("/promo/")).find(attrs={"data-testid": "bind-form"})
    assert bind(client, inviter.invite_code).status_code == 422


@pytest.fixture
def finance_client(app, make_staff):
    client = app.test_client()
    login(client, make_staff("finance"))
    return client


def test_finance_puts_a_rule_in_force_and_it_is_audited(app, finance_client):
    page = finance_client.get("/ops/rebates")
    assert page.status_code == 200
    data = {"percent": "3.5", "duration_days": "180", "min_withdraw": "10"}
    assert post(finance_client, "/ops/rebates", data).status_code == 303
    with app.app_context():
        rule = db.session.scalar(select(RebateRule))
        assert (str(rule.percent), rule.duration_days, rule.min_withdraw_fen) == ("3.50", 180, 1000)
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "rebate_rule.save")
            )
            == 1
        )
    shown = soup(finance_client.get("/ops/rebates"))
    assert shown.find(id="rule-percent")["value"] == "3.5"
    assert shown.find(attrs={"data-testid": "rule-history"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("percent", "51"),
        ("percent", "-1"),
        ("percent", "1e1"),
        ("percent", "5.555"),
        ("duration_days", "0"),
        ("duration_days", "3651"),
        ("duration_days", "1.5"),
        ("min_withdraw", "0.99"),
        ("min_withdraw", "abc"),
    ],
)
def test_a_bad_rule_is_422_beside_the_field_and_nothing_is_saved(app, finance_client, field, value):
    data = {"percent": "5", "duration_days": "", "min_withdraw": "10", field: value}
    response = post(finance_client, "/ops/rebates", data, headers=HTMX)
    assert response.status_code == 422
    assert field_error(response, field)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RebateRule)) == 0


def test_warehouse_staff_may_not_change_the_rule(app, make_staff):
    client = app.test_client()
    login(client, make_staff("warehouse"))
    assert client.get("/ops/rebates").status_code == 403
    data = {"percent": "50", "duration_days": "", "min_withdraw": "1"}
    assert post(client, "/ops/rebates", data).status_code == 403


def test_two_customers_entering_each_others_code_at_once_make_no_cycle(app, make_customer):
    """PostgreSQL locks both user rows; SQLite's write transactions (BEGIN IMMEDIATE) queue."""
    first, second = make_customer(), make_customer()
    pairs = [(first, second), (second, first)]

    def enter(i: int):
        customer, inviter = pairs[i]
        promotion.bind_inviter(db.session.get(User, customer.id), inviter.invite_code)
        db.session.commit()
        return "bound"

    results = run_together(app, 2, enter)
    assert results.count("bound") == 1, [repr(r) for r in results]
    with app.app_context():
        inviters = {db.session.get(User, a.id).referred_by_id for a in (first, second)}
        assert None in inviters
