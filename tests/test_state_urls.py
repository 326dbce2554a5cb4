"""REDIS_URL forms: one server (redis://, rediss://, unix://), a Sentinel-managed master and a
cluster. The parser is checked on its own; each form then carries a real round trip through
RedisState against private redis-server processes (TLS, sentinel, three-master cluster)."""
from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from broker.store.redis_target import RedisTarget, parse_redis_url
from broker.store.state import Keys, RedisState, open_state
from tests.conftest import _answers, _wait_port, free_port


class RedisServer:
    """A private redis-server on loopback, without persistence, that a test may stop and start."""

    def __init__(self, workdir: Path, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = workdir
        self.args = args
        self.proc: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *command: str) -> RedisServer:
        command = command or ("redis-server", "--port", str(self.port))
        self.proc = subprocess.Popen([*command, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                      "--dir", str(self.dir), *self.args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, timeout=10)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def cli(self, *args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True,
                              check=True, timeout=10).stdout


@pytest.fixture
def servers() -> Iterator[list[RedisServer]]:
    started: list[RedisServer] = []
    yield started
    for server in started:
        server.stop()


# -- parsing -------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis://:pw@cache:6380/3", "rediss://cache:6380",
                                 "unix:///run/redis/redis.sock?db=2"])
def test_single_server_urls_are_passed_to_redis_py(url):
    assert parse_redis_url(url) == RedisTarget("server", url)


def test_server_url_options_reach_the_connection():
    pool = RedisState("rediss://u:p%40ss@cache.example:6390/4").client.connection_pool
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.example", 6390, 4)
    assert (kwargs["username"], kwargs["password"]) == ("u", "p@ss")
    assert pool.connection_class is redis.SSLConnection
    unix = RedisState("unix:///run/redis.sock?db=2").client.connection_pool
    assert unix.connection_kwargs["path"] == "/run/redis.sock" and unix.connection_kwargs["db"] == 2


def test_sentinel_url_names_sentinels_service_and_db():
    target = parse_redis_url("redis+sentinel://:s%3Acret@10.0.0.1:26380,sentinel-b,[::1]:26390/mymaster/3")
    assert target.mode == "sentinel" and target.service == "mymaster" and target.db == 3
    assert target.nodes == (("10.0.0.1", 26380), ("sentinel-b", 26379), ("::1", 26390))
    assert target.password == "s:cret" and target.username is None
    plain = parse_redis_url("redis+sentinel://ops:pw@sentinel:26379/cache")
    assert (plain.service, plain.db, plain.username, plain.password) == ("cache", 0, "ops", "pw")


def test_cluster_url_names_seed_nodes():
    target = parse_redis_url("redis+cluster://:pw@node-a:7000,node-b:7001,node-c")
    assert target.mode == "cluster" and target.password == "pw"
    assert target.nodes == (("node-a", 7000), ("node-b", 7001), ("node-c", 6379))


@pytest.mark.parametrize("url,reason", [
    ("cache:6379", "must start with redis://"),
    ("http://cache:6379", "must start with redis://"),
    ("redis+sentinel://sentinel:26379", "/service_name"),
    ("redis+sentinel://sentinel:26379/", "/service_name"),
    ("redis+sentinel://sentinel:26379/mymaster/zero", "is not a number"),
    ("redis+sentinel://sentinel:26379/mymaster/0/extra", "/service_name"),
    ("redis+sentinel://sentinel:notaport/mymaster", "is not host:port"),
    ("redis+sentinel://a:26379,,b:26379/mymaster", "is not host:port"),
    ("redis+sentinel://sentinel:26379/mymaster?ssl=true", "no query string"),
    ("redis+cluster://node:70000", "is not host:port"),
    ("redis+cluster://node:7000/0", "no service name or database"),
    ("redis+cluster://", "is not host:port"),
    ("redis://cache:port/0", "REDIS_URL: Port"),
    ("unix://", "name the socket file"),
])
def test_unusable_urls_are_refused_with_the_reason(url, reason):
    with pytest.raises(ValueError, match=reason):
        parse_redis_url(url)


@pytest.mark.parametrize("url", ["redis+cluster://127.0.0.1:1", "redis+sentinel://127.0.0.1:1/mymaster"])
def test_unreachable_stores_connect_on_first_use_and_fail_as_redis_errors(url):
    state = open_state(url)  # a node starts while Redis is away ...
    with pytest.raises(redis.RedisError):  # ... and each request then fails as the web layer answers 503
        state.get("cognate:test:x")


# -- real round trips ----------------------------------------------------------------

def _round_trip(state: RedisState, pool_id: str = "local_Round1") -> list[str]:
    """Every StateStore operation once; returns the keys written."""
    assert state.ping()
    keys = [Keys.login(secrets.token_hex(8)), Keys.session(secrets.token_hex(8)),
            Keys.code(pool_id, secrets.token_hex(8)), Keys.failures(pool_id, "user", "Alice"),
            Keys.saml_assertion(pool_id, secrets.token_hex(8))]
    login, session, code, failures, assertion = keys
    state.put(login, {"txn": 1}, 60)
    assert state.get(login) == {"txn": 1}
    assert state.swap(login, {"txn": 2}) == {"txn": 1} and state.get(login) == {"txn": 2}
    state.put(session, {"sid": "s"}, 60)
    state.delete(session)
    assert state.get(session) is None
    state.put(code, {"code": "c"}, 60)
    assert state.take(code) == {"code": "c"} and state.take(code) is None
    assert [state.incr(failures, 60) for _ in range(3)] == [1, 2, 3]
    assert state.add(assertion, {"seen": 1}, 60) is True and state.add(assertion, {"seen": 2}, 60) is False
    together = [Keys.failures(pool_id, "user", "Bob"), Keys.failures(pool_id, "ip", "192.0.2.1")]  # one slot
    state.put(together[0], {"n": 1}, 60)
    assert state.get_many([*together, together[0]]) == [{"n": 1}, None, {"n": 1}]
    state.put(together[1], {"n": 2}, 60)
    state.delete(*together)
    assert state.get_many(together) == [None, None]
    return [login, failures, assertion]


def test_round_trip_over_unix_socket(servers, tmp_path):
    socket = tmp_path / "redis.sock"
    servers.append(RedisServer(tmp_path, "--unixsocket", str(socket)).start())
    state = open_state(f"unix://{socket}?db=5")
    written = _round_trip(state)
    assert int(servers[0].cli("-n", "5", "DBSIZE")) == len(written)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "redis.crt", tmp / "redis.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_round_trip_over_tls(servers, tmp_path):
    cert, key = _self_signed(tmp_path)
    server = RedisServer(tmp_path, "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                         "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no")
    servers.append(server.start("redis-server", "--port", "0", "--tls-port", str(server.port)))
    _round_trip(open_state(f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={cert}"))
    with pytest.raises(redis.ConnectionError):  # the certificate is checked: an unknown CA is refused
        open_state(f"rediss://127.0.0.1:{server.port}/0").ping()


def test_round_trip_through_sentinel(servers, tmp_path):
    master = RedisServer(tmp_path / "master", "--requirepass", "m4ster-pw")
    servers.append(master.start())
    sentinel = RedisServer(tmp_path / "sentinel")
    config = tmp_path / "sentinel" / "sentinel.conf"
    config.write_text(f"port {sentinel.port}\n"
                      f"sentinel monitor cognate 127.0.0.1 {master.port} 1\n"
                      "sentinel auth-pass cognate m4ster-pw\n")
    servers.append(sentinel.start("redis-server", str(config), "--sentinel"))
    state = open_state(f"redis+sentinel://:m4ster-pw@127.0.0.1:{free_port()},127.0.0.1:{sentinel.port}/cognate/2")
    written = _round_trip(state)  # the first sentinel listed does not answer: the next one does
    assert int(master.cli("-a", "m4ster-pw", "--no-auth-warning", "-n", "2", "DBSIZE")) == len(written)


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 < 65536 and not _answers("127.0.0.1", port + 10000):
            return port


def test_round_trip_through_a_three_master_cluster(servers, tmp_path):
    nodes = []
    for i in range(3):
        node = RedisServer(tmp_path / f"n{i}", "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
                           port=_cluster_port())
        servers.append(node.start())
        nodes.append(node)
    subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
                    "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, check=True, timeout=30)
    deadline = time.time() + 15
    while not all("cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in nodes):
        assert time.time() < deadline, "the cluster never became ready"
        time.sleep(0.1)
    state = open_state(f"redis+cluster://127.0.0.1:{nodes[1].port}")
    written = [key for i in range(6) for key in _round_trip(state, f"local_Pool{i}")]
    counts = [int(n.cli("DBSIZE")) for n in nodes]
    assert sum(counts) == len(written)
    assert sum(1 for c in counts if c) >= 2, counts  # the keys really spread over several masters
    for i in range(6):  # the keys of one pool share one slot (hash tag), so pool-wide work stays on one node
        pool_keys = [Keys.code(f"local_Pool{i}", "a"), Keys.failures(f"local_Pool{i}", "ip", "b")]
        assert len({state.client.keyslot(k) for k in pool_keys}) == 1
    state.client.close()
