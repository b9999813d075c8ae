"""`flask payments reconcile`: ask the gateway about online recharges whose notification never came
(run it from cron every few minutes)."""

import click
from flask import Flask
from flask.cli import AppGroup

from portal.extensions import db
from portal.gateways.config import GatewayNotConfigured
from portal.services import online_payments


def register(app: Flask) -> None:
    """Add the `payments` command group to the app."""
    payments = AppGroup("payments", help="Online payments through the payment gateway.")

    @payments.command("reconcile")
    def reconcile_command() -> None:
        """Credit online recharges the gateway reports paid (each at most once)."""
        try:
            summary = online_payments.reconcile_pending()
        except GatewayNotConfigured as err:
            raise click.ClickException(str(err)) from err
        db.session.commit()
        click.echo(
            f"checked {summary.checked}, credited {summary.credited}, not paid {summary.unpaid},"
            f" failed {summary.failed}"
        )
        if summary.failed:
            raise SystemExit(1)

    app.cli.add_command(payments)
