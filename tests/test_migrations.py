"""The Alembic migrations build exactly the schema the models describe, on both backends,
and upgrade a database that already holds data."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from broker.store.db import Database, alembic_config
from broker.store.models import Base


@pytest.fixture
def database(any_database_url):
    db = Database(any_database_url)
    yield db
    db.dispose()


def test_migrations_match_the_models(database):
    database.upgrade()
    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrade_keeps_existing_rows(database):
    command.upgrade(alembic_config(database.engine), "0001")
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO user_pools (id, name, mfa, self_signup, signing_alg, password_policy, "
                          "required_attributes, created_at) VALUES ('local_old', 'old', 'OFF', true, 'RS256', "
                          "'{}', '[]', CURRENT_TIMESTAMP)"))
    database.upgrade()
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT name, mfa_methods, security FROM user_pools WHERE id = 'local_old'")).one()
    assert row[0] == "old" and "TOTP" in str(row[1]) and str(row[2]) == "{}"
