"""What the cognito-idp JSON API needs: app_clients.secret_sealed (the client secret,
sealed: SECRET_HASH is keyed with it), app_clients.explicit_auth_flows (Cognito's
ExplicitAuthFlows; NULL = its defaults), users.srp_verifier (the sealed SRP salt and
verifier; NULL until the user's next password sign-in or change)

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_sealed', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('explicit_auth_flows', sa.JSON(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('srp_verifier', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('srp_verifier')
    with op.batch_alter_table('app_clients', schema=None) as batch_op:
        batch_op.drop_column('explicit_auth_flows')
        batch_op.drop_column('secret_sealed')
