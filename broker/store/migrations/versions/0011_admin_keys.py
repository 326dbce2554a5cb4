"""admin_keys: keys that sign calls to the admin and management API (SigV4), their
secrets sealed, optionally limited to some pools

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'admin_keys',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('secret_sealed', sa.Text(), nullable=False),
        sa.Column('description', sa.String(length=256), nullable=True),
        sa.Column('pools', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('admin_keys')
