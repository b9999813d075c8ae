"""table versions: write counters that cached pages compare

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 16:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'table_versions',
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_table_versions')),
    )


def downgrade():
    op.drop_table('table_versions')
