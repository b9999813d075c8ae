"""Staff set-up by an admin: invitations (link shown once, SHA-256 stored, one use, 72 hours,
re-issue), roles, disabling, and the last active admin who can never be removed."""

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import StaffInvitation, User, utcnow
from portal.services import staff_admin
from portal.services.staff_admin import LastAdmin
from tests.conftest import run_together
from tests.finance_helpers import audit_entries
from tests.helpers import HTMX, field_error, login, post, soup
from tests.test_order_service import split

NEW_PASSWORD = "purple tiger umbrella"


@pytest.fixture
def admin(app, make_staff):
    client = app.test_client()
    client.account = make_staff("admin")
    assert login(client, client.account).status_code == 303
    return client


def invite(client, identifier="13812345678", roles=("warehouse", "service"), **kwargs):
    return post(client, "/ops/staff", {"identifier": identifier, "roles": list(roles)}, **kwargs)


def link_of(response) -> str:
    """The invitation link's path (shown once, on the answer of the invitation)."""
    node = soup(response).find(attrs={"data-testid": "invitation-link"})
    return urlsplit(node.get_text(strip=True)).path


def user_by_phone(app, phone: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == phone))
        user.role_names  # noqa: B018 (load the roles before leaving the session)
        db.session.expunge(user)
        return user


def accept(client, path, password=NEW_PASSWORD, confirm=None):
    data = {"password": password, "password_confirm": password if confirm is None else confirm}
    return post(client, path, data)


def roles_of(app, user_id: int) -> set[str]:
    with app.app_context():
        return db.session.get(User, user_id).role_names


def test_an_invitation_sets_the_password_and_logs_the_staff_member_in(app, admin):
    response = invite(admin)
    assert response.status_code == 200
    assert soup(response).find(attrs={"data-testid": "copy-invitation-link"})
    path = link_of(response)
    token = path.rsplit("/", 1)[1]
    user = user_by_phone(app, "+8613812345678")
    assert user.password_hash is None and user.role_names == {"warehouse", "service"}
    with app.app_context():
        (invitation,) = db.session.scalars(select(StaffInvitation)).all()
        assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert invitation.expires_at - utcnow() > timedelta(hours=71, minutes=59)
        assert invitation.created_by_id == admin.account.id
    rows = soup(admin.get("/ops/staff")).select("[data-testid=staff-row]")
    new_row = next(r for r in rows if r["data-user-id"] == str(user.id))
    assert new_row.find(attrs={"data-testid": "pending-badge"})

    newcomer = app.test_client()
    assert newcomer.get(path).status_code == 200
    refused = accept(newcomer, path, confirm="something else")
    assert (refused.status_code, bool(field_error(refused, "password_confirm"))) == (422, True)
    refused = accept(newcomer, path, password="password")
    assert (refused.status_code, bool(field_error(refused, "password"))) == (422, True)
    done = accept(newcomer, path)
    assert (done.status_code, done.headers["Location"]) == (303, "/ops/")
    assert newcomer.get("/ops/").status_code == 200
    assert newcomer.get("/ops/intake").status_code == 200
    assert newcomer.get("/ops/staff").status_code == 403
    assert [e.entity_id for e in audit_entries(app, "staff.invite")] == [str(user.id)]
    assert [e.actor_id for e in audit_entries(app, "staff.invitation_accept")] == [user.id]

    # Used once: the link is gone, the password stays, the password logs in.
    again = app.test_client().get(path)
    assert again.status_code == 410
    assert soup(again).find(attrs={"data-testid": "invitation-refused"})
    assert accept(app.test_client(), path, "another password 1").status_code == 410
    account = type("A", (), {"identifier": "13812345678", "password": NEW_PASSWORD})
    assert login(app.test_client(), account).status_code == 303


def test_reissued_expired_and_unknown_links_are_refused(app, admin):
    first = link_of(invite(admin))
    user = user_by_phone(app, "+8613812345678")
    again = post(admin, f"/ops/staff/{user.id}/invite", htmx=True)
    assert again.status_code == 200
    assert soup(again).find(id="staff-invitation")
    second = link_of(again)
    assert first != second
    assert app.test_client().get(first).status_code == 410
    assert app.test_client().get(second).status_code == 200
    assert [e.entity_id for e in audit_entries(app, "staff.reinvite")] == [str(user.id)]

    with app.app_context():
        db.session.execute(update(StaffInvitation).values(expires_at=utcnow() - timedelta(1)))
        db.session.commit()
    assert app.test_client().get(second).status_code == 410
    assert accept(app.test_client(), second).status_code == 410
    for path in ("/auth/invitation/" + "A" * 43, "/auth/invitation/short", "/auth/invitation/%00"):
        assert app.test_client().get(path).status_code == 404
    assert user_by_phone(app, "+8613812345678").password_hash is None


def test_a_login_that_has_an_account_cannot_be_invited(app, admin, make_customer, make_staff):
    """Logins are not verified: whoever registered the number would get into the console."""
    customer = make_customer("13900001111")
    staff = make_staff("warehouse")
    for identifier in ("139 0000 1111", staff.identifier):
        refused = invite(admin, identifier, ["admin"])
        assert refused.status_code == 422 and field_error(refused, "identifier")
    assert roles_of(app, customer.id) == set()
    assert roles_of(app, staff.id) == {"warehouse"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffInvitation)) == 0
    # A staff member with a password needs no new link.
    assert post(admin, f"/ops/staff/{staff.id}/invite").status_code == 422


@pytest.mark.parametrize(
    "identifier, roles, field",
    [
        ("", ["warehouse"], "identifier"),
        ("not a phone", ["warehouse"], "identifier"),
        ("a@b", ["warehouse"], "identifier"),
        ("13812345678", [], "roles"),
        ("13812345678", ["root"], "roles"),
        ("x" * 300 + "@example.com", ["warehouse"], "identifier"),
    ],
)
def test_bad_invitations_are_refused_beside_the_field(app, admin, identifier, roles, field):
    response = invite(admin, identifier, roles, htmx=True)
    assert response.status_code == 422
    assert soup(response).find(id="staff-invite") and soup(response).find("html") is None
    assert field_error(response, field)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_the_staff_list_and_its_fragment(app, admin, make_staff):
    other = make_staff("finance", "service")
    page = soup(admin.get("/ops/staff"))
    assert page.find(attrs={"data-testid": "nav-staff"})
    roles = {
        r["data-user-id"]: r.find(attrs={"data-testid": "staff-roles"})["data-roles"]
        for r in page.select("[data-testid=staff-row]")
    }
    assert roles == {str(admin.account.id): "admin", str(other.id): "finance service"}
    fragment = admin.get("/ops/staff", headers=HTMX)
    assert soup(fragment).find(id="staff-list") and soup(fragment).find("html") is None
    assert "HX-Request" in fragment.headers["Vary"]
    invited = invite(admin, htmx=True)
    assert invited.headers["HX-Trigger"] == "staffChanged"
    assert admin.get("/ops/staff/999999").status_code == 404


def test_roles_are_changed_and_audited(app, admin, make_staff, make_customer):
    member = make_staff("warehouse")
    page = soup(admin.get(f"/ops/staff/{member.id}"))
    assert page.find(attrs={"data-testid": "role-warehouse"}).has_attr("checked")
    done = post(admin, f"/ops/staff/{member.id}", {"roles": ["finance", "service"]})
    assert (done.status_code, done.headers["Location"]) == (303, f"/ops/staff/{member.id}")
    assert roles_of(app, member.id) == {"finance", "service"}
    (entry,) = audit_entries(app, "staff.roles")
    assert (entry.actor_id, entry.before, entry.after) == (
        admin.account.id,
        {"roles": ["warehouse"]},
        {"roles": ["finance", "service"]},
    )
    for roles in ([], ["root"]):
        refused = post(admin, f"/ops/staff/{member.id}", {"roles": roles}, htmx=True)
        assert refused.status_code == 422 and field_error(refused, "roles")
        assert soup(refused).find(id="staff-roles")
    assert roles_of(app, member.id) == {"finance", "service"}
    customer = make_customer()
    assert post(admin, f"/ops/staff/{customer.id}", {"roles": ["admin"]}).status_code == 404
    assert roles_of(app, customer.id) == set()


def test_disabling_ends_every_session_and_enabling_lets_them_back(app, admin, make_staff):
    member = make_staff("warehouse")
    theirs = app.test_client()
    login(theirs, member)
    assert theirs.get("/ops/").status_code == 200
    done = post(admin, f"/ops/staff/{member.id}/active", {"active": "0"})
    assert done.status_code == 303
    assert theirs.get("/ops/").status_code == 404
    assert login(app.test_client(), member).status_code == 422
    with app.app_context():
        assert db.session.get(User, member.id).session_version == 2
    assert post(admin, f"/ops/staff/{member.id}/active", {"active": "1"}).status_code == 303
    assert login(app.test_client(), member).status_code == 303
    actions = [e.action for e in audit_entries(app, "staff.disable")]
    actions += [e.action for e in audit_entries(app, "staff.enable")]
    assert actions == ["staff.disable", "staff.enable"]
    refused = post(admin, f"/ops/staff/{member.id}/active", {"active": "maybe"})
    assert refused.status_code == 422


def test_the_last_active_admin_cannot_be_demoted_or_disabled(app, admin, make_staff):
    me = admin.account.id
    refused = post(admin, f"/ops/staff/{me}", {"roles": ["warehouse"]}, htmx=True)
    assert refused.status_code == 409 and field_error(refused, "roles")
    assert post(admin, f"/ops/staff/{me}/active", {"active": "0"}).status_code == 422
    other = make_staff("admin")
    assert post(admin, f"/ops/staff/{other.id}/active", {"active": "0"}).status_code == 303
    # The other admin is disabled: I am the last active one.
    assert post(admin, f"/ops/staff/{me}", {"roles": ["service"]}).status_code == 409
    assert roles_of(app, me) == {"admin"}
    with app.app_context():
        actor = db.session.get(User, other.id)
        with pytest.raises(LastAdmin):
            staff_admin.set_active(actor, me, False)
        db.session.rollback()
    # Enabled again, the other admin may be left; then I may give up admin myself.
    assert post(admin, f"/ops/staff/{other.id}/active", {"active": "1"}).status_code == 303
    done = post(admin, f"/ops/staff/{me}", {"roles": ["service"]})
    assert (done.status_code, done.headers["Location"]) == (303, "/ops/")
    assert roles_of(app, me) == {"service"}


def test_an_admin_still_invited_does_not_count_until_they_set_a_password(app, admin):
    me = admin.account.id
    answer = invite(admin, "13812345678", ["admin"])
    assert answer.status_code == 200
    assert post(admin, f"/ops/staff/{me}", {"roles": ["service"]}).status_code == 409
    assert accept(app.test_client(), link_of(answer)).status_code == 303
    assert post(admin, f"/ops/staff/{me}", {"roles": ["service"]}).status_code == 303
    assert roles_of(app, me) == {"service"}


@pytest.mark.parametrize("act", ["demote", "disable"])
def test_two_admins_removing_each_other_at_once_leave_one(app, make_staff, act):
    admins = [make_staff("admin").id, make_staff("admin").id]

    def work(i: int):
        actor = db.session.get(User, admins[i])
        if act == "demote":
            staff_admin.change_roles(actor, admins[1 - i], ["service"])
        else:
            staff_admin.set_active(actor, admins[1 - i], False)
        db.session.commit()
        return i

    wins, losses = split(run_together(app, 2, work))
    assert len(wins) == 1 and isinstance(losses[0], LastAdmin)
    with app.app_context():
        active_admins = staff_admin._active_admins_after_lock()
        db.session.rollback()
    assert active_admins == {admins[wins[0]]}
