"""The runner of the JavaScript client libraries (tests/node_peers.py): a scenario that fails
fails the test with Node's own words, and a machine without npm or Node fails instead of
skipping. (Questions and answers are exercised by tests/flows/test_api_node_clients.py.)"""
from __future__ import annotations

import shutil

import pytest

from tests import node_peers as peers
from tests.node_peers import NodePeers, node_peers  # noqa: F401 (node_peers is a fixture)


def test_a_failing_scenario_fails_the_test_with_nodes_stderr(node_peers: NodePeers) -> None:
    with pytest.raises(pytest.fail.Exception) as caught:
        node_peers.run("identity-js", "no_such_scenario", {})
    assert "exited 1" in str(caught.value) and "identity-js has no scenario no_such_scenario" in str(caught.value)


def test_a_library_error_reaches_the_test(node_peers: NodePeers) -> None:
    inputs = {"endpoint": "http://127.0.0.1:9/", "poolId": "not-a-pool-id", "clientId": "c", "username": "u",
              "password": "p"}
    with pytest.raises(pytest.fail.Exception) as caught:
        node_peers.run("identity-js", "sign_in", inputs)
    assert "Invalid UserPoolId format." in str(caught.value)


def test_missing_npm_fails_rather_than_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="npm is needed"):
        peers._tool("npm")
