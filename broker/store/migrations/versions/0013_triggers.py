"""user_pools: triggers (Cognito's LambdaConfig) and the sealed trigger secret

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_pools') as batch:
        batch.add_column(sa.Column('lambda_config', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('trigger_secret', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_pools') as batch:
        batch.drop_column('trigger_secret')
        batch.drop_column('lambda_config')
