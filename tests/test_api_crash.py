"""An operation that crashes answers AWS's ``InternalErrorException`` (500) in JSON, with
nothing of the failure in it, logs the trace on the server, and writes nothing."""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from broker import create_app, load_settings
from broker.api import registry
from broker.api.call import Call
from broker.store.db import Database
from broker.store.models import User
from broker.userpool import admin, app_clients
from tests.aws import CONTENT_TYPE, TARGET

PASSWORD = "Corr3ct-Horse!"


def test_crash_in_an_operation_is_an_internal_error_without_a_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path}/broker.db"
    Database(url).upgrade()
    settings = load_settings({"BROKER_BASE_URL": "http://localhost", "DATABASE_URL": url,
                              "BROKER_DATA_DIR": str(tmp_path), "BROKER_SECRET_KEY": "k" * 40})
    app = create_app(settings)
    db = app.extensions["broker"].db
    with db.session() as session:
        pool = admin.create_pool(session, "crash")
        client, _secret = app_clients.create_client(session, pool.id, "app", ["http://localhost:9000/cb"])
        session.commit()
        pool_id, client_id = pool.id, client.id

    def crash(call: Call, params: dict) -> dict:
        call.session.add(User(pool_id=pool_id, username="half-written", password_hash="x"))
        call.session.flush()
        raise RuntimeError("the secret detail of a crash")

    sign_up = registry.find(f"{TARGET}.SignUp")
    assert sign_up is not None
    monkeypatch.setitem(registry._OPERATIONS, ("cognito-idp", "SignUp"), dataclasses.replace(sign_up, handler=crash))
    with caplog.at_level(logging.ERROR, logger="broker.api"):
        r = app.test_client().post("/", data=f'{{"ClientId": "{client_id}", "Username": "alice"}}',
                                   headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"{TARGET}.SignUp"})
    assert r.status_code == 500
    assert r.headers["x-amzn-ErrorType"] == "InternalErrorException:" and r.content_type == CONTENT_TYPE
    assert json.loads(r.data)["__type"] == "InternalErrorException"
    assert "secret detail" not in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    logged = [rec for rec in caplog.records if rec.getMessage() == "unexpected error in SignUp"]
    assert logged and logged[0].exc_info is not None
    with db.session() as session:
        assert session.query(User).count() == 0
