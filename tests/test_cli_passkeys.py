"""``broker pool update``'s sign-in policy and passkey options, and ``broker user passkeys
list|delete``: shown by ``pool describe`` as Cognito's SignInPolicy and WebAuthnConfiguration.
Bad input: one line, exit 2, nothing written. (Passkeys made by a browser are listed and
deleted in tests/flows/test_api_passkeys.py.)"""
from __future__ import annotations

import pytest

from tests.attestation_roots import write_root
from tests.conftest import Broker, broker_env, free_port
from tests.test_cli_pools import _refused

AAGUID = "08987058-cadc-4b81-b6e1-30de50dcbe96"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Broker:
    tmp = tmp_path_factory.mktemp("cli-passkeys")
    port = free_port()  # only for BROKER_BASE_URL: nothing listens there
    env = broker_env(tmp, f"sqlite:///{tmp}/cli.db", None, port)
    env["BROKER_PASSKEY_ATTESTATION_ROOTS"] = str(write_root(tmp / "roots.pem"))
    return Broker(base_url=f"http://127.0.0.1:{port}", env=env)


@pytest.fixture(scope="module")
def rootless(tmp_path_factory: pytest.TempPathFactory) -> Broker:
    tmp = tmp_path_factory.mktemp("cli-passkeys-rootless")
    port = free_port()
    return Broker(base_url=f"http://127.0.0.1:{port}", env=broker_env(tmp, f"sqlite:///{tmp}/cli.db", None, port))


def _shown(cli: Broker, pool: str) -> dict:
    found = cli.cli_json("pool", "describe", "--pool", pool)["UserPool"]
    return {"factors": found["SignInPolicy"]["AllowedFirstAuthFactors"], "passkeys": found["WebAuthnConfiguration"]}


def test_first_factors_and_passkey_settings_are_set_and_shown(cli):
    pool = cli.pool()
    assert _shown(cli, pool) == {"factors": ["PASSWORD"], "passkeys": {"UserVerification": "required"}}
    cli.cli("pool", "update", "--pool", pool, "--first-factor", "PASSWORD", "--first-factor", "WEB_AUTHN",
            "--first-factor", "SMS_OTP", "--passkey-rp-id", "auth.example.com", "--passkey-user-verification",
            "preferred", "--passkey-aaguid", AAGUID.upper())
    assert _shown(cli, pool) == {"factors": ["WEB_AUTHN", "PASSWORD", "SMS_OTP"], "passkeys": {
        "UserVerification": "preferred", "RelyingPartyId": "auth.example.com", "AllowedAaguids": [AAGUID]}}
    cli.cli("pool", "update", "--pool", pool, "--any-passkey-aaguid", "--passkey-rp-id", "")
    assert _shown(cli, pool)["passkeys"] == {"UserVerification": "preferred"}
    assert _shown(cli, pool)["factors"] == ["WEB_AUTHN", "PASSWORD", "SMS_OTP"]  # options not given stay


def test_bad_passkey_input_is_one_line_and_changes_nothing(cli):
    pool = cli.pool()
    cli.cli("pool", "update", "--pool", pool, "--first-factor", "PASSWORD", "--first-factor", "EMAIL_OTP")
    before = _shown(cli, pool)
    assert "PASSWORD" in _refused(cli, "pool", "update", "--pool", pool, "--first-factor", "EMAIL_OTP")
    assert "domain" in _refused(cli, "pool", "update", "--pool", pool, "--passkey-rp-id", "https://example.com/")
    assert "UUID" in _refused(cli, "pool", "update", "--pool", pool, "--passkey-aaguid", "yubikey")
    assert "UUID" in _refused(cli, "pool", "update", "--pool", pool, "--first-factor", "PASSWORD",
                              "--first-factor", "WEB_AUTHN", "--passkey-aaguid", "yubikey")
    assert _refused(cli, "pool", "update", "--pool", pool, "--first-factor", "PIGEON").startswith("error:")
    assert _shown(cli, pool) == before


def test_user_passkeys_lists_none_and_refuses_unknown_ones(cli):
    pool = cli.pool()
    cli.cli("user", "create", "--pool", pool, "--username", "ann", "--password", "Corr3ct-Horse!", "--confirmed")
    assert cli.cli_json("user", "passkeys", "list", "--pool", pool, "--username", "ann") == {"Credentials": []}
    assert "nobody" in _refused(cli, "user", "passkeys", "list", "--pool", pool, "--username", "nobody")
    assert "passkey" in _refused(cli, "user", "passkeys", "delete", "--pool", pool, "--username", "ann",
                                 "--credential-id", "AAAA").lower()


def test_an_aaguid_allow_list_needs_attestation_roots(rootless):
    """Without roots, any client could name any AAGUID: the allow-list is refused."""
    pool = rootless.pool()
    wrong = _refused(rootless, "pool", "update", "--pool", pool, "--first-factor", "PASSWORD", "--first-factor",
                     "WEB_AUTHN", "--passkey-aaguid", AAGUID)
    assert "BROKER_PASSKEY_ATTESTATION_ROOTS" in wrong
    assert _shown(rootless, pool) == {"factors": ["PASSWORD"], "passkeys": {"UserVerification": "required"}}


def test_a_bundle_that_is_no_pem_stops_the_server_from_starting(tmp_path):
    (tmp_path / "roots.pem").write_text("not a certificate")
    port = free_port()
    for path in (tmp_path / "roots.pem", tmp_path / "missing.pem"):
        env = {**broker_env(tmp_path, f"sqlite:///{tmp_path}/cli.db", None, port),
               "BROKER_PASSKEY_ATTESTATION_ROOTS": str(path)}
        result = Broker(base_url=f"http://127.0.0.1:{port}", env=env).cli("pool", "list", check=False)
        assert result.returncode != 0 and "BROKER_PASSKEY_ATTESTATION_ROOTS" in result.stderr


def test_further_passkey_origins_are_set_checked_shown_and_removed(cli):
    pool = cli.pool()
    cli.cli("pool", "update", "--pool", pool, "--passkey-rp-id", "example.com", "--passkey-origin",
            "https://App.example.com", "--passkey-origin", "https://example.com:8443/")
    assert _shown(cli, pool)["passkeys"]["AllowedOrigins"] == ["https://app.example.com", "https://example.com:8443"]
    before = _shown(cli, pool)
    for wrong in ("https://evil.com", "http://app.example.com", "https://app.example.com/path", "app.example.com",
                  "https://app.example.com?x=1"):
        assert "origin" in _refused(cli, "pool", "update", "--pool", pool, "--passkey-origin", wrong).lower()
    assert _shown(cli, pool) == before
    cli.cli("pool", "update", "--pool", pool, "--no-passkey-origins")
    assert "AllowedOrigins" not in _shown(cli, pool)["passkeys"]
