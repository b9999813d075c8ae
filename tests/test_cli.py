"""`flask demo-data` and `flask create-staff`."""

from sqlalchemy import func, select

from portal.cli import DEMO_CUSTOMER, DEMO_STAFF
from portal.extensions import db
from portal.models import LedgerTransaction, PaymentSettings, User, UserRole, Warehouse
from portal.services import ledger
from tests.helpers import login, soup


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_demo_data_is_idempotent_and_its_logins_work(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-data"])
    assert first.exit_code == 0, first.output
    assert DEMO_CUSTOMER[0] in first.output and DEMO_CUSTOMER[1] in first.output
    assert DEMO_STAFF[0] in first.output and DEMO_STAFF[1] in first.output
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    assert count(app, User) == 2
    assert count(app, Warehouse) == 1
    assert count(app, PaymentSettings) == 1
    assert count(app, LedgerTransaction) == 1
    with app.app_context():
        demo = db.session.scalar(select(User).where(User.phone == "+86" + DEMO_CUSTOMER[0]))
        assert ledger.balance_fen(demo) == 30_000
        settings = db.session.scalar(select(PaymentSettings))
        assert settings.account_no and settings.wechat_qr_key and settings.alipay_qr_key

    customer = type("A", (), {"identifier": DEMO_CUSTOMER[0], "password": DEMO_CUSTOMER[1]})
    client = app.test_client()
    assert login(client, customer).status_code == 303
    assert soup(client.get("/")).find(attrs={"data-testid": "warehouse-address"}) is not None

    staff = type("A", (), {"identifier": DEMO_STAFF[0], "password": DEMO_STAFF[1]})
    staff_client = app.test_client()
    assert login(staff_client, staff).status_code == 303
    assert staff_client.get("/ops/").status_code == 200


def test_create_staff(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-staff",
            "--login",
            "ops@example.com",
            "--role",
            "warehouse",
            "--role",
            "finance",
        ],
        input="a staff passphrase\na staff passphrase\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ops@example.com"))
        assert user.role_names == {"warehouse", "finance"}


def test_create_staff_refuses_bad_input(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-staff", "--login", "not-an-email@", "--role", "admin"],
        input="a staff passphrase\na staff passphrase\n",
    )
    assert result.exit_code != 0
    assert "有效的邮箱" in result.output
    result = runner.invoke(
        args=["create-staff", "--login", "x@example.com", "--role", "janitor"],
        input="a staff passphrase\na staff passphrase\n",
    )
    assert result.exit_code != 0
    assert count(app, User) == 0


def test_init_admin_makes_the_first_administrator_once(app):
    runner = app.test_cli_runner()
    passphrase = "a staff passphrase\na staff passphrase\n"
    result = runner.invoke(args=["init-admin", "--login", "boss@example.com"], input=passphrase)
    assert result.exit_code == 0, result.output
    with app.app_context():
        boss = db.session.scalar(select(User).where(User.email == "boss@example.com"))
        assert boss.role_names == {"admin"}
    again = runner.invoke(args=["init-admin", "--login", "second@example.com"], input=passphrase)
    assert again.exit_code != 0 and "/ops/staff" in again.output
    assert count(app, User) == 1

    boss_login = type("A", (), {"identifier": "boss@example.com", "password": "a staff passphrase"})
    client = app.test_client()
    assert login(client, boss_login).status_code == 303
    assert client.get("/ops/").status_code == 200


def test_init_admin_refuses_a_weak_password_or_a_taken_login_and_works_without_a_usable_admin(
    app, make_customer, make_staff
):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["init-admin", "--login", "boss@example.com"], input="123\n123\n")
    assert weak.exit_code != 0
    customer = make_customer()
    taken = runner.invoke(
        args=["init-admin", "--login", customer.identifier],
        input="a staff passphrase\na staff passphrase\n",
    )
    assert taken.exit_code != 0
    assert count(app, UserRole) == 0
    admin = make_staff("admin")
    with app.app_context():
        db.session.get(User, admin.id).is_disabled = True
        db.session.commit()
    invited = make_staff("admin")
    with app.app_context():
        # An admin who has not chosen a password yet cannot log in either.
        db.session.get(User, invited.id).password_hash = None
        db.session.commit()
    back = runner.invoke(
        args=["init-admin", "--login", "boss@example.com"],
        input="a staff passphrase\na staff passphrase\n",
    )
    assert back.exit_code == 0, back.output


def test_demo_data_is_refused_in_production(db_url):
    from tests.conftest import make_app

    production = {
        "ENV_NAME": "production",
        "SECRET_KEY": "x" * 40,
        "PAYMENT_GATEWAY": "alipay",
        "WECHAT_LOGIN": "off",
        "WULIUTONG_LOGIN": "off",
    }
    app = make_app(db_url, **production)
    try:
        result = app.test_cli_runner().invoke(args=["demo-data"])
        assert result.exit_code != 0 and "init-admin" in result.output
        assert count(app, User) == 0
        assert count(app, Warehouse) == 0
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # its own pool: closed now, not by the garbage collector later
