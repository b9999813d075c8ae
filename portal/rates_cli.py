"""`flask rates import FILE` and `flask rates export FILE`: rate cards as spreadsheets."""

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from portal.extensions import db
from portal.models import RateCard
from portal.services.errors import DomainError
from portal.services.rate_sheets import RateSheetInvalid, export_rate_card, import_rate_card


def register(app: Flask) -> None:
    """Add the `rates` command group to the app."""
    rates = AppGroup("rates", help="Import and export rate cards (docs/rate-cards.md).")

    @rates.command("import")
    @click.argument("file", type=click.Path(exists=True, path_type=Path))
    @click.option("--version", "version", help="Import under this version instead of the file's.")
    def import_command(file: Path, version: str | None) -> None:
        """Check a rate sheet (.xlsx, .zip or folder of CSV files) and add it as a new card."""
        try:
            card = import_rate_card(file, version=version)
        except RateSheetInvalid as err:
            db.session.rollback()
            for problem in err.problems:
                click.echo(str(problem), err=True)
            click.echo(str(err.message), err=True)
            raise SystemExit(1) from None
        zones = sum(1 for zone in card.zones if zone.kind == "delivery")
        rows = sum(len(link.rows) for channel in card.channels for link in channel.zones)
        summary = (
            f"Imported rate card {card.version}: {len(card.channels)} channels, {zones} zones,"
            f" {len(card.zones) - zones} remote-area lists, {rows} rate rows."
        )
        db.session.commit()
        click.echo(summary)

    @rates.command("export")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--version", "version", help="The card to export (default: latest valid_from).")
    def export_command(file: Path, version: str | None) -> None:
        """Write a rate card as .xlsx, as a .zip of CSV files, or as a folder of them."""
        query = select(RateCard)
        if version is not None:
            query = query.where(RateCard.version == version)
        card = db.session.scalar(
            query.order_by(RateCard.valid_from.desc(), RateCard.id.desc()).limit(1)
        )
        if card is None:
            raise click.ClickException(
                f"No rate card {version}." if version else "There is no rate card yet."
            )
        try:
            export_rate_card(card, file)
        except DomainError as err:
            raise click.ClickException(str(err.message)) from err
        click.echo(f"Exported rate card {card.version} to {file}.")

    app.cli.add_command(rates)
