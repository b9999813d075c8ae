"""Helpers shared by the finance tests: a logged-in finance clerk (fixtures, loaded as a pytest
plugin by conftest.py), images, recharges waiting for review, balances."""

import io
import secrets
from datetime import datetime

import pytest
from PIL import Image
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, LedgerTransaction, Notification, User
from portal.services import images, ledger, recharges
from portal.services.ledger import Line
from tests.helpers import login


@pytest.fixture
def clerk(make_staff):
    return make_staff("finance")


@pytest.fixture
def finance(client, clerk):
    login(client, clerk)
    return client


def png(colour: str = "red", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def make_recharge(
    app,
    customer_id: int,
    amount_fen: int = 10_000,
    method: str = "bank_transfer",
    created_at: datetime | None = None,
) -> int:
    """A recharge with a receipt, waiting for review (submitted); returns its id."""
    with app.app_context():
        customer = db.session.get(User, customer_id)
        receipt = images.store_image(png(), "receipt")
        recharge, _ = recharges.submit_for_review(
            customer,
            method,
            amount_fen,
            receipt,
            secrets.token_hex(8),
            payer_name="张三",
            qr_channel="wechat" if method == "qr" else "",
        )
        if created_at is not None:
            recharge.created_at = created_at
        db.session.commit()
        return recharge.id


def credit(app, customer_id: int, fen: int) -> None:
    """Put money on a customer's balance directly through the ledger."""
    with app.app_context():
        customer = db.session.get(User, customer_id)
        ledger.post(
            "recharge",
            [
                Line(ledger.account("platform_bank"), -fen),
                Line(ledger.customer_balance(customer), fen),
            ],
            f"test-credit-{secrets.token_hex(8)}",
        )
        db.session.commit()


def balance(app, customer_id: int) -> int:
    with app.app_context():
        return ledger.balance_fen(db.session.get(User, customer_id))


def transactions(app, kind: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == kind)
        )


def notifications_of(app, user_id: int, kind: str) -> list[dict]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Notification.params)
                .where(Notification.user_id == user_id, Notification.kind == kind)
                .order_by(Notification.id)
            )
        )


def audit_entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )
        db.session.expunge_all()
        return entries
