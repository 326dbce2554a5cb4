"""risk indexes: a user's recent failed sign-ins and most recent devices, read at every sign-in

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_user_event_outcome_time', ['user_id', 'event', 'outcome', 'created_at'],
                              unique=False)
        batch_op.drop_index('ix_audit_events_user_event_time')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index('ix_devices_user_last_seen', ['user_id', 'last_seen'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_user_last_seen')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_user_event_time', ['user_id', 'event', 'created_at'], unique=False)
        batch_op.drop_index('ix_audit_events_user_event_outcome_time')
