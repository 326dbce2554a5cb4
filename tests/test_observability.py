"""What operators see: Prometheus metrics at /metrics added up over gunicorn's workers, a
request id echoed in X-Request-Id and carried by the JSON log lines (access and audit).

The metrics text is read by a small parser written here from the exposition format, not by
prometheus_client, which produces it."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from broker.config import load_settings, validate
from broker.observability import workers
from broker.observability.metrics import WorkerFilesCollector
from tests.conftest import ROOT, Broker, free_port, start_broker
from tests.rp import CALLBACK, RelyingParty

PASSWORD = "Correct-Horse-9!"
TOKEN = secrets.token_urlsafe(24)
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
HEX_ID = re.compile(r"[0-9a-f]{32}")

Metrics = dict[tuple[str, frozenset[tuple[str, str]]], float]


# -- helpers ------------------------------------------------------------------------

def parse(text: str) -> Metrics:
    """Prometheus' text exposition format: ``name{label="value",...} number`` per sample."""
    samples: Metrics = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        samples[(name, frozenset(LABEL.findall(labels or "")))] = float(value)
    return samples


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


def business(metrics: Metrics) -> list:
    """The counters that requests for /metrics itself do not move."""
    return sorted((name, sorted(labels), v) for (name, labels), v in metrics.items()
                  if not name.startswith("cognate_http_"))


def scrape(broker: Broker, rid: str | None = None) -> Metrics:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if rid:
        headers["X-Request-Id"] = rid
    r = requests.get(f"{broker.base_url}/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    return parse(r.text)


def log_lines(broker: Broker) -> list[dict]:
    assert broker.log is not None
    lines = []
    for raw in broker.log.read_text().splitlines():
        if raw.strip():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                raise AssertionError(f"a log line is not JSON: {raw!r}") from None
    return lines


def served_by(broker: Broker, rids: set[str]) -> dict[str, int]:
    """request id → pid of the worker whose access line names it."""
    return {line["request_id"]: line["pid"] for line in log_lines(broker)
            if line["logger"] == "broker.access" and line.get("request_id") in rids}


def scrapes_from_each_worker(broker: Broker, workers: int = 2) -> dict[int, Metrics]:
    """Scrape (several at once) until every worker has answered at least one; pid → metrics."""
    answers: dict[str, Metrics] = {}
    for _round in range(30):
        rids = [f"scrape-{secrets.token_hex(6)}" for _ in range(6)]
        with ThreadPoolExecutor(len(rids)) as pool:
            answers.update(zip(rids, pool.map(lambda rid: scrape(broker, rid), rids)))
        time.sleep(0.2)  # the workers' access lines reach the log
        pids = served_by(broker, set(answers))
        if len(set(pids.values())) >= workers:
            return {pid: answers[rid] for rid, pid in pids.items()}
    raise AssertionError(f"only workers {set(served_by(broker, set(answers)).values())} answered /metrics")


def _setup_pool(broker: Broker) -> tuple[str, RelyingParty]:
    pool = broker.pool()
    broker.cli("pool", "update", "--pool", pool, "--lockout-threshold", "2", "--lockout-seconds", "600")
    for name in ("alice", "bob"):
        broker.cli("user", "create", "--pool", pool, "--username", name, "--password", PASSWORD,
                   "--email", f"{name}@example.com", "--confirmed")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                             "--secret")
    return pool, RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"])


def _m2m_client(broker: Broker, pool: str) -> RelyingParty:
    broker.cli("resource-server", "create", "--pool", pool, "--identifier", "https://api.example.com",
               "--scope", "read")
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "m2m", "--secret",
                             "--flow", "client_credentials", "--scope", "https://api.example.com/read")
    return RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"])


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Broker]:
    """gunicorn with two workers, JSON logs and a metrics token."""
    tmp = tmp_path_factory.mktemp("observed")
    broker = start_broker(tmp, database_url=f"sqlite:///{tmp}/broker.db", redis_url=redis_url, workers=2,
                          BROKER_LOG_FORMAT="json", BROKER_METRICS_TOKEN=TOKEN)
    yield broker
    broker.stop()
    text = broker.log.read_text() if broker.log and broker.log.exists() else ""
    assert "Traceback" not in text, f"server logged a traceback:\n{text[-4000:]}"


# -- /metrics -----------------------------------------------------------------------

def test_metrics_need_the_bearer_token_when_one_is_set(observed):
    url = f"{observed.base_url}/metrics"
    for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        r = requests.get(url, headers=headers, timeout=10)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "cognate_" not in r.text
    r = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200
    assert "# TYPE cognate_http_requests_total counter" in r.text
    assert "# TYPE cognate_http_request_duration_seconds histogram" in r.text
    # per pool URLs do not serve it
    assert requests.get(f"{observed.base_url}/local_Ab12Cd34E/metrics", timeout=10).status_code == 404


def test_sign_ins_tokens_and_lockouts_are_counted_once_across_workers(observed):
    pool, rp = _setup_pool(observed)
    m2m = _m2m_client(observed, pool)
    before = scrapes_from_each_worker(observed)
    assert len({json.dumps(business(m)) for m in before.values()}) == 1  # every worker says the same
    base = next(iter(before.values()))

    _params, code = rp.sign_in("alice", PASSWORD)
    assert code
    tokens = rp.exchange(code)
    assert tokens.status_code == 200, tokens.text
    assert rp.refresh(tokens.json()["refresh_token"]).status_code == 200
    assert rp.exchange("not-a-code").status_code == 400  # no token
    assert m2m.token(grant_type="client_credentials").status_code == 200
    # the second failure locks bob (threshold 2); then even his password fails
    for username, password in (("alice", "nope"), ("bob", "nope"), ("bob", "nope"), ("bob", PASSWORD)):
        browser = RelyingParty(observed.base_url, pool, rp.client_id, rp.client_secret)
        assert browser.sign_in(username, password)[1] is None

    after = scrapes_from_each_worker(observed)
    for pid, metrics in after.items():  # whichever worker answers, it adds up all of them
        def delta(name: str, **labels: str) -> float:
            return value(metrics, name, **labels) - value(base, name, **labels)

        assert delta("cognate_sign_ins_total", result="success", provider="COGNITO") == 1, pid
        assert delta("cognate_sign_ins_total", result="failure", provider="COGNITO") == 4, pid
        assert delta("cognate_lockouts_total") == 1, pid
        assert delta("cognate_tokens_issued_total", grant_type="authorization_code") == 1, pid
        assert delta("cognate_tokens_issued_total", grant_type="refresh_token") == 1, pid
        assert delta("cognate_tokens_issued_total", grant_type="client_credentials") == 1, pid
        assert delta("cognate_http_requests_total", endpoint="api.token", method="POST", status="200") == 3, pid
        assert delta("cognate_http_requests_total", endpoint="api.token", method="POST", status="400") == 1, pid
        assert delta("cognate_http_request_duration_seconds_count", endpoint="api.token") == 4, pid
        assert delta("cognate_backend_errors_total", backend="redis") == 0, pid


def test_request_counts_are_summed_over_both_workers(observed):
    pool = observed.pool()
    url = f"{observed.base_url}/{pool}/.well-known/openid-configuration"
    before = scrape(observed)
    sent: list[str] = []
    for _round in range(20):
        rids = [f"disc-{secrets.token_hex(6)}" for _ in range(8)]
        with ThreadPoolExecutor(len(rids)) as ex:
            statuses = list(ex.map(lambda rid: requests.get(url, headers={"X-Request-Id": rid}, timeout=10).status_code,
                                   rids))
        assert statuses == [200] * len(rids)
        sent += rids
        time.sleep(0.2)
        if len(set(served_by(observed, set(sent)).values())) == 2:
            break
    pids = served_by(observed, set(sent))
    assert len(pids) == len(sent) and len(set(pids.values())) == 2, "both workers should have served some"
    after = scrape(observed)
    labels = {"endpoint": "api.discovery", "method": "GET", "status": "200"}
    assert value(after, "cognate_http_requests_total", **labels) - value(before, "cognate_http_requests_total",
                                                                         **labels) == len(sent)
    count = "cognate_http_request_duration_seconds_count"
    assert value(after, count, endpoint="api.discovery") - value(before, count, endpoint="api.discovery") == len(sent)
    inf = value(after, "cognate_http_request_duration_seconds_bucket", endpoint="api.discovery", le="+Inf")
    assert inf == value(after, count, endpoint="api.discovery")


def test_labels_are_endpoint_names_not_paths(observed):
    for path in (f"/{secrets.token_hex(8)}/login", f"/no/such/{secrets.token_hex(8)}"):
        requests.get(observed.base_url + path, timeout=10)
    requests.request("PROPFIND", f"{observed.base_url}/health", timeout=10)
    metrics = scrape(observed)
    endpoints = {dict(labels).get("endpoint") for (name, labels) in metrics if name == "cognate_http_requests_total"}
    assert "hosted.login" in endpoints and "unmatched" in endpoints
    assert not any("/" in e for e in endpoints if e), endpoints
    methods = {dict(labels)["method"] for (name, labels) in metrics if name == "cognate_http_requests_total"}
    assert "PROPFIND" not in methods and "other" in methods


# -- request ids and logs -------------------------------------------------------------

def test_request_id_is_echoed_when_safe_and_replaced_otherwise(observed):
    url = f"{observed.base_url}/health"
    for good in ("abc-123", "7c0d6c1e-2f7b-4a53-9e0b-2c3f2b3a9d10", "lb:1.2_x"):
        assert requests.get(url, headers={"X-Request-Id": good}, timeout=10).headers["X-Request-Id"] == good
    seen = set()
    for hostile in ("has space", '"><script>', "a" * 200, "x\u00e9", "-starts-with-dash", "{\"json\":1}", ""):
        r = requests.get(url, headers={"X-Request-Id": hostile.encode("latin-1")}, timeout=10)
        echoed = r.headers["X-Request-Id"]
        assert HEX_ID.fullmatch(echoed) and echoed != hostile, hostile
        seen.add(echoed)
    assert len(seen) == 7  # a new one each time
    assert HEX_ID.fullmatch(requests.get(url, timeout=10).headers["X-Request-Id"])
    # error pages and redirects carry it too
    r = requests.get(f"{observed.base_url}/nowhere", headers={"X-Request-Id": "err-1"}, timeout=10)
    assert r.status_code == 404 and r.headers["X-Request-Id"] == "err-1"


def test_log_lines_are_json_and_carry_the_request_id(observed):
    pool, rp = _setup_pool(observed)
    rid = f"signin-{secrets.token_hex(8)}"
    rp.browser.headers["X-Request-Id"] = rid
    _params, code = rp.sign_in("alice", PASSWORD)
    assert code
    time.sleep(0.3)
    lines = log_lines(observed)  # every line parses
    for line in lines:
        assert {"time", "level", "logger", "message", "pid"} <= line.keys(), line
    mine = [line for line in lines if line.get("request_id") == rid]
    access = [line for line in mine if line["logger"] == "broker.access"]
    assert {(a["method"], a["path"], a["status"]) for a in access} >= {
        ("GET", f"/{pool}/oauth2/authorize", 302), ("GET", f"/{pool}/login", 200), ("POST", f"/{pool}/login", 302)}
    assert all("state" not in a["path"] and "?" not in a["path"] for a in access)  # no query string in logs
    audit = [line for line in mine if line["logger"] == "broker.audit"]
    sign_in = [a["audit"] for a in audit if a["audit"]["event"] == "SignIn"]
    assert len(sign_in) == 1
    assert sign_in[0]["outcome"] == "Pass" and sign_in[0]["username"] == "alice"
    assert sign_in[0]["request_id"] == rid and sign_in[0]["pool"] == pool
    # gunicorn's own lines are JSON too
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)


# -- backends, single process, text logs ----------------------------------------------

def test_backend_errors_are_counted_by_backend(tmp_path, redis_url):
    """Single-process servers (no PROMETHEUS_MULTIPROC_DIR), text logs by default: one whose
    Redis is gone, one whose PostgreSQL is gone."""
    dead_redis = start_broker(tmp_path / "r", database_url=f"sqlite:///{tmp_path}/r.db",
                              redis_url=f"redis://127.0.0.1:{free_port()}/0")
    dead_db = start_broker(tmp_path / "d", redis_url=redis_url,  # (a database_url would be migrated first)
                           DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    try:
        pool = dead_redis.pool()
        client = dead_redis.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK,
                                     "--secret")
        rp = RelyingParty(dead_redis.base_url, pool, client["ClientId"], client["ClientSecret"])
        r = rp.authorize()
        assert r.status_code == 503 and r.headers["Retry-After"]
        r = requests.get(f"{dead_db.base_url}/local_Ab12Cd34E/.well-known/openid-configuration", timeout=30)
        assert r.status_code == 503

        for broker, failed, endpoint in ((dead_redis, "redis", "hosted.authorize_endpoint"),
                                         (dead_db, "database", "api.discovery")):
            r = requests.get(f"{broker.base_url}/metrics", timeout=10)  # no token configured: open
            assert r.status_code == 200
            metrics = parse(r.text)
            other = "database" if failed == "redis" else "redis"
            assert value(metrics, "cognate_backend_errors_total", backend=failed) == 1
            assert value(metrics, "cognate_backend_errors_total", backend=other) == 0
            assert value(metrics, "cognate_http_requests_total", endpoint=endpoint, method="GET", status="503") == 1
            assert broker.log is not None
            text = broker.log.read_text()  # text logs outside production
            assert re.search(r"^\S+ \S+ ERROR broker.web: backing store unavailable", text, re.M), text[-2000:]
    finally:
        dead_redis.stop()
        dead_db.stop()


# -- settings and gunicorn hooks -----------------------------------------------------

def test_log_format_defaults_to_json_in_production_only():
    assert load_settings({"BROKER_ENV": "production"}).json_logs
    assert not load_settings({"BROKER_ENV": "development"}).json_logs
    assert load_settings({"BROKER_ENV": "test", "BROKER_LOG_FORMAT": "json"}).json_logs
    assert not load_settings({"BROKER_ENV": "production", "BROKER_LOG_FORMAT": "text"}).json_logs
    errors = validate(load_settings({"BROKER_LOG_FORMAT": "yaml", "BROKER_METRICS_TOKEN": "short"}))
    assert any("BROKER_LOG_FORMAT" in e for e in errors) and any("BROKER_METRICS_TOKEN" in e for e in errors)
    assert validate(load_settings({"BROKER_METRICS_TOKEN": TOKEN})) == []


def test_metrics_dir_is_emptied_at_start_and_a_temporary_one_removed_at_exit(tmp_path, monkeypatch):
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_4242.db").write_bytes(b"\0" * 16)
    (given / "keep.txt").write_text("not ours")
    monkeypatch.setenv(workers.ENV, str(given))
    assert workers.prepare_metrics_dir() == str(given)
    assert sorted(p.name for p in given.iterdir()) == ["keep.txt"]
    workers.remove_metrics_dir()
    assert given.is_dir()  # the operator's folder stays

    monkeypatch.delenv(workers.ENV)
    made = Path(workers.prepare_metrics_dir())
    assert made.is_dir() and os.environ[workers.ENV] == str(made) and not list(made.iterdir())
    workers.remove_metrics_dir()
    assert not made.exists()


def test_a_scrape_skips_a_worker_file_that_is_still_being_created(tmp_path):
    """A worker's first sample creates its file empty, then sizes it; a scrape in between
    must still answer, with every other worker's samples."""
    written = MmapedDict(str(tmp_path / "counter_4242.db"))
    written.write_value(mmap_key("cognate_lockouts", "cognate_lockouts_total", [], [], "Lockouts."), 3.0, 0.0)
    written.close()
    (tmp_path / "counter_4243.db").touch()  # opened by the other worker, not yet sized
    registry = CollectorRegistry()
    WorkerFilesCollector(registry, path=str(tmp_path))
    assert value(parse(generate_latest(registry).decode()), "cognate_lockouts_total") == 3.0


def test_deploy_gunicorn_conf_sets_up_metrics_and_json_logs():
    code = ("import json, runpy, sys; c = runpy.run_path(sys.argv[1]); "
            "print(json.dumps({k: getattr(c.get(k), '__module__', c.get(k)) "
            "for k in ('on_starting', 'child_exit', 'on_exit', 'logger_class', 'pre_request', 'pre_fork', "
            "'post_worker_init', 'when_ready', 'worker_exit')}))")
    conf = str(ROOT / "deploy" / "gunicorn.conf.py")
    base = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    for env, json_logs in (({"BROKER_ENV": "production"}, True), ({}, False)):
        out = subprocess.run([sys.executable, "-c", code, conf], env={**base, **env}, capture_output=True,
                             text=True, timeout=60, check=True).stdout
        hooks = json.loads(out)
        assert hooks["on_starting"] == hooks["on_exit"] == "broker.observability.workers"
        assert hooks["child_exit"] == hooks["when_ready"] == hooks["worker_exit"] == "broker.serving"  # (metrics too)
        assert hooks["pre_request"] == hooks["pre_fork"] == hooks["post_worker_init"] == "broker.recycling"
        assert (hooks["logger_class"] == workers.JSON_LOGGER) is json_logs
