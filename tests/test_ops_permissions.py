"""The ops permission table, checked against the URL map: every ops endpoint is declared, and for
each one visitors and customers get 404, each staff role gets in exactly where the table says."""

import pytest

from portal.models.user import STAFF_ROLES
from portal.ops import permissions
from tests.helpers import login
from tests.test_http import RULES

OPS_RULES = [r for r in RULES if r.endpoint.startswith("ops.")]
# Stand-in values for route arguments: an ops page given an unknown object answers 404 itself.
ARGUMENT_VALUES: dict[str, object] = {
    "parcel_id": 999999,
    "photo_id": 999999,
    "size": "thumb",
    "claim_id": 999999,
    "unclaimed_id": 999999,
    "order_id": 999999,
    "box_id": 999999,
    "kind": "label",
    "customer_id": 999999,
    "card_id": 999999,
    "channel_id": 999999,
    "recharge_id": 999999,
    "channel": "wechat",
    "template_id": 999999,
    "tier_id": 999999,
    "user_id": 999999,
    "warehouse_id": 999999,
    "service_id": 999999,
}
WHO = ("visitor", "customer", *STAFF_ROLES)


def url_for_rule(rule) -> str:
    unknown = rule.arguments - ARGUMENT_VALUES.keys()
    assert not unknown, f"teach test_ops_permissions these arguments: {unknown}"
    return rule.build({a: ARGUMENT_VALUES[a] for a in rule.arguments})[1]


def test_every_ops_endpoint_is_in_the_table_and_nothing_else():
    assert {r.endpoint for r in OPS_RULES} == set(permissions.PERMISSIONS)
    for endpoint, roles in permissions.PERMISSIONS.items():
        assert roles and roles <= set(STAFF_ROLES), endpoint


def log_in_as(client, make_customer, make_staff, who: str) -> set[str]:
    """Log the client in as `who`; return that user's roles."""
    if who == "customer":
        login(client, make_customer())
    elif who != "visitor":
        login(client, make_staff(who))
    return {who} & set(STAFF_ROLES)


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("rule", OPS_RULES, ids=[r.endpoint for r in OPS_RULES])
def test_each_ops_endpoint_answers_as_the_table_says(client, make_customer, make_staff, rule, who):
    roles = log_in_as(client, make_customer, make_staff, who)
    url = url_for_rule(rule)
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        status = client.open(url, method=method).status_code
        if not roles:
            assert status == 404, (method, url, who)
        elif roles & permissions.PERMISSIONS[rule.endpoint]:
            assert status not in (403, 404) or rule.arguments, (method, url, who, status)
        else:
            assert status == 403, (method, url, who, status)


def test_a_role_left_out_of_the_table_is_refused_with_403(app, make_staff, monkeypatch):
    """The gate reads the table: narrowing an entry refuses the other roles at once."""
    monkeypatch.setitem(permissions.PERMISSIONS, "ops.dashboard", frozenset({"finance"}))
    warehouse, both = app.test_client(), app.test_client()
    login(warehouse, make_staff("warehouse"))
    login(both, make_staff("finance", "warehouse"))
    refused = warehouse.get("/ops/")
    assert refused.status_code == 403
    assert "你没有执行此操作的权限。" in refused.get_data(as_text=True)
    assert both.get("/ops/").status_code == 200


def test_an_endpoint_missing_from_the_table_is_refused_to_every_role(
    client, make_staff, monkeypatch
):
    monkeypatch.delitem(permissions.PERMISSIONS, "ops.dashboard")
    login(client, make_staff(*STAFF_ROLES))
    assert client.get("/ops/").status_code == 403


def test_staff_may_send_several_photos_at_once_others_may_not(app, client, make_staff):
    """A body over the site-wide limit is read only for staff, after the gate has let them in."""
    body = {"csrf_token": "x", "blob": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}
    assert client.post("/ops/intake/unclaimed", data=body).status_code == 404
    login(client, make_staff("warehouse"))
    assert client.post("/ops/intake/unclaimed", data=body).status_code == 400  # the CSRF token
    assert client.post("/auth/login", data=body).status_code == 413
