from __future__ import annotations

import pytest

from broker import create_app
from broker.config import ConfigError, load_settings, validate


def test_env_wins_over_the_toml_file(tmp_path):
    conf = tmp_path / "broker.toml"
    conf.write_text('base_url = "https://from-file.example"\nsmtp_port = 2525\n')
    s = load_settings({"BROKER_CONFIG": str(conf), "BROKER_BASE_URL": "https://from-env.example"})
    assert s.base_url == "https://from-env.example" and s.smtp_port == 2525


def test_unknown_toml_setting_is_refused(tmp_path):
    conf = tmp_path / "broker.toml"
    conf.write_text('no_such_setting = 1\n')
    with pytest.raises(ConfigError, match="no_such_setting"):
        load_settings({"BROKER_CONFIG": str(conf)})


def test_production_refuses_dev_defaults_and_lists_every_problem():
    settings = load_settings({"BROKER_ENV": "production"}, data_dir="/tmp/unused")
    errors = validate(settings)
    assert any("BROKER_SECRET_KEY" in e for e in errors)
    assert any("REDIS_URL" in e for e in errors)
    assert any("PostgreSQL" in e for e in errors)
    assert any("https" in e for e in errors)
    with pytest.raises(ConfigError) as exc:
        create_app(settings)
    assert len(exc.value.errors) == 4


def test_bad_values_are_each_reported():
    errors = validate(load_settings({"BROKER_BASE_URL": "ftp://x", "REDIS_URL": "http://r", "BROKER_SECRET_KEY": "short"}))
    assert len(errors) == 3
    with pytest.raises(ConfigError, match="BROKER_SMTP_PORT"):
        load_settings({"BROKER_SMTP_PORT": "twenty-five"})


def test_cache_lifetimes_are_bounded_whole_seconds():
    assert load_settings({}).config_cache_seconds == 1
    assert validate(load_settings({"BROKER_CONFIG_CACHE_SECONDS": "0", "BROKER_KEY_CACHE_SECONDS": "3600"})) == []
    for name, value in (("BROKER_CONFIG_CACHE_SECONDS", "-1"), ("BROKER_KEY_CACHE_SECONDS", "3601")):
        assert validate(load_settings({name: value})) == [f"{name} must be between 0 and 3600"]
    with pytest.raises(ConfigError, match="BROKER_CONFIG_CACHE_SECONDS must be an integer"):
        load_settings({"BROKER_CONFIG_CACHE_SECONDS": "0.5"})
