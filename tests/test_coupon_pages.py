"""The coupon wallet page: coupons by state with what they give and where they were used,
claiming an offered coupon once, and redeeming a code (422 with the message beside the field)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import Coupon, CouponTemplate, Order, User, utcnow
from portal.services import coupons
from tests.helpers import HTMX, field_error, login, post, soup


def template(**fields) -> int:
    values = dict(
        name_zh="满50减10",
        name_en="¥10 off ¥50",
        kind="fixed",
        value_fen=1000,
        threshold_fen=5000,
        valid_days=30,
    )
    values.update(fields)
    row = CouponTemplate(**values)
    db.session.add(row)
    db.session.commit()
    return row.id


def give(customer_id: int, template_id: int) -> int:
    coupon = coupons.issue(
        db.session.get(CouponTemplate, template_id), db.session.get(User, customer_id), "staff"
    )
    db.session.commit()
    return coupon.id


def coupon_count(customer_id: int | None = None) -> int:
    query = select(func.count()).select_from(Coupon)
    if customer_id is not None:
        query = query.where(Coupon.customer_id == customer_id)
    return db.session.scalar(query)


@pytest.fixture
def customer(make_customer, client):
    account = make_customer()
    login(client, account)
    return account


def cards(response) -> dict[int, object]:
    return {
        int(card["data-coupon-id"]): card
        for card in soup(response).find_all(attrs={"data-testid": "coupon"})
    }


def text_of(card, testid: str) -> str | None:
    node = card.find(attrs={"data-testid": testid})
    return node.get_text(" ", strip=True) if node else None


# ---- the wallet ----------------------------------------------------------------------------------


@pytest.fixture
def one_of_each(app, customer, insert_orders):
    """Four coupons: usable, held by a live order, used on a paid order, and expired."""
    used_no, held_no = insert_orders(customer.id, count=2)
    with app.app_context():
        fixed = template(channels="US-EXP-DHL", countries="US,CA")
        percent = template(
            name_zh="八折券", name_en="20% off", kind="percent", value_fen=0, percent=20,
            cap_fen=3000, threshold_fen=0,
        )  # fmt: skip
        usable = give(customer.id, percent)
        held = give(customer.id, template(name_zh="持有券", name_en="Held one"))
        used = give(customer.id, fixed)
        expired = give(customer.id, template(name_zh="过期券", name_en="Old one"))
        orders = dict(db.session.execute(select(Order.order_no, Order.id)).all())
        now = utcnow()
        db.session.execute(
            update(Coupon).where(Coupon.id == held).values(holding_order_id=orders[held_no])
        )
        db.session.execute(
            update(Coupon)
            .where(Coupon.id == used)
            .values(used_order_id=orders[used_no], used_at=now, used_fen=1000)
        )
        db.session.execute(
            update(Coupon)
            .where(Coupon.id == expired)
            .values(valid_from=now - timedelta(days=40), valid_until=now - timedelta(days=10))
        )
        db.session.commit()
    return dict(
        usable=usable, held=held, used=used, expired=expired, used_no=used_no, held_no=held_no
    )


def test_each_tab_shows_the_coupons_in_that_state(client, one_of_each):
    c = one_of_each
    page = client.get("/coupons/")
    assert page.status_code == 200
    html = soup(page)
    assert html.find(attrs={"data-testid": "tab-usable"})["aria-current"] == "page"
    counts = {t: html.find(attrs={"data-testid": f"count-{t}"}).get_text(strip=True) for t in
              ("usable", "used", "expired")}  # fmt: skip
    assert counts == {"usable": "2", "used": "1", "expired": "1"}
    usable = cards(page)
    assert set(usable) == {c["usable"], c["held"]}
    # zh_CN is the default locale: the Chinese name, and the percent coupon's cap.
    assert text_of(usable[c["usable"]], "coupon-name") == "八折券"
    assert "20" in text_of(usable[c["usable"]], "coupon-gives")
    assert "30.00" in text_of(usable[c["usable"]], "coupon-gives")
    assert text_of(usable[c["held"]], "coupon-threshold").count("50.00") == 1
    assert c["held_no"] in text_of(usable[c["held"]], "coupon-held-by")
    assert text_of(usable[c["usable"]], "coupon-held-by") is None

    used = cards(client.get("/coupons/?tab=used"))
    assert set(used) == {c["used"]}
    card = used[c["used"]]
    assert c["used_no"] in text_of(card, "coupon-used-on")
    assert card.find("a", href=f"/orders/{c['used_no']}") is not None
    limits = " ".join(n.get_text() for n in card.find_all(attrs={"data-testid": "coupon-limit"}))
    assert "US-EXP-DHL" in limits

    expired = cards(client.get("/coupons/?tab=expired"))
    assert set(expired) == {c["expired"]}
    assert text_of(expired[c["expired"]], "coupon-name") == "过期券"


def test_the_valid_until_date_is_the_beijing_date(app, client, customer):
    with app.app_context():
        # 20:00 UTC is 04:00 the next day in Beijing.
        tid = template(valid_days=None, valid_until=utcnow().replace(hour=20) + timedelta(days=5))
        cid = give(customer.id, tid)
        beijing = db.session.get(Coupon, cid).valid_until + timedelta(hours=8)
    card = cards(client.get("/coupons/"))[cid]
    assert f"{beijing:%Y-%m-%d}" in text_of(card, "coupon-valid-until")


def test_english_readers_see_the_english_name(app, client, customer):
    with app.app_context():
        db.session.get(User, customer.id).locale = "en"
        cid = give(customer.id, template())
    card = cards(client.get("/coupons/"))[cid]
    assert text_of(card, "coupon-name") == "¥10 off ¥50"
    assert text_of(card, "coupon-gives") == "¥10.00 off"
    assert text_of(card, "coupon-threshold") == "Orders with at least ¥50.00 freight"


def test_a_tab_switch_from_htmx_is_the_wallet_fragment(client, one_of_each):
    response = client.get("/coupons/?tab=used", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    html = soup(response)
    assert html.find("html") is None
    assert html.find(id="coupon-wallet") is not None
    assert set(cards(response)) == {one_of_each["used"]}


def test_an_unknown_tab_shows_the_usable_coupons(client, one_of_each):
    html = soup(client.get("/coupons/?tab=nonsense"))
    assert html.find(attrs={"data-testid": "tab-usable"})["aria-current"] == "page"


# ---- claiming ------------------------------------------------------------------------------------


def claim_buttons(response) -> dict[int, object]:
    return {
        int(offer["data-template-id"]): offer.find(attrs={"data-testid": "claim-button"})
        for offer in soup(response).find_all(attrs={"data-testid": "offer"})
    }


def test_claiming_once_then_the_button_is_disabled_and_a_second_claim_refused(
    app, client, customer
):
    with app.app_context():
        tid = template(claimable=True)
    assert not claim_buttons(client.get("/coupons/"))[tid].has_attr("disabled")
    response = post(client, "/coupons/claim", {"template": str(tid)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/coupons/")
    page = client.get("/coupons/")
    assert claim_buttons(page)[tid].has_attr("disabled")
    assert len(cards(page)) == 1

    again = post(client, "/coupons/claim", {"template": str(tid)}, htmx=True)
    assert again.status_code == 422
    html = soup(again)
    assert html.find(id="coupon-claim") is not None
    assert html.find(id=f"claim-{tid}-error").get_text(strip=True)
    with app.app_context():
        assert coupon_count(customer.id) == 1


def test_a_claim_by_htmx_answers_hx_redirect(app, client, customer):
    with app.app_context():
        tid = template(claimable=True)
    response = post(client, "/coupons/claim", {"template": str(tid)}, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].endswith("/coupons/")


def test_an_exhausted_offer_has_a_disabled_button_and_refuses(app, client, customer, make_customer):
    other = make_customer()
    with app.app_context():
        tid = template(claimable=True, total_limit=1)
        give(other.id, tid)
    assert claim_buttons(client.get("/coupons/"))[tid].has_attr("disabled")
    response = post(client, "/coupons/claim", {"template": str(tid)}, htmx=True)
    assert response.status_code == 422
    assert soup(response).find(id=f"claim-{tid}-error") is not None
    with app.app_context():
        assert coupon_count(customer.id) == 0


@pytest.mark.parametrize("value", ["", "abc", "0", "-3", str(2**40), "999999"])
def test_claiming_a_template_that_is_not_offered_is_refused(app, client, customer, value):
    with app.app_context():
        template()  # exists, but not claimable
    response = post(client, "/coupons/claim", {"template": value}, htmx=True)
    assert response.status_code == 422
    assert soup(response).find(attrs={"data-testid": "claim-error"}).get_text(strip=True)
    with app.app_context():
        assert coupon_count() == 0


def test_a_not_claimable_template_id_is_refused(app, client, customer):
    with app.app_context():
        tid = template()
    response = post(client, "/coupons/claim", {"template": str(tid)}, htmx=True)
    assert response.status_code == 422
    with app.app_context():
        assert coupon_count() == 0


# ---- redeeming a code ----------------------------------------------------------------------------


def test_redeeming_a_good_code_adds_the_coupon(app, client, customer):
    with app.app_context():
        template(redeem_code="SPRING10")
    response = post(client, "/coupons/redeem", {"code": " spring10 "})
    assert response.status_code == 303
    with app.app_context():
        assert coupon_count(customer.id) == 1
    page = client.get("/coupons/")
    assert len(cards(page)) == 1
    assert soup(page).find(id="flash").get_text(strip=True)


@pytest.mark.parametrize("code", ["NOPE", "", "   ", "X" * 31])
def test_a_bad_code_is_422_with_the_message_beside_the_field(app, client, customer, code):
    with app.app_context():
        template(redeem_code="SPRING10")
    response = post(client, "/coupons/redeem", {"code": code}, htmx=True)
    assert response.status_code == 422
    assert field_error(response, "code")
    html = soup(response)
    assert html.find(id="coupon-redeem") is not None
    assert html.find("html") is None
    with app.app_context():
        assert coupon_count() == 0


def test_an_exhausted_code_is_refused_beside_the_field(app, client, customer, make_customer):
    other = make_customer()
    with app.app_context():
        give(other.id, template(redeem_code="ONLYONE", total_limit=1))
    response = post(client, "/coupons/redeem", {"code": "ONLYONE"})
    assert response.status_code == 422
    assert field_error(response, "code")
    assert soup(response).find("html") is not None  # a plain browser gets the whole page
    with app.app_context():
        assert coupon_count(customer.id) == 0


def test_a_code_already_redeemed_is_refused(app, client, customer):
    with app.app_context():
        template(redeem_code="ONCE")
    assert post(client, "/coupons/redeem", {"code": "ONCE"}).status_code == 303
    response = post(client, "/coupons/redeem", {"code": "ONCE"})
    assert response.status_code == 422
    assert field_error(response, "code")
    with app.app_context():
        assert coupon_count(customer.id) == 1


def test_a_post_without_a_csrf_token_is_refused(app, client, customer):
    with app.app_context():
        template(redeem_code="SPRING10")
    assert client.post("/coupons/redeem", data={"code": "SPRING10"}).status_code == 400
    with app.app_context():
        assert coupon_count() == 0


# ---- access --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [("get", "/coupons/"), ("post", "/coupons/claim"), ("post", "/coupons/redeem")],
)
def test_the_coupon_pages_need_a_login(client, method, path):
    response = post(client, path, {}) if method == "post" else client.get(path)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_the_account_page_links_to_coupons_and_membership(client, customer):
    html = soup(client.get("/account/"))
    assert html.find(attrs={"data-testid": "coupons-link"})["href"] == "/coupons/"
    assert html.find(attrs={"data-testid": "member-link"})["href"] == "/member/"
