"""identity pools: pools, their identities and linked logins, and the keys of identities' OpenID tokens

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('alg', sa.String(length=8), nullable=False),
    sa.Column('private_jwk', sa.JSON(), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid')
    )
    op.create_table('identity_pools',
    sa.Column('id', sa.String(length=55), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('allow_unauthenticated', sa.Boolean(), nullable=False),
    sa.Column('allow_classic_flow', sa.Boolean(), nullable=False),
    sa.Column('login_providers', sa.JSON(), nullable=False),
    sa.Column('developer_provider', sa.String(length=128), nullable=True),
    sa.Column('oidc_providers', sa.JSON(), nullable=False),
    sa.Column('user_pools', sa.JSON(), nullable=False),
    sa.Column('saml_providers', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('role_mappings', sa.JSON(), nullable=False),
    sa.Column('principal_tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('identities',
    sa.Column('id', sa.String(length=55), nullable=False),
    sa.Column('pool_id', sa.String(length=55), nullable=False),
    sa.Column('merged_into', sa.String(length=55), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['identity_pools.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identities_pool_id'), ['pool_id'], unique=False)

    op.create_table('identity_logins',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('identity_id', sa.String(length=55), nullable=False),
    sa.Column('pool_id', sa.String(length=55), nullable=False),
    sa.Column('provider', sa.String(length=128), nullable=False),
    sa.Column('subject', sa.String(length=1024), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['identity_id'], ['identities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pool_id', 'provider', 'subject')
    )
    with op.batch_alter_table('identity_logins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_logins_identity_id'), ['identity_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('identity_logins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_logins_identity_id'))

    op.drop_table('identity_logins')
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identities_pool_id'))

    op.drop_table('identities')
    op.drop_table('identity_pools')
    op.drop_table('identity_keys')
