"""Where the CLI and the server keep their files: one data directory, resolved once
(broker.config.load_settings): ``--data-dir``, else ``BROKER_DATA_DIR``, else the checkout's
``var/`` when the broker runs from a checkout, else ``$XDG_DATA_HOME/cognate``; never a new
``./var`` in whatever directory a command happens to run from."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from broker.config import load_settings, running_checkout
from broker.demo import DemoPool
from broker.errors import InvalidInput
from tests.conftest import BROKER, ROOT, _wait_port, broker_env, cli_in_process, free_port


def _installed_copy(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """``broker`` as an installed copy runs it (a wheel's files, outside any checkout and
    any virtualenv): the package copied to a folder of its own, run by the base interpreter
    with this virtualenv's dependencies on its path."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "broker", site / "broker", ignore=shutil.ignore_patterns("__pycache__"))
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL", "XDG_"))}
    env.update({"PYTHONPATH": f"{site}{os.pathsep}{sysconfig.get_paths()['purelib']}", "PYTHONNOUSERSITE": "1",
                "HOME": str(tmp_path / "home")})
    return [str(python), "-c", "from broker.cli import main; main()"], env


def _run(command: list[str], env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([*command, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_an_installed_broker_finds_its_data_from_any_directory(tmp_path):
    command, env = _installed_copy(tmp_path)
    xdg = {**env, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    made = _run(command, xdg, tmp_path / "one", "pool", "create", "--name", "kept", "--json")
    assert made.returncode == 0, made.stderr
    pool_id = json.loads(made.stdout)["Id"]
    listed = _run(command, xdg, tmp_path / "two", "pool", "list", "--json")
    assert [p["Id"] for p in json.loads(listed.stdout)["UserPools"]] == [pool_id]
    assert (tmp_path / "xdg" / "cognate" / "broker.db").is_file()
    assert not (tmp_path / "one" / "var").exists() and not (tmp_path / "two" / "var").exists()

    # Without XDG_DATA_HOME (or with a relative one, which the specification says to ignore):
    # ~/.local/share/cognate, and an empty list says where it looked.
    for extra in ({}, {"XDG_DATA_HOME": "relative/data"}):
        empty = _run(command, {**env, **extra}, tmp_path / "three", "pool", "list", "--json")
        assert empty.returncode == 0 and json.loads(empty.stdout) == {"UserPools": []}
        where = tmp_path / "home" / ".local" / "share" / "cognate"
        assert empty.stderr == f"no pool yet in {where}: broker pool create --name NAME\n"
    assert not (tmp_path / "three" / "relative").exists()


def test_the_checkout_keeps_its_data_in_its_var_folder(tmp_path, monkeypatch):
    assert running_checkout() == ROOT
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.data_dir == str(ROOT / "var")
    assert settings.database_url == f"sqlite:///{ROOT / 'var' / 'broker.db'}"
    # BROKER_DATA_DIR wins, resolved against the working directory once; BROKER_VAR_DIR is its older name.
    assert load_settings({"BROKER_DATA_DIR": "data"}).data_dir == str(tmp_path / "data")
    assert load_settings({"BROKER_VAR_DIR": "old"}).data_dir == str(tmp_path / "old")
    assert load_settings({"BROKER_VAR_DIR": "old", "BROKER_DATA_DIR": "new"}).data_dir == str(tmp_path / "new")
    toml = tmp_path / "c.toml"
    toml.write_text('var_dir = "/srv/old-name"\n')
    assert load_settings({"BROKER_CONFIG": str(toml)}).data_dir == "/srv/old-name"
    # An explicit DATABASE_URL is kept as given.
    assert load_settings({"DATABASE_URL": "sqlite:////srv/x.db"}).database_url == "sqlite:////srv/x.db"


def test_data_dir_option_wins_and_empty_pool_list_says_where(tmp_path):
    env = broker_env(tmp_path, None, None, 8000)
    env["BROKER_DATA_DIR"] = str(tmp_path / "from-env")
    listed = cli_in_process(env, ("--data-dir", str(tmp_path / "given"), "pool", "list"))
    assert listed.returncode == 0
    assert listed.stdout == "UserPools:\n"
    assert listed.stderr == f"no pool yet in {tmp_path / 'given'}: broker pool create --name NAME\n"
    assert (tmp_path / "given" / "broker.db").is_file() and not (tmp_path / "from-env").exists()

    made = cli_in_process(env, ("--data-dir", str(tmp_path / "given"), "pool", "create", "--name", "p", "--json"))
    listed = cli_in_process(env, ("--data-dir", str(tmp_path / "given"), "pool", "list", "--json"))
    assert json.loads(listed.stdout)["UserPools"][0]["Id"] == json.loads(made.stdout)["Id"]
    assert listed.stderr == ""
    # BROKER_DATA_DIR alone is another store: empty
    assert json.loads(cli_in_process(env, ("pool", "list", "--json")).stdout) == {"UserPools": []}


def test_serve_banner_names_the_data_dir_given_on_the_command_line(tmp_path):
    port = free_port()
    env = broker_env(tmp_path, None, None, port, BROKER_DATA_DIR=str(tmp_path / "from-env"))
    given = tmp_path / "given"
    with open(tmp_path / "serve.log", "wb") as log:
        server = subprocess.Popen([BROKER, "--data-dir", str(given), "serve", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        _wait_port(port, server)
    finally:
        server.terminate()
        server.wait(30)
    text = (tmp_path / "serve.log").read_text()
    assert f"\n  data: {given}\n" in text, text
    assert (given / "broker.db").is_file() and not (tmp_path / "from-env").exists() and not (tmp_path / "var").exists()


def _bad_dirs(tmp_path: Path) -> list[tuple[str, str]]:
    afile = tmp_path / "a-file"
    afile.write_text("not a folder")
    cases = [(str(afile), f"{afile} is not a directory"), (str(afile / "below"), f"{afile} is not a directory")]
    if os.geteuid() == 0:  # root writes through permission bits: a kernel file system refuses it
        cases.append(("/sys/cognate-data", "cannot write in /sys (Permission denied)"))
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((str(locked / "data"), f"cannot write in {locked} (Permission denied)"))
    return cases


@pytest.mark.parametrize("command", [("pool", "list"), ("pool", "create", "--name", "p")])
def test_a_bad_data_dir_is_one_line_and_exit_2(tmp_path, command):
    env = broker_env(tmp_path, None, None, 8000)
    for data_dir, reason in _bad_dirs(tmp_path):
        for how in ("option", "env"):
            args = ("--data-dir", data_dir, *command) if how == "option" else command
            result = cli_in_process({**env, "BROKER_DATA_DIR": data_dir} if how == "env" else env, args)
            assert result.returncode == 2, (data_dir, how, result)
            assert result.stderr == f"error: data directory {data_dir}: {reason}\n" and result.stdout == ""
    assert not (tmp_path / "var").exists() and not Path("/sys/cognate-data").exists()
    empty = cli_in_process(env, ("--data-dir", "", *command))
    assert empty.returncode == 2 and empty.stderr == "error: --data-dir must name a directory\n"


def test_demo_env_is_owner_only_and_never_written_through_a_planted_link(tmp_path):
    demo = DemoPool("http://localhost:8000", "local_Ab12Cd34E", "c" * 26, "s3cret 'quoted'")
    path = demo.write_env(str(tmp_path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    printed = subprocess.run(["bash", "-c", f'. {path} && printf "%s|" "$BASE" "$POOL" "$CLIENT" "$SECRET"'],
                             capture_output=True, text=True, check=True).stdout
    assert printed == f"http://localhost:8000|local_Ab12Cd34E|{'c' * 26}|s3cret 'quoted'|"

    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "demo.env").symlink_to(victim)
    with pytest.raises(InvalidInput, match="cannot write"):
        demo.write_env(str(tmp_path / "other"))
    assert victim.read_text() == "keep"
