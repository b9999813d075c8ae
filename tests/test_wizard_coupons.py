"""The wizard's coupon choice: the best coupon preselected in the review, another one or none
chosen, the estimate following the choice, and a coupon that cannot be used refused in words."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Coupon, Order
from tests.helpers import soup
from tests.test_coupons import give, template
from tests.test_wizard import dict_list, form_state, go, shop, walk_to_review  # noqa: F401


def estimate_lines(page) -> dict[str, str]:
    table = soup(page).find(attrs={"data-testid": "estimate"})
    return {
        row["data-line"]: row.find("td").text
        for row in table.find_all("tr", attrs={"data-line": True})
    }


def options(page) -> list[tuple[str, bool, bool]]:
    select_box = soup(page).find(attrs={"data-testid": "coupon-select"})
    return [
        (o["value"], o.has_attr("selected"), o.has_attr("disabled"))
        for o in select_box.find_all("option")
    ]


def test_the_best_coupon_is_preselected_and_applied_to_the_estimate(app, shop):  # noqa: F811
    with app.app_context():
        small = give(shop["account"].id, template(value_fen=300, threshold_fen=0))
        big = give(shop["account"].id, template(value_fen=900, threshold_fen=0))
        unusable = give(shop["account"].id, template(threshold_fen=9_999_900))
    review = walk_to_review(shop)
    assert (str(big), True, False) in options(review)
    assert (str(small), False, False) in options(review)
    assert (str(unusable), False, True) in options(review)
    assert estimate_lines(review)["COUPON"] == "¥-9.00"
    assert "需运费满" in soup(review).find("option", value=str(unusable)).text

    chosen = go(shop["client"], form_state(review, "coupon-form"), action="", coupon=str(small))
    assert estimate_lines(chosen)["COUPON"] == "¥-3.00"
    none = go(shop["client"], form_state(review, "coupon-form"), action="", coupon="none")
    assert "COUPON" not in estimate_lines(none)

    response = shop["client"].post("/orders/new", data=dict_list(form_state(chosen, "place-form")))
    assert response.status_code == 303
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert db.session.get(Coupon, small).holding_order_id == order.id
        assert db.session.get(Coupon, big).holding_order_id is None
        assert sum(x.amount_fen for x in order.charges("estimate") if x.code == "COUPON") == -300


def test_a_coupon_that_cannot_be_used_is_refused_beside_the_choice(app, shop):  # noqa: F811
    with app.app_context():
        unusable = give(shop["account"].id, template(threshold_fen=9_999_900))
    review = walk_to_review(shop)
    assert ("none", True, False) in options(review)
    forced = dict_list(form_state(review, "place-form"))
    forced["coupon"] = [str(unusable)]
    response = shop["client"].post("/orders/new", data=forced)
    assert response.status_code == 422
    error = soup(response).find(attrs={"data-testid": "step-error"}).text
    assert error.count("需运费满") == 1
    with app.app_context():
        assert db.session.scalar(select(Order)) is None
        assert db.session.get(Coupon, unusable).holding_order_id is None
