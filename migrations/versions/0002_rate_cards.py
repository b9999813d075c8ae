"""rate cards: channels, zones, rate rows, surcharges, duty rules

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:31:59.452882

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rate_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('valid_to IS NULL OR valid_to > valid_from', name=op.f('ck_rate_cards_dates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_cards')),
    sa.UniqueConstraint('version', name=op.f('uq_rate_cards_version'))
    )
    op.create_table('channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rate_card_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('carrier', sa.String(length=60), nullable=False),
    sa.Column('service_level', sa.String(length=10), nullable=False),
    sa.Column('transit_min_days', sa.Integer(), nullable=False),
    sa.Column('transit_max_days', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('volumetric_divisor', sa.Integer(), nullable=True),
    sa.Column('volumetric_min_side_cm', sa.Integer(), nullable=True),
    sa.Column('rounding_step_g', sa.Integer(), nullable=False),
    sa.Column('min_chargeable_g', sa.Integer(), nullable=False),
    sa.Column('min_charge_fen', sa.BigInteger(), nullable=False),
    sa.Column('max_piece_g', sa.Integer(), nullable=True),
    sa.Column('max_chargeable_g', sa.Integer(), nullable=True),
    sa.Column('max_longest_side_cm', sa.Integer(), nullable=True),
    sa.Column('max_girth_cm', sa.Integer(), nullable=True),
    sa.Column('over_limit_action', sa.String(length=10), nullable=False),
    sa.Column('categories', sa.String(length=200), nullable=False),
    sa.Column('is_ddp', sa.Boolean(), nullable=False),
    sa.Column('insurance_rate_bp', sa.Integer(), nullable=True),
    sa.Column('insurance_min_fen', sa.BigInteger(), nullable=False),
    sa.Column('insurance_max_fen', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("over_limit_action IN ('refuse', 'fee')", name=op.f('ck_channels_over_limit_action')),
    sa.CheckConstraint("service_level IN ('express', 'standard', 'economy')", name=op.f('ck_channels_service_level')),
    sa.CheckConstraint('min_charge_fen >= 0 AND insurance_min_fen >= 0', name=op.f('ck_channels_money')),
    sa.CheckConstraint('rounding_step_g > 0', name=op.f('ck_channels_rounding_step')),
    sa.CheckConstraint('transit_min_days > 0 AND transit_max_days >= transit_min_days', name=op.f('ck_channels_transit')),
    sa.CheckConstraint('volumetric_divisor IS NULL OR volumetric_divisor > 0', name=op.f('ck_channels_divisor')),
    sa.ForeignKeyConstraint(['rate_card_id'], ['rate_cards.id'], name=op.f('fk_channels_rate_card_id_rate_cards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels')),
    sa.UniqueConstraint('rate_card_id', 'code', name=op.f('uq_channels_rate_card_id_code'))
    )
    op.create_table('duty_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rate_card_id', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('rate_bp', sa.Integer(), nullable=False),
    sa.Column('de_minimis_fen', sa.BigInteger(), nullable=False),
    sa.Column('basis', sa.String(length=15), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint("basis IN ('goods', 'goods_freight')", name=op.f('ck_duty_rules_basis')),
    sa.CheckConstraint('rate_bp >= 0 AND de_minimis_fen >= 0', name=op.f('ck_duty_rules_amounts')),
    sa.ForeignKeyConstraint(['rate_card_id'], ['rate_cards.id'], name=op.f('fk_duty_rules_rate_card_id_rate_cards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_rules'))
    )
    op.create_table('rate_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rate_card_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.CheckConstraint("kind IN ('delivery', 'remote')", name=op.f('ck_rate_zones_kind')),
    sa.ForeignKeyConstraint(['rate_card_id'], ['rate_cards.id'], name=op.f('fk_rate_zones_rate_card_id_rate_cards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_zones')),
    sa.UniqueConstraint('rate_card_id', 'kind', 'code', name=op.f('uq_rate_zones_rate_card_id_kind_code'))
    )
    op.create_table('channel_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('transit_min_days', sa.Integer(), nullable=True),
    sa.Column('transit_max_days', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_zones_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['zone_id'], ['rate_zones.id'], name=op.f('fk_channel_zones_zone_id_rate_zones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_zones')),
    sa.UniqueConstraint('channel_id', 'zone_id', name=op.f('uq_channel_zones_channel_id_zone_id'))
    )
    with op.batch_alter_table('channel_zones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_zones_zone_id'), ['zone_id'], unique=False)

    op.create_table('rate_zone_areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('postcode', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['rate_zones.id'], name=op.f('fk_rate_zone_areas_zone_id_rate_zones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_zone_areas'))
    )
    with op.batch_alter_table('rate_zone_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_zone_areas_zone_id'), ['zone_id'], unique=False)

    op.create_table('surcharges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('remote_zone_id', sa.Integer(), nullable=True),
    sa.Column('categories', sa.String(length=200), nullable=False),
    sa.Column('percent_bp', sa.Integer(), nullable=True),
    sa.Column('per_kg_fen', sa.BigInteger(), nullable=True),
    sa.Column('min_fen', sa.BigInteger(), nullable=True),
    sa.Column('flat_fen', sa.BigInteger(), nullable=True),
    sa.Column('per_piece_fen', sa.BigInteger(), nullable=True),
    sa.Column('refuse', sa.Boolean(), nullable=False),
    sa.Column('fuel_applies', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint("kind IN ('remote', 'fuel', 'sensitive', 'oversize', 'handling')", name=op.f('ck_surcharges_kind')),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_surcharges_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['remote_zone_id'], ['rate_zones.id'], name=op.f('fk_surcharges_remote_zone_id_rate_zones')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surcharges'))
    )
    with op.batch_alter_table('surcharges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_surcharges_channel_id'), ['channel_id'], unique=False)

    op.create_table('rate_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_zone_id', sa.Integer(), nullable=False),
    sa.Column('min_excl_g', sa.Integer(), nullable=False),
    sa.Column('max_incl_g', sa.Integer(), nullable=False),
    sa.Column('first_g', sa.Integer(), nullable=False),
    sa.Column('first_price_fen', sa.BigInteger(), nullable=False),
    sa.Column('unit_g', sa.Integer(), nullable=False),
    sa.Column('unit_price_fen', sa.BigInteger(), nullable=False),
    sa.Column('parcel_fee_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('first_g >= 0 AND unit_g > 0', name=op.f('ck_rate_rows_steps')),
    sa.CheckConstraint('first_price_fen >= 0 AND unit_price_fen >= 0 AND parcel_fee_fen >= 0', name=op.f('ck_rate_rows_prices')),
    sa.CheckConstraint('min_excl_g >= 0 AND max_incl_g > min_excl_g', name=op.f('ck_rate_rows_band')),
    sa.ForeignKeyConstraint(['channel_zone_id'], ['channel_zones.id'], name=op.f('fk_rate_rows_channel_zone_id_channel_zones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_rows'))
    )
    with op.batch_alter_table('rate_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_rows_channel_zone_id'), ['channel_zone_id'], unique=False)



def downgrade():
    with op.batch_alter_table('rate_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_rows_channel_zone_id'))

    op.drop_table('rate_rows')
    with op.batch_alter_table('surcharges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surcharges_channel_id'))

    op.drop_table('surcharges')
    with op.batch_alter_table('rate_zone_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_zone_areas_zone_id'))

    op.drop_table('rate_zone_areas')
    with op.batch_alter_table('channel_zones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_zones_zone_id'))

    op.drop_table('channel_zones')
    op.drop_table('rate_zones')
    op.drop_table('duty_rules')
    op.drop_table('channels')
    op.drop_table('rate_cards')
