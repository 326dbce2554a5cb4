"""devices.device_key, group_key, srp_verifier, name: Cognito's tracked devices of the
JSON API (NewDeviceMetadata, ConfirmDevice, DEVICE_SRP_AUTH); NULL for the hosted UI's
browsers, which are known by their cookie only

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('group_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('srp_verifier', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('name', sa.String(length=256), nullable=True))
        batch_op.create_index('ix_devices_device_key', ['device_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_device_key')
        batch_op.drop_column('name')
        batch_op.drop_column('srp_verifier')
        batch_op.drop_column('group_key')
        batch_op.drop_column('device_key')
