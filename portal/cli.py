"""Command-line tools: `flask init-admin`, `flask create-staff` and `flask demo-data`."""

from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from portal import demo_data
from portal.extensions import db
from portal.models import STAFF_ROLES, RateCard, User, UserRole, Warehouse
from portal.payments_cli import register as register_payments_cli
from portal.quote.cli import register as register_quote_cli
from portal.rates_cli import register as register_rates_cli
from portal.services import accounts, memberships
from portal.services.errors import DomainError
from portal.services.identifiers import parse_identifier
from portal.services.rate_sheets import import_rate_card

DEMO_CUSTOMER = ("13800138000", "demo-customer-2026")
DEMO_STAFF = ("admin@jiyun-demo.com", "demo-staff-2026")
DEMO_RATE_CARD = Path(__file__).resolve().parent.parent / "docs" / "examples" / "rate-card"
DEMO_WAREHOUSE = {
    "name": "深圳宝安集运仓",
    "contact_name": "集运仓",
    "phone": "0755-23456789",
    "region": "广东省深圳市宝安区",
    "address_line": "福永街道凤凰第一工业区 8 栋 3 楼",
    "postcode": "518103",
}


def register_cli(app: Flask) -> None:
    @app.cli.command("create-staff")
    @click.option("--login", "identifier", required=True, help="Mobile number or email.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--role", "roles", multiple=True, required=True, type=click.Choice(STAFF_ROLES))
    def create_staff(identifier: str, password: str, roles: tuple[str, ...]) -> None:
        """Create a staff user (or give an existing account staff roles)."""
        try:
            user = accounts.create_staff(identifier, password, list(roles))
        except DomainError as err:
            db.session.rollback()
            raise click.ClickException(str(err.message)) from err
        db.session.commit()
        click.echo(f"staff user {user.login_name} has roles: {', '.join(sorted(user.role_names))}")

    @app.cli.command("init-admin")
    @click.option("--login", "identifier", required=True, help="Mobile number or email.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    def init_admin(identifier: str, password: str) -> None:
        """Create the first administrator of an empty portal (refused while an active admin
        exists: add more staff at /ops/staff)."""
        if admin_exists():
            raise click.ClickException(
                "an administrator exists already; invite more staff at /ops/staff"
            )
        try:
            if accounts.find_user(parse_identifier(identifier)) is not None:
                raise click.ClickException("this login has an account already; choose another")
            user = accounts.create_staff(identifier, password, ["admin"])
        except DomainError as err:
            db.session.rollback()
            raise click.ClickException(str(err.message)) from err
        db.session.commit()
        click.echo(f"administrator {user.login_name} created; log in and open /ops/")

    @app.cli.command("demo-data")
    def demo_data() -> None:
        """Load demo data (idempotent) and print the demo logins; refused in production, where
        the demo accounts' published passwords would open the portal to anyone."""
        if app.config["ENV_NAME"] == "production":
            raise click.ClickException(
                "demo data is refused in production (PORTAL_ENV=production): start from empty "
                "with `flask init-admin`, as the README's production section says"
            )
        load_demo_data()
        db.session.commit()
        click.echo("Demo logins:")
        click.echo(f"  customer: {DEMO_CUSTOMER[0]} / {DEMO_CUSTOMER[1]}")
        click.echo(f"  staff:    {DEMO_STAFF[0]} / {DEMO_STAFF[1]}")

    @app.cli.command("memberships-daily")
    def memberships_daily() -> None:
        """Issue the monthly member coupons due and the reminders before memberships end (run
        it daily, from cron or a systemd timer; running it twice gives nothing twice)."""
        issued, reminded = memberships.run_daily()
        db.session.commit()
        click.echo(f"coupons issued: {issued}, reminders sent: {reminded}")

    register_rates_cli(app)
    register_quote_cli(app)
    register_payments_cli(app)


def admin_exists() -> bool:
    """Whether an admin can log in (when every admin has been disabled, or none has accepted
    their invitation yet, `flask init-admin` is the way back in)."""
    query = (
        select(UserRole.user_id)
        .join(User, User.id == UserRole.user_id)
        .where(UserRole.role == "admin", *accounts.CAN_LOG_IN)
        .limit(1)
    )
    return db.session.scalar(query) is not None


def load_demo_data() -> None:
    """A demo warehouse, customer (with parcels, an address and a declaration), staff user, rate
    card and packing services; running it twice changes nothing."""
    if db.session.scalar(select(Warehouse).where(Warehouse.name == DEMO_WAREHOUSE["name"])) is None:
        db.session.add(Warehouse(**DEMO_WAREHOUSE))
    demo_data.load_coupons_and_tiers()
    customer = db.session.scalar(select(User).where(User.phone == "+86" + DEMO_CUSTOMER[0]))
    if customer is None:
        customer = accounts.register_customer(*DEMO_CUSTOMER, locale="zh_CN")
    accounts.create_staff(DEMO_STAFF[0], DEMO_STAFF[1], list(STAFF_ROLES))
    if db.session.scalar(select(RateCard.id).limit(1)) is None:
        import_rate_card(DEMO_RATE_CARD)
    demo_data.load_packing_services()
    demo_data.load_customer_things(customer)
    demo_data.load_payment_settings()
    demo_data.load_rebate_rule()
    demo_data.load_opening_balance(customer)
    db.session.flush()
