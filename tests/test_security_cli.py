"""The account-security CLI (no server: it works on the database directly): pool security
settings, message templates, invitations without SMTP, forced reset, unlock and the audit
log, with bad input refused in one line, exit 2, nothing written. Plus the two pure rules
behind them: placeholder filling and the compromised-password list."""
from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest

from broker.userpool.messages import fill
from broker.userpool.password_rules import is_compromised
from tests.conftest import Broker
from tests.test_cli import _one_document, _refused, cli  # noqa: F401 (cli is a fixture)

PASSWORD = "Corr3ct-Horse!"


def new_pool(cli: Broker) -> str:
    return run_json(cli, "pool", "create", "--name", "security")["Id"]


@pytest.fixture(scope="module")
def pool(cli: Broker) -> str:
    return new_pool(cli)


def run(cli: Broker, *args: str) -> subprocess.CompletedProcess:
    return cli.cli(*args, check=False)


def run_all(cli: Broker, commands: list[tuple[str, ...]]) -> list[subprocess.CompletedProcess]:
    return [run(cli, *args) for args in commands]


def run_json(cli: Broker, *args: str) -> dict[str, Any]:
    return _one_document(run(cli, *args, "--json"))


def describe(cli: Broker, pool: str) -> dict[str, Any]:
    return run_json(cli, "pool", "describe", "--pool", pool)["UserPool"]


def test_pool_update_sets_security_settings_that_describe_shows(cli: Broker) -> None:
    pool = cli.pool()
    out = cli.cli_json("pool", "update", "--pool", pool, "--mfa", "OPTIONAL", "--lockout-threshold", "4",
                       "--lockout-seconds", "60", "--password-history", "3", "--no-compromised-check",
                       "--temp-password-days", "2", "--remember-devices-days", "30", "--adaptive", "medium=mfa")
    assert out["UserPool"] == describe(cli, pool)
    pool_info = out["UserPool"]
    assert pool_info["MfaConfiguration"] == "OPTIONAL" and pool_info["Issuer"] == f"{cli.base_url}/{pool}"
    assert pool_info["Security"] == {
        "LockoutThreshold": 4, "LockoutSeconds": 60, "PasswordHistorySize": 3, "CompromisedPasswordCheck": False,
        "TemporaryPasswordValidityDays": 2, "RememberDevicesDays": 30, "SrpEnabled": True,
        "AdaptivePolicy": {"LOW": "ALLOW", "MEDIUM": "MFA", "HIGH": "BLOCK"},
    }
    # settings not given stay as they are
    again = cli.cli_json("pool", "update", "--pool", pool, "--adaptive", "HIGH=MFA")["UserPool"]
    assert again["Security"]["LockoutThreshold"] == 4
    assert again["Security"]["AdaptivePolicy"] == {"LOW": "ALLOW", "MEDIUM": "MFA", "HIGH": "MFA"}
    events = cli.cli_json("events", "list", "--pool", pool)["Events"]
    assert [e["EventType"] for e in events] == ["UpdateUserPool", "UpdateUserPool", "CreateUserPool"]
    assert events[1]["Details"]["lockout_threshold"] == 4 and events[1]["Details"]["mfa"] == "OPTIONAL"


def test_linking_federated_users_by_email_is_off_until_the_pool_turns_it_on(cli: Broker) -> None:
    pool = cli.pool()
    assert describe(cli, pool)["LinkFederatedUsersByEmail"] is False
    on = cli.cli_json("pool", "update", "--pool", pool, "--link-by-email")["UserPool"]
    assert on["LinkFederatedUsersByEmail"] is True and on["Security"] == describe(cli, pool)["Security"]
    off = cli.cli_json("pool", "update", "--pool", pool, "--no-link-by-email")["UserPool"]
    assert off["LinkFederatedUsersByEmail"] is False


POOL_UPDATE_CASES = [
    (("--lockout-threshold", "0"), "lockout-threshold must be between 1 and 100"),
    (("--lockout-seconds", "86401"), "lockout-seconds must be between 1 and 86400"),
    (("--password-history", "25"), "password-history must be between 0 and 24"),
    (("--temp-password-days", "0"), "temp-password-days must be between 1 and 365"),
    (("--remember-devices-days", "366"), "remember-devices-days must be between 0 and 365"),
    (("--adaptive", "SEVERE=BLOCK"), "--adaptive takes LEVEL=ACTION"),
    (("--adaptive", "LOW=MAYBE"), "--adaptive takes LEVEL=ACTION"),
    (("--adaptive", "LOW"), "--adaptive takes LEVEL=ACTION"),
    (("--mfa", "MAYBE"), "--mfa"),
    (("--lockout-threshold", "many"), "--lockout-threshold"),
    ((), "give at least one setting to change"),
]


def test_bad_pool_update_exits_2_with_one_line_and_writes_nothing(cli: Broker, pool: str) -> None:
    before = describe(cli, pool)
    cases = [(("pool", "update", "--pool", pool, "--password-history", "5", *extra), expected)
             if extra else (("pool", "update", "--pool", pool), expected) for extra, expected in POOL_UPDATE_CASES]
    cases.append((("pool", "update", "--pool", "local_XXXXXXXXX", "--lockout-threshold", "3"),
                  "no user pool 'local_XXXXXXXXX'"))
    _refused(run_all(cli, [args for args, _ in cases]), cases)
    assert describe(cli, pool) == before


def test_message_templates_are_checked_and_can_go_back_to_the_default(cli: Broker, pool: str,
                                                                      tmp_path: Path) -> None:
    files = {"good": "Your code is {####}.", "nocode": "Hello {username}.", "pw": "{####} {password}",
             "invite": "Hi {username}, use {####}."}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    base = ("pool", "set-message", "--pool", pool)
    cases = [
        ((*base, "--kind", "verification", "--subject", "S", "--text-file", str(tmp_path / "nocode")),
         "the text message of a verification template must contain {####}"),
        ((*base, "--kind", "reset", "--subject", "S", "--text-file", str(tmp_path / "good"),
          "--html-file", str(tmp_path / "nocode")), "the html message of a reset template must contain {####}"),
        ((*base, "--kind", "reset", "--subject", "S", "--text-file", str(tmp_path / "pw")),
         "{password} is only for invitation messages"),
        ((*base, "--kind", "invitation", "--subject", "S", "--text-file", str(tmp_path / "good")),
         "must contain {username}"),
        ((*base, "--kind", "verification", "--subject", "two\nlines", "--text-file", str(tmp_path / "good")),
         "--subject must be one line"),
        ((*base, "--kind", "verification", "--subject", "x" * 141, "--text-file", str(tmp_path / "good")),
         "--subject must be one line of 1 to 140 characters"),
        ((*base, "--kind", "verification", "--subject", "S", "--text-file", str(tmp_path / "missing")),
         "cannot read text file"),
        ((*base, "--kind", "verification", "--subject", "S"), "give --subject and --text-file"),
        ((*base, "--kind", "verification", "--default", "--subject", "S"), "--default takes no"),
        ((*base, "--kind", "sms", "--subject", "S", "--text-file", str(tmp_path / "good")), "--kind"),
    ]
    _refused(run_all(cli, [args for args, _ in cases]), cases)
    assert all(t["Default"] for t in describe(cli, pool)["MessageTemplates"].values())

    invite = run_json(cli, *base, "--kind", "invitation", "--subject", "Welcome {username}",
                          "--text-file", str(tmp_path / "invite"))
    assert invite["Subject"] == "Welcome {username}" and invite["Text"] == files["invite"] and not invite["Default"]
    assert describe(cli, pool)["MessageTemplates"]["invitation"]["Default"] is False
    back = run_json(cli, *base, "--kind", "invitation", "--default")
    assert back["Default"] is True and back["Subject"] == "Your temporary password" and "{password}" in back["Text"]


def test_without_smtp_the_admin_gets_the_temporary_password_and_its_expiry(cli: Broker, pool: str) -> None:
    created = run_json(cli, "user", "create", "--pool", pool, "--username", "newbie", "--email", "newbie@example.com")
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD" and created["InvitationSentTo"] is None
    assert len(created["TemporaryPassword"]) >= 16 and not is_compromised(created["TemporaryPassword"])
    expires = dt.datetime.fromisoformat(created["TemporaryPasswordExpires"])
    days = describe(cli, pool)["Security"]["TemporaryPasswordValidityDays"]
    left = expires - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(days=days, minutes=-5) < left <= dt.timedelta(days=days)

    chosen = run_json(cli, "user", "create", "--pool", pool, "--username", "chosen", "--password", PASSWORD)
    assert chosen["UserStatus"] == "FORCE_CHANGE_PASSWORD" and "TemporaryPassword" not in chosen
    again = run_json(cli, "user", "resend-invitation", "--pool", pool, "--username", "newbie")
    assert again["TemporaryPassword"] != created["TemporaryPassword"]
    assert again["TemporaryPasswordExpires"] >= created["TemporaryPasswordExpires"]


def test_bad_user_security_commands_exit_2_with_one_line_and_write_nothing(cli: Broker, pool: str) -> None:
    run_json(cli, "user", "create", "--pool", pool, "--username", "steady", "--password", PASSWORD, "--confirmed")
    run_json(cli, "user", "create", "--pool", pool, "--username", "invited", "--email", "invited@example.com")
    before = run_json(cli, "user", "list", "--pool", pool)["Users"]
    cases = [
        (("user", "create", "--pool", pool, "--username", "leaky", "--password", "P@ssw0rd"),
         "Password must not be a commonly used or compromised password."),
        (("user", "reset-password", "--pool", pool, "--username", "invited"), "status FORCE_CHANGE_PASSWORD"),
        (("user", "resend-invitation", "--pool", pool, "--username", "steady"), "status CONFIRMED"),
        (("user", "unlock", "--pool", pool, "--username", "ghost"), "no user 'ghost'"),
        (("user", "reset-password", "--pool", "local_XXXXXXXXX", "--username", "steady"), "no user pool"),
        (("events", "list", "--pool", "local_XXXXXXXXX"), "no user pool 'local_XXXXXXXXX'"),
        (("events", "list", "--pool", pool, "--limit", "0"), "--limit"),
    ]
    _refused(run_all(cli, [args for args, _ in cases]), cases)
    assert run_json(cli, "user", "list", "--pool", pool)["Users"] == before


def test_admin_changes_are_listed_newest_first_per_user(cli: Broker) -> None:
    pool = new_pool(cli)
    run_json(cli, "user", "create", "--pool", pool, "--username", "ann", "--password", PASSWORD, "--confirmed")
    run_json(cli, "user", "create", "--pool", pool, "--username", "ben", "--password", PASSWORD, "--confirmed")
    reset = run_json(cli, "user", "reset-password", "--pool", pool, "--username", "ann")
    assert reset == {"Username": "ann", "UserStatus": "RESET_REQUIRED", "CodeSentTo": None, "RevokedSessions": 0}
    run_json(cli, "user", "unlock", "--pool", pool, "--username", "ann")
    run_json(cli, "user", "delete", "--pool", pool, "--username", "ben")

    ann = run_json(cli, "events", "list", "--pool", pool, "--user", "ANN")["Events"]
    assert [e["EventType"] for e in ann] == ["AdminUnlockUser", "AdminResetUserPassword", "AdminCreateUser"]
    assert all(e["Username"] == "ann" and e["EventResponse"] == "Pass" for e in ann)
    newest = run_json(cli, "events", "list", "--pool", pool, "--limit", "1")["Events"]
    assert [(e["EventType"], e["Username"]) for e in newest] == [("AdminDeleteUser", "ben")]


def test_placeholders_are_filled_once_and_escaped_in_html() -> None:
    values = {"username": "<b>&amp;", "####": "{username}"}
    assert fill("{username} {####} {0} %(x)s {unknown} {{username}}", values) == \
        "<b>&amp; {username} {0} %(x)s {unknown} {<b>&amp;}"
    assert fill("<p>{username}</p>", values, html=True) == "<p>&lt;b&gt;&amp;amp;</p>"
    assert fill("{password}", {}) == "{password}"


def test_compromised_check_is_an_exact_case_insensitive_match() -> None:
    assert is_compromised("P@ssw0rd") and is_compromised("PASSWORD") and is_compromised("p@ssw0rd")
    assert not is_compromised("P@ssw0rd-but-longer") and not is_compromised("Corr3ct-Horse!")
