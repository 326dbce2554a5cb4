"""`pip install .` must work outside the checkout: templates, static files and migrations
travel inside the wheel, and the app finds them there."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_templates_static_and_migrations(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v",
                            "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, text=True)
    # every folder of data files is declared: setuptools says nothing about them
    assert "absent from the `packages` configuration" not in build.stdout + build.stderr
    wheel = next(tmp_path.glob("cognate-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("broker/templates/login.html", "broker/templates/base.html", "broker/static/css/hosted.css",
                     "broker/static/js/hosted.js", "broker/store/migrations/script.py.mako",
                     "broker/store/migrations/versions/0001_initial_schema.py", "broker/cli.py",
                     "broker/translations/de/LC_MESSAGES/messages.po", "broker/static/img/logo.svg"):
        assert expected in names, expected
    for init in sorted(ROOT.glob("broker/**/__init__.py")):  # every package, not only the listed ones
        assert str(init.relative_to(ROOT)) in names, init
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = ("import broker; from broker import _asset_dir; import os; "
             "print(_asset_dir('templates')); print(os.path.exists(os.path.join(_asset_dir('templates'), 'login.html')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(site)},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(site / "broker" / "templates"), "True"]


def test_saml_stack_imports_with_one_libxml2():
    """python3-saml needs lxml and xmlsec built on the same libxml2; a mismatch fails at import
    ("lxml & xmlsec libxml2 library version mismatch"), so the pins are checked here."""
    import lxml.etree
    import xmlsec
    from onelogin.saml2.auth import OneLogin_Saml2_Auth

    assert OneLogin_Saml2_Auth.__name__ == "OneLogin_Saml2_Auth"
    assert xmlsec.get_libxml_version() == lxml.etree.LIBXML_VERSION


def test_demo_bootstrap_installs_again_only_when_a_packaged_file_changed(tmp_path):
    """scripts/demo runs scripts/bootstrap at every start: `pip install .` (a build, and its
    output) only when a packaged file changed, was added or went away."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bootstrap").write_bytes((ROOT / "scripts" / "bootstrap").read_bytes())
    for name in ("pyproject.toml", "broker/__init__.py", "templates/login.html", "static/css/hosted.css"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    calls, stubs = tmp_path / "calls", tmp_path / "stubs"
    for stub, where in ((".venv/bin/python", tmp_path), ("python3", stubs), ("apt-get", stubs)):
        path = where / stub
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'#!/bin/sh\necho "{stub} $*" >> {calls}\n')
        path.chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}

    def installs() -> int:
        subprocess.run(["bash", str(tmp_path / "scripts" / "bootstrap")], env=env, check=True, timeout=60)
        return calls.read_text().count(".venv/bin/python -m pip install -qq .")

    assert installs() == 1
    assert installs() == 1  # nothing changed
    (tmp_path / "broker" / "__pycache__").mkdir()
    (tmp_path / "broker" / "__pycache__" / "x.pyc").write_text("compiled")
    assert installs() == 1  # byte code is not packaged
    (tmp_path / "templates" / "login.html").write_text("changed\n")
    assert installs() == 2
    (tmp_path / "static" / "css" / "hosted.css").unlink()
    assert installs() == 3
    assert "apt-get" not in calls.read_text()


def _readme_packages() -> set[str]:
    """The system packages the README's "What it installs" paragraph names."""
    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("**What it installs.**"):].split("\n\n")[0]
    named = paragraph[:paragraph.index("(`scripts/demo` installs")]
    return set(re.findall(r"`([a-z0-9][a-z0-9.+-]+)`", named)) - {"scripts/test", "scripts/bootstrap --test"}


def test_test_bootstrap_installs_only_what_the_readme_names_and_no_container_engine(tmp_path):
    """scripts/bootstrap --test on a machine that has none of its tools: apt-get is asked for
    the README's packages, never for Docker, Compose, containerd or Podman."""
    script = (ROOT / "scripts" / "bootstrap").read_text()
    assert set(re.findall(r"need\+=\(([^)]+)\)", script)) == _readme_packages()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bootstrap").write_text(script)
    (tmp_path / "pyproject.toml").write_text("x\n")
    bare, calls = tmp_path / "bin", tmp_path / "calls"
    bare.mkdir()
    for tool in ("dirname", "find", "sort", "sha256sum", "cut", "cat", "ls"):  # what the script itself uses
        (bare / tool).symlink_to(shutil.which(tool))
    for stub, code in (("apt-get", 0), ("id", 0), ("python3", 1), (".venv/bin/python", 0)):
        path = (tmp_path / stub) if stub.startswith(".") else bare / stub
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'#!/bin/sh\necho "{stub} $*" >> {calls}\n[ "$1" = -u ] && echo 0\nexit {code}\n')
        path.chmod(0o755)
    (tmp_path / ".venv" / "bin" / "python").write_text(f'#!/bin/sh\necho "python $*" >> {calls}\n')
    subprocess.run([shutil.which("bash"), str(tmp_path / "scripts" / "bootstrap"), "--test"], check=True, timeout=60,
                   env={"PATH": str(bare), "HOME": str(tmp_path)}, capture_output=True)
    installs = [line.split()[4:] for line in calls.read_text().splitlines() if line.startswith("apt-get install")]
    assert len(installs) == 1
    asked = set(installs[0])
    assert {"python3-venv", "curl", "redis-server", "xmlsec1", "npm"} <= asked <= _readme_packages()
    assert not asked & {"docker.io", "docker-ce", "docker-compose", "docker-compose-plugin", "containerd", "podman"}
