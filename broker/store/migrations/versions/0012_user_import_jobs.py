"""user_import_jobs: Cognito's user import jobs, their uploaded CSV and report

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_import_jobs',
        sa.Column('id', sa.String(length=55), nullable=False),
        sa.Column('pool_id', sa.String(length=55), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('role_arn', sa.String(length=2048), nullable=False),
        sa.Column('hashing_algorithm', sa.String(length=16), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('upload_expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('imported_users', sa.Integer(), nullable=False),
        sa.Column('skipped_users', sa.Integer(), nullable=False),
        sa.Column('failed_users', sa.Integer(), nullable=False),
        sa.Column('completion_message', sa.String(length=128), nullable=True),
        sa.Column('body', sa.LargeBinary(), nullable=True),
        sa.Column('report', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['pool_id'], ['user_pools.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_user_import_jobs_pool_id'), 'user_import_jobs', ['pool_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_user_import_jobs_pool_id'), table_name='user_import_jobs')
    op.drop_table('user_import_jobs')
