"""app_clients.require_pkce: a public client may opt out of PKCE (for apps moving over from
Cognito, which does not require it); true for every existing client

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_pkce', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('app_clients', schema=None) as batch_op:
        batch_op.drop_column('require_pkce')
