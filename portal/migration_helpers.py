"""Steps several Alembic migrations share (imported by files in migrations/versions)."""

from alembic import op

from portal.models.ledger import SQLITE_GUARDS


def _one_of(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _sqlite_foreign_keys(on):
    """Switch SQLite's foreign keys; the pragma only takes effect outside a transaction."""
    with op.get_context().autocommit_block():
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def set_ledger_kinds(account_kinds, transaction_kinds):
    """Replace the CHECKs naming the ledger's kinds (SQLite rebuilds both tables for it)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Dropping a table other rows point to fails with foreign keys on, even deferred ones,
        # so rebuild with them off (SQLite's documented way) and check every row afterwards.
        _sqlite_foreign_keys(False)
    for table, kinds in (
        ("ledger_accounts", account_kinds),
        ("ledger_transactions", transaction_kinds),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_kind"), type_="check")
            batch_op.create_check_constraint(op.f(f"ck_{table}_kind"), _one_of("kind", kinds))
    if sqlite:
        # Rebuilding ledger_transactions dropped its append-only triggers with the old table.
        for name, sql in SQLITE_GUARDS.items():
            if name.startswith("ledger_transactions"):
                op.execute(sql)
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the ledger rebuild: {broken[:5]}")
        _sqlite_foreign_keys(True)
