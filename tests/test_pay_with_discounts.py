"""The pay panel with coupons and a membership: the best coupon preselected, the discounts
line by line, another coupon chosen, and a bill that changed since the page was shown refused."""

from decimal import Decimal

from portal.extensions import db
from portal.models import Coupon, Order, User
from portal.services import ledger, memberships
from tests.helpers import post, soup
from tests.test_coupons import credit, give, template, tier, two_bills  # noqa: F401
from tests.test_pay_order_page import ATTEMPT, logged_in


def panel(page) -> dict[str, str]:
    found = soup(page).find(attrs={"data-testid": "pay-panel"})
    return {
        "to_pay": found.find(attrs={"data-testid": "pay-bill"})["data-fen"],
        "discounts": [
            d["data-code"] for d in found.find_all(attrs={"data-testid": "pay-discount"})
        ],
        "shown": found.find("input", attrs={"name": "shown"})["value"],
        "coupon": found.find("input", attrs={"name": "coupon"})["value"],
    }


def test_the_best_coupon_and_the_member_discount_are_paid_line_by_line(app, two_bills):  # noqa: F811
    account, ids = two_bills
    with app.app_context():
        memberships.buy(db.session.get(User, account.id), tier(discount_percent=Decimal(5)), "k")
        db.session.commit()
        small = give(account.id, template(value_fen=500, threshold_fen=0))
        big = give(account.id, template(value_fen=2000, threshold_fen=0))
        order_no = db.session.get(Order, ids[0]).order_no
    client = logged_in(app, account)
    page = client.get(f"/orders/{order_no}")
    shown = panel(page)
    # ¥100 base: 5 % member discount ¥5, then the ¥20 coupon.
    assert shown == {
        "to_pay": "7500",
        "discounts": ["MEMBER_DISCOUNT", "COUPON"],
        "shown": "7500",
        "coupon": str(big),
    }
    other = panel(client.get(f"/orders/{order_no}?coupon={small}"))
    assert (other["to_pay"], other["coupon"]) == ("9000", str(small))

    response = post(
        client,
        f"/orders/{order_no}/pay",
        {"attempt": ATTEMPT, "coupon": str(small), "shown": "9000"},
    )
    assert response.status_code == 303
    with app.app_context():
        order = db.session.get(Order, ids[0])
        assert (order.status, order.paid_fen) == ("paid", 9000)
        assert db.session.get(Coupon, small).used_order_id == order.id
        assert db.session.get(Coupon, big).used_order_id is None
        assert ledger.balance_fen(db.session.get(User, account.id)) == 100_000 - 19_900 - 9000
    page = client.get(f"/orders/{order_no}")
    codes = [li["data-code"] for li in soup(page).find_all(attrs={"data-testid": "compare-line"})]
    assert "MEMBER_DISCOUNT" in codes and "COUPON" in codes


def test_a_bill_changed_since_the_page_was_shown_is_not_paid(app, two_bills):  # noqa: F811
    account, ids = two_bills
    with app.app_context():
        cid = give(account.id, template(value_fen=1000, threshold_fen=0))
        order_no = db.session.get(Order, ids[0]).order_no
    client = logged_in(app, account)
    response = post(
        client,
        f"/orders/{order_no}/pay",
        {"attempt": ATTEMPT, "coupon": str(cid), "shown": "10000"},
    )
    assert response.status_code == 409
    assert "90.00" in soup(response).find(attrs={"data-testid": "pay-error"}).text
    assert panel(response)["to_pay"] == "9000"
    with app.app_context():
        assert db.session.get(Order, ids[0]).status == "awaiting_payment"
        assert db.session.get(Coupon, cid).used_order_id is None


def test_another_customers_coupon_is_refused_at_payment(app, two_bills, make_customer):  # noqa: F811
    account, ids = two_bills
    stranger = make_customer()
    with app.app_context():
        theirs = give(stranger.id, template(value_fen=1000, threshold_fen=0))
        order_no = db.session.get(Order, ids[0]).order_no
    client = logged_in(app, account)
    response = post(client, f"/orders/{order_no}/pay", {"attempt": ATTEMPT, "coupon": str(theirs)})
    assert response.status_code == 409
    assert "不是您的" in soup(response).find(attrs={"data-testid": "pay-error"}).text
    with app.app_context():
        assert db.session.get(Order, ids[0]).status == "awaiting_payment"
