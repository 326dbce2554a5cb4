"""app_clients.read_attributes and write_attributes: Cognito's per-client ReadAttributes
and WriteAttributes (NULL = the defaults)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_attributes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('write_attributes', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('app_clients', schema=None) as batch_op:
        batch_op.drop_column('write_attributes')
        batch_op.drop_column('read_attributes')
