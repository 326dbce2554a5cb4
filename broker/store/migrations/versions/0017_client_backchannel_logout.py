"""OpenID Connect Back-Channel Logout 1.0: app_clients.backchannel_logout_url (where a
client is told of its users' sign-outs) and refresh_tokens.sid (the hosted sign-in session
a token family comes from, so that ID tokens minted at a refresh keep their ``sid``)

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backchannel_logout_url', sa.String(length=1024), nullable=True))
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sid', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('sid')
    with op.batch_alter_table('app_clients', schema=None) as batch_op:
        batch_op.drop_column('backchannel_logout_url')
