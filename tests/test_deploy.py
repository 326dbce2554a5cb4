"""deploy/: the compose file, nginx and the Kubernetes manifests agree with each other and
with Cognate (port, probes, settings), without a Docker engine or a cluster.

The compose file is checked against the Compose Specification schema (shipped in
check-jsonschema), the manifests against Kubernetes' OpenAPI schemas (shipped in
kubernetes-validate, strict: unknown fields fail); both run offline.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from broker.config import load_settings, validate

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S = DEPLOY / "k8s"
REQUIRED_SECRETS = {"BROKER_SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
SAMPLE_SECRET_KEY = "s" * 48
# Oldest Kubernetes release the manifests claim, and the newest schema shipped.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


# -- helpers ------------------------------------------------------------------------

def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}``, enough for this file."""
    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if env.get(name):
            return env[name]
        if op.endswith("?"):
            raise KeyError(f"{name}: {arg}")
        return arg if op.endswith("-") else ""
    return _VAR.sub(one, value)


def _manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for doc in yaml.safe_load_all(path.read_text()):
                yield path, doc


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for _p, d in _manifests() if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _pod() -> dict[str, Any]:
    return _one("Deployment")["spec"]["template"]["spec"]


def _gunicorn_default_port() -> int:
    """The port deploy/gunicorn.conf.py binds when neither PORT nor GUNICORN_BIND is set
    (read in a child process: the file is executed as gunicorn would)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "GUNICORN_BIND")}
    code = "import runpy, sys; print(runpy.run_path(sys.argv[1])['bind'][0])"
    out = subprocess.run([sys.executable, "-c", code, str(DEPLOY / "gunicorn.conf.py")],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    return int(out.stdout.strip().rsplit(":", 1)[1])


def _secret_values(replace: bool) -> dict[str, str]:
    values = dict(_one("Secret")["stringData"])
    if replace:
        values = {k: v.replace("REPLACE-ME", "pw") for k, v in values.items()}
        values["BROKER_SECRET_KEY"] = SAMPLE_SECRET_KEY
    return values


def _k8s_settings_errors(tmp_path: Path, replace_placeholders: bool) -> list[str]:
    env = dict(_one("ConfigMap", "cognate-env")["data"])
    toml = tmp_path / "cognate.toml"
    toml.write_text(_one("ConfigMap", "cognate-toml")["data"]["cognate.toml"])
    env["BROKER_CONFIG"] = str(toml)
    return validate(load_settings({**env, **_secret_values(replace_placeholders)}))


# -- every file ---------------------------------------------------------------------

def test_every_deploy_yaml_parses_and_names_its_kind():
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert DEPLOY / "compose.yaml" in files and len(files) >= 9
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, f"{path} is empty"
        if path.parent == K8S:
            assert all(d.get("apiVersion") and d.get("kind") for d in docs), path


# -- compose ------------------------------------------------------------------------

def test_compose_file_follows_the_compose_specification():
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(DEPLOY / "compose.yaml")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _compose_spec_problems(compose: dict[str, Any], tmp_path: Path) -> str:
    """What the Compose Specification's schema (check-jsonschema's vendored copy, offline)
    finds wrong in ``compose``: empty when it is valid."""
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(compose))
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=120)
    return "" if proc.returncode == 0 else proc.stdout + proc.stderr


def _interpolated(compose: Any, env: dict[str, str]) -> Any:
    """``compose`` with every ``${VAR...}`` replaced as Compose replaces it."""
    if isinstance(compose, dict):
        return {k: _interpolated(v, env) for k, v in compose.items()}
    if isinstance(compose, list):
        return [_interpolated(v, env) for v in compose]
    return _interpolate(compose, env) if isinstance(compose, str) else compose


def test_compose_file_with_its_variables_set_follows_the_specification(tmp_path):
    """What `docker compose config` checks, without a container engine: the file as Compose
    reads it once its variables are set, and a message for each required one left out."""
    given = {"BROKER_BASE_URL": "https://auth.example.com", "BROKER_SECRET_KEY": SAMPLE_SECRET_KEY,
             "POSTGRES_PASSWORD": "pw"}
    assert _compose_spec_problems(_interpolated(_compose(), given), tmp_path) == ""

    required = {m[1] for m in _VAR.finditer((DEPLOY / "compose.yaml").read_text()) if m[2] == ":?"}
    assert required == set(given)
    for name in required:
        with pytest.raises(KeyError, match=name):
            _interpolated(_compose(), {k: v for k, v in given.items() if k != name})

    # And the validator is real: an unknown service option is refused.
    broken = _interpolated(_compose(), given)
    broken["services"]["migrate"]["restartt"] = broken["services"]["migrate"].pop("restart")
    assert "restartt" in _compose_spec_problems(broken, tmp_path)


def test_compose_starts_services_in_order_and_checks_their_health():
    services = _compose()["services"]
    assert {"postgres", "redis", "migrate", "cognate", "nginx"} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["cognate"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["broker", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("migrate", "cognate"):
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert services[name]["image"] == services["cognate"]["image"]

    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}
    assert conditions("migrate") == {"postgres": "service_healthy"}
    assert conditions("cognate") == {"migrate": "service_completed_successfully",
                                     "postgres": "service_healthy", "redis": "service_healthy"}
    assert conditions("nginx") == {"cognate": "service_healthy"}

    for name in ("postgres", "redis", "cognate", "nginx"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    probe = " ".join(services["cognate"]["healthcheck"]["test"])
    assert "/health" in probe and "/ready" in probe
    # Durable data survives `docker compose down` (without -v).
    volumes = _compose()["volumes"]
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        source, target = services[name]["volumes"][0].split(":")[:2]
        assert source in volumes and target == path


def test_compose_commits_no_secret_and_requires_the_secret_key():
    compose = _compose()
    env = compose["services"]["cognate"]["environment"]
    assert compose["services"]["migrate"]["environment"] == env
    assert env["BROKER_ENV"] == "production"
    for name in ("BROKER_SECRET_KEY", "BROKER_BASE_URL"):
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", env[name]), name
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}",
                        compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"])
    with pytest.raises(KeyError, match="BROKER_SECRET_KEY"):
        _interpolate(env["BROKER_SECRET_KEY"], {})

    # Every value that could hold a secret comes from a variable, never from this file.
    markers = {m[1]: f"<{m[1]}>" for m in _VAR.finditer((DEPLOY / "compose.yaml").read_text())}
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            value = _interpolate(str(value), markers)
            if re.search(r"SECRET|PASSWORD|TOKEN|KEY", key):
                assert value == "" or re.fullmatch(r"<\w+>", value), key
            if "://" in value:
                password = urlsplit(value).password
                assert password is None or re.fullmatch(r"<\w+>", password), key


def test_compose_settings_are_a_valid_production_config():
    env = _compose()["services"]["cognate"]["environment"]
    given = {"BROKER_BASE_URL": "https://auth.example.com", "BROKER_SECRET_KEY": SAMPLE_SECRET_KEY,
             "POSTGRES_PASSWORD": "pw"}
    environ = {k: _interpolate(str(v), given) for k, v in env.items()}
    assert environ["BROKER_TRUSTED_PROXIES"] == "1"
    settings = load_settings(environ)
    assert validate(settings) == []
    assert settings.trusted_proxies == 1 and urlsplit(settings.database_url).hostname == "postgres"
    assert urlsplit(settings.redis_url or "").hostname == "redis"


def test_ports_agree_with_gunicorns_default():
    port = _gunicorn_default_port()
    services = _compose()["services"]
    assert services["cognate"]["expose"] == [str(port)]
    assert f"127.0.0.1:{port}" in " ".join(services["cognate"]["healthcheck"]["test"])
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.M) and f"PORT={port}" in dockerfile
    assert re.search(rf"^\s*server cognate:{port}\b", (DEPLOY / "nginx.conf").read_text(), re.M)
    container = _pod()["containers"][0]
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert _one("ConfigMap", "cognate-env")["data"]["PORT"] == str(port)


def test_nginx_round_robins_over_the_nodes_with_forwarded_headers():
    conf = (DEPLOY / "nginx.conf").read_text()
    conf = re.sub(r"#.*", "", conf)
    upstream = re.search(r"upstream cognate \{(.*?)\}", conf, re.S)
    assert upstream, "no upstream block"
    assert not re.search(r"\b(ip_hash|hash|least_conn|least_time|random|sticky)\b", upstream.group(1))
    assert "proxy_pass http://cognate;" in conf
    for header, value in (("X-Forwarded-For", "$remote_addr"), ("X-Forwarded-Proto", "$scheme"),
                          ("X-Forwarded-Host", "$http_host")):
        assert re.search(rf"proxy_set_header {header} \{value};", conf), header
    # The certificate paths are where compose mounts the TLS folder.
    nginx = _compose()["services"]["nginx"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in nginx["volumes"] if not v.startswith("$")}
    assert mounts["/etc/nginx/nginx.conf"] == "./nginx.conf"
    assert any(v.split(":")[-2] == "/etc/nginx/tls" for v in nginx["volumes"])
    assert re.findall(r"ssl_certificate(?:_key)? (\S+);", conf) == ["/etc/nginx/tls/tls.crt",
                                                                    "/etc/nginx/tls/tls.key"]


# -- Kubernetes ---------------------------------------------------------------------

def test_manifests_match_the_kubernetes_schema():
    kinds = set()
    for path, doc in _manifests():
        kinds.add((doc["apiVersion"], doc["kind"]))
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "cognate", path
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{path.name} {doc['kind']} (Kubernetes {version}): "
                            f"{'.'.join(map(str, exc.path))}: {exc.message}")
    assert kinds == {
        ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "Deployment"),
        ("v1", "Service"), ("networking.k8s.io/v1", "Ingress"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
        ("batch/v1", "CronJob"),
    }


def test_kustomization_lists_every_manifest_and_renders():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files
    assert kustomization["namespace"] == "cognate"
    image_names = {c["image"] for c in _pod()["containers"] + _pod()["initContainers"]}
    assert image_names == {entry["name"] for entry in kustomization["images"]}
    # kubectl renders offline; where it is installed, the rendered set is the same resources.
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        rendered = [d for d in yaml.safe_load_all(out.stdout) if d]
        assert sorted((d["kind"], d["metadata"]["name"]) for d in rendered) == sorted(
            (d["kind"], d["metadata"]["name"]) for _p, d in _manifests())
        deployment = next(d for d in rendered if d["kind"] == "Deployment")
        image = kustomization["images"][0]
        assert {c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]} == {
            f"{image['newName']}:{image['newTag']}"}


def test_selectors_match_the_pod_template_labels():
    deployment = _one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = {
        "Deployment": deployment["spec"]["selector"]["matchLabels"],
        "Service": _one("Service")["spec"]["selector"],
        "PodDisruptionBudget": _one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    }
    for c in _pod()["topologySpreadConstraints"]:
        selectors["topologySpread"] = c["labelSelector"]["matchLabels"]
    for owner, selector in selectors.items():
        assert selector and selector.items() <= labels.items(), owner
    assert deployment["spec"]["replicas"] == 2


def test_probes_and_service_reach_the_container_port():
    container = _pod()["containers"][0]
    by_name = {p["name"]: p["containerPort"] for p in container["ports"]}
    numbers = set(by_name.values())

    def port(ref: str | int) -> int:
        return by_name[ref] if isinstance(ref, str) else ref
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {k: p["path"] for k, p in probes.items()} == {
        "startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}
    assert all(port(p["port"]) in numbers for p in probes.values())
    service = _one("Service")
    assert all(port(p["targetPort"]) in numbers for p in service["spec"]["ports"])

    ingress = _one("Ingress")["spec"]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    host = urlsplit(_one("ConfigMap", "cognate-env")["data"]["BROKER_BASE_URL"]).hostname
    assert ingress["rules"][0]["host"] == host
    assert host in ingress["tls"][0]["hosts"] and ingress["tls"][0]["secretName"]


def test_hpa_scales_the_deployment_on_cpu():
    hpa = _one("HorizontalPodAutoscaler")["spec"]
    deployment = _one("Deployment")
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": deployment["metadata"]["name"]}
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    # Utilization is relative to the request: every container must request CPU.
    assert all(c["resources"]["requests"]["cpu"] for c in _pod()["containers"])


def test_pod_runs_locked_down_and_migrates_first():
    pod = _pod()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    volumes = {v["name"]: v for v in pod["volumes"]}
    for container in pod["initContainers"] + pod["containers"]:
        name = container["name"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= container["resources"][kind].keys(), name
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        for path in ("/app/var", "/tmp"):
            assert "emptyDir" in volumes[mounts[path]], (name, path)
    assert [c["command"] for c in pod["initContainers"]] == [["broker", "db", "upgrade"]]
    # `broker db upgrade` checks the production settings too: it needs the same secrets.
    for container in pod["initContainers"] + pod["containers"]:
        assert REQUIRED_SECRETS <= {e["name"] for e in container["env"]}, container["name"]
        assert container["envFrom"] == pod["containers"][0]["envFrom"]


def test_cronjob_prunes_daily_as_the_deployments_containers_run():
    cron = _one("CronJob")["spec"]
    pod, server = cron["jobTemplate"]["spec"]["template"], _pod()
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["broker", "db", "prune"]
    minute, hour, *every = cron["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and every == ["*", "*", "*"]
    assert cron["concurrencyPolicy"] == "Forbid" and pod["spec"]["restartPolicy"] == "OnFailure"
    assert 1 <= cron["successfulJobsHistoryLimit"] <= 5 and 1 <= cron["failedJobsHistoryLimit"] <= 5
    # The same image, settings and lockdown as the server's containers; the migration's secrets.
    for other in server["initContainers"] + server["containers"]:
        for key in ("image", "imagePullPolicy", "envFrom", "securityContext"):
            assert container[key] == other[key], (other["name"], key)
    migrate = server["initContainers"][0]
    assert container["env"] == migrate["env"] and container["volumeMounts"] == migrate["volumeMounts"]
    for key in ("securityContext", "volumes", "automountServiceAccountToken", "enableServiceLinks"):
        assert pod["spec"][key] == server[key], key
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
    # Its pods get no traffic and do not count as servers (Service, PDB, Deployment).
    labels = pod["metadata"]["labels"].items()
    for selector in (_one("Service")["spec"]["selector"], _one("Deployment")["spec"]["selector"]["matchLabels"],
                     _one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"]):
        assert not selector.items() <= labels, selector
    kubectl = shutil.which("kubectl")
    if kubectl:  # kustomize sets its image as the Deployment's
        out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        rendered = {d["kind"]: d for d in yaml.safe_load_all(out.stdout) if d}
        job = rendered["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        server_pod = rendered["Deployment"]["spec"]["template"]["spec"]
        assert job["containers"][0]["image"] == server_pod["containers"][0]["image"]


def test_referenced_configmaps_and_secret_keys_exist():
    pod = _pod()
    secrets = {d["metadata"]["name"]: d for _p, d in _manifests() if d["kind"] == "Secret"}
    configmaps = {d["metadata"]["name"]: d for _p, d in _manifests() if d["kind"] == "ConfigMap"}
    for container in pod["initContainers"] + pod["containers"]:
        for source in container["envFrom"]:
            assert source["configMapRef"]["name"] in configmaps
        for env in container["env"]:
            ref = env["valueFrom"]["secretKeyRef"]
            assert ref["key"] in secrets[ref["name"]]["stringData"], ref
    for volume in pod["volumes"]:
        if "configMap" in volume:
            assert volume["configMap"]["name"] in configmaps
    # BROKER_CONFIG names the file that the config volume mounts.
    config_path = Path(configmaps["cognate-env"]["data"]["BROKER_CONFIG"])
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config")
    assert str(config_path.parent) == mount["mountPath"]
    assert config_path.name in configmaps["cognate-toml"]["data"]


def test_k8s_settings_are_refused_until_the_placeholders_are_replaced(tmp_path):
    secret = _one("Secret")
    assert "data" not in secret and REQUIRED_SECRETS <= secret["stringData"].keys()
    assert all("REPLACE-ME" in v for v in secret["stringData"].values())
    assert "BROKER_SECRET_KEY must be at least 32 characters" in _k8s_settings_errors(tmp_path, False)
    assert _k8s_settings_errors(tmp_path, True) == []
