"""The home page: landing for visitors, warehouse address with the customer code once logged in."""

import pytest

from tests.helpers import login, soup


def test_visitor_sees_the_landing_page(client, make_warehouse):
    make_warehouse(name="深圳龙华仓")
    page = soup(client.get("/"))
    assert page.find(attrs={"data-testid": "customer-code"}) is None
    assert page.find("a", href="/auth/register") is not None
    assert "深圳龙华仓" in page.get_text()


def test_customer_sees_address_with_code_and_a_copy_button(client, make_customer, make_warehouse):
    make_warehouse()
    account = make_customer()
    login(client, account)
    page = soup(client.get("/"))
    code = account.customer_code
    card = page.find(attrs={"data-testid": "warehouse-address"})
    assert card.find(attrs={"data-testid": "recipient"}).get_text() == f"仓库收({code})"
    button = card.find("button", attrs={"data-copy-text": True})
    copied = button["data-copy-text"]
    assert f"收件人: 仓库收({code})" in copied
    assert f"详细地址: 民治街道测试路 1 号({code})" in copied
    assert "0755-88886666" in copied and "518131" in copied
    status = page.find(id=button["aria-describedby"])
    assert status["role"] == "status"
    for tile in ("parcel-counts", "order-counts", "wallet-summary"):
        assert page.find(id=tile) is not None


def test_inactive_warehouses_are_not_shown(app, client, make_customer, make_warehouse):
    make_warehouse(name="旧仓", is_active=False)
    login(client, make_customer())
    page = soup(client.get("/"))
    assert page.find(attrs={"data-testid": "warehouse-address"}) is None
    assert "暂无开放的仓库" in page.get_text()


def test_every_customer_gets_a_distinct_readable_code(app, make_customer):
    codes = {make_customer().customer_code for _ in range(30)}
    assert len(codes) == 30
    assert all(len(c) == 6 and not set(c) & set("01IO") for c in codes)


@pytest.mark.parametrize("who", ["visitor", "customer"])
def test_ops_is_invisible_to_visitors_and_customers(client, make_customer, who):
    if who == "customer":
        login(client, make_customer())
    assert client.get("/ops/").status_code == 404
    assert soup(client.get("/")).find("a", href="/ops/") is None


@pytest.mark.parametrize("role", ["admin", "warehouse", "finance", "service"])
def test_staff_reach_the_ops_dashboard(client, make_staff, role):
    login(client, make_staff(role))
    response = client.get("/ops/")
    assert response.status_code == 200
    assert soup(response).find(id="ops-dashboard") is not None
    assert soup(client.get("/")).find("a", href="/ops/") is not None


def test_home_counts_parcels_and_orders_and_offers_the_two_shortcuts(
    client, make_customer, make_parcel, insert_orders
):
    account, other = make_customer(), make_customer()
    for _ in range(2):
        make_parcel(account.id)
    make_parcel(account.id, received=True)
    make_parcel(other.id, received=True)
    insert_orders(account.id, count=3, status="awaiting_payment")
    insert_orders(other.id, count=1, status="paid")
    login(client, account)
    page = soup(client.get("/"))

    def tiles(grid_id: str) -> dict[str, str]:
        return {
            a["href"]: a.find(class_="n").get_text()
            for a in page.find(id=grid_id).find_all("a", class_="tile")
        }

    assert tiles("parcel-counts") == {
        "/parcels/?status=expected": "2",
        "/parcels/?status=received": "1",
        "/parcels/?status=consolidated": "3",  # one parcel in each inserted order
    }
    assert tiles("order-counts") == {
        "/orders/?status=pending_pack": "0",
        "/orders/?status=awaiting_payment": "3",
        "/orders/?status=paid": "0",
        "/orders/?status=shipped": "0",
    }
    assert page.find(attrs={"data-testid": "quick-order"})["href"] == "/orders/new"
    assert page.find(attrs={"data-testid": "register-parcel"})["href"] == "/parcels/new"
