"""`pip install .` must work outside the checkout: templates, static files and migrations
travel inside the wheel, and the app finds them there."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_templates_static_and_migrations(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("cognate-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("broker/templates/login.html", "broker/templates/base.html", "broker/static/css/hosted.css",
                     "broker/static/js/hosted.js", "broker/store/migrations/script.py.mako",
                     "broker/store/migrations/versions/0001_initial_schema.py", "broker/cli.py"):
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
