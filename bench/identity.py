"""Identity-pool credentials: GetCredentialsForIdentity at Cognate, whose STS is moto's server
started by this run, against AssumeRoleWithWebIdentity at that STS alone, in the same run.

Prints:

(a) AssumeRoleWithWebIdentity/s sent straight to moto's STS (the call Cognate makes, with
    a token Cognate signed), and moto's CPU per call;
(b) GetCredentialsForIdentity/s for a guest (the role, an RS512 OpenID token, the STS call)
    ÷ (a);
(c) GetCredentialsForIdentity/s for a user-pool user (its ID token verified each time too)
    ÷ (a);
and where each call's time goes: Cognate's CPU, the stores', moto's and the client's, and
Cognate's share of the CPU that Cognate and the STS spend on it. The three are measured in
turns (three each), so that the machine's drift weighs on all alike. moto is a slow STS
(Python, XML built per answer): against AWS STS or MinIO, Cognate's share is larger.

Then, in this process (the app from ``create_app`` on the same stores, Flask's test client,
this process's CPU counted around each step), Cognate's CPU per user call split into its
steps: the logins verified, the identity resolved, the role, the OpenID token signed, the
STS call (botocore: the request built, the answer's XML parsed), and the rest (Flask, the
JSON protocol, the commit).

    .venv/bin/python bench/identity.py [--seconds 15] [--workers 2] [--clients 4] [--calls 300]
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import time
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import boto3  # noqa: E402

from api_signin import Api, alternate  # noqa: E402
from harness import (Stack, cpu_model, free_port, make_database, process_cpu, start_redis, start_server,  # noqa: E402
                     wait_port)

IDENTITY = "AWSCognitoIdentityService."
CALLBACK = "http://localhost:9000/callback"
USERNAME, PASSWORD = "bench-user", "Corr3ct-Horse!"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity"}]})


def start_moto(stack: Stack) -> tuple[str, int]:
    """moto's server in its own process on loopback; its URL and pid."""
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.procs.append(proc)
    wait_port(port, proc)
    return f"http://127.0.0.1:{port}", proc.pid


def roles(sts_url: str) -> dict[str, str]:
    iam = boto3.client("iam", endpoint_url=sts_url, region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                       aws_secret_access_key="bench")
    return {kind: iam.create_role(RoleName=f"bench-{kind}", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
            for kind in ("authenticated", "unauthenticated")}


def setup(stack: Stack, args: argparse.Namespace) -> dict[str, str]:
    sts_url, moto_pid = start_moto(stack)
    arns = roles(sts_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
    stack.env = env
    env.update({"BROKER_SECRET_KEY": secrets.token_urlsafe(40), "BROKER_DATA_DIR": str(stack.tmp / "var"),
                "REDIS_URL": start_redis(stack, args.redis_url),
                "DATABASE_URL": make_database(stack, args.db, args.postgres_url),
                "BROKER_ENV": "development", "BROKER_STS_ENDPOINT": sts_url,
                # every call comes from this host to one pool: the limits would measure themselves
                "BROKER_IDENTITY_CALLS_PER_MINUTE": "0", "BROKER_IDENTITY_POOL_CALLS_PER_SECOND": "0"})
    port = free_port()  # the server's, known now: the identity pool names the user pool by its issuer
    env["BROKER_BASE_URL"] = f"http://127.0.0.1:{port}"
    if args.db == "postgresql":
        stack.cli("db", "upgrade", as_json=False)
    pool = stack.cli("pool", "create", "--name", "bench")["Id"]
    client = stack.cli("client", "create", "--pool", pool, "--name", "bench-app", "--callback-url", CALLBACK,
                       "--auth-flow", "ALLOW_USER_PASSWORD_AUTH")["ClientId"]
    stack.cli("user", "create", "--pool", pool, "--username", USERNAME, "--password", PASSWORD, "--confirmed")
    identity_pool = stack.cli("identity-pool", "create", "--name", "bench", "--allow-unauthenticated",
                              "--allow-classic-flow", "--user-pool", f"{pool}:{client}",
                              "--authenticated-role", arns["authenticated"],
                              "--unauthenticated-role", arns["unauthenticated"])["IdentityPoolId"]
    start_server(stack, args.workers, args.threads, port=port)
    return {"pool": pool, "client": client, "identity_pool": identity_pool, "sts": sts_url,
            "moto_pid": str(moto_pid), **arns}


def identities(api: Api, ids: dict[str, str]) -> dict[str, object]:
    """A guest identity with a token of its own (GetOpenIdToken, for the STS alone) and a
    user's identity with the user's login."""
    signed_in = api.call("InitiateAuth", {"ClientId": ids["client"], "AuthFlow": "USER_PASSWORD_AUTH",
                                          "AuthParameters": {"USERNAME": USERNAME, "PASSWORD": PASSWORD}})
    provider = f"{api.conn.host}:{api.conn.port}/{ids['pool']}"
    logins = {provider: signed_in["AuthenticationResult"]["IdToken"]}
    guest = api.call("GetId", {"IdentityPoolId": ids["identity_pool"]}, IDENTITY)["IdentityId"]
    user = api.call("GetId", {"IdentityPoolId": ids["identity_pool"], "Logins": logins}, IDENTITY)["IdentityId"]
    token = api.call("GetOpenIdToken", {"IdentityId": guest}, IDENTITY)["Token"]
    return {"guest": guest, "user": user, "logins": logins, "token": token}


def credentials(api: Api, identity_id: str, logins: dict[str, str] | None = None) -> None:
    params = {"IdentityId": identity_id, **({"Logins": logins} if logins else {})}
    answer = api.call("GetCredentialsForIdentity", params, IDENTITY)
    assert answer["Credentials"]["AccessKeyId"] and answer["IdentityId"] == identity_id


def assume_role(sts: Api, role: str, token: str) -> None:
    form = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": role,
            "RoleSessionName": "CognitoIdentityCredentials", "WebIdentityToken": token, "DurationSeconds": "3600"}
    status, body = sts.send("/", urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200 or b"<AccessKeyId>" not in body:
        raise RuntimeError(f"STS: HTTP {status} {body[:120]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--calls", type=int, default=300, help="calls measured in process (300)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a private one")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    stack = Stack(tmp=Path(tempfile.mkdtemp(prefix="cognate-bench-")))
    try:
        ids = setup(stack, args)
        port = int(stack.base_url.rsplit(":", 1)[1])
        found = identities(Api(port), ids)
        sts_port = int(ids["sts"].rsplit(":", 1)[1])
        moto = int(ids["moto_pid"])
        alone, guest, user = alternate(stack, args, (
            lambda api: (lambda sts: lambda: assume_role(sts, ids["unauthenticated"], found["token"]))(Api(sts_port)),
            lambda api: lambda: credentials(api, found["guest"]),
            lambda api: lambda: credentials(api, found["user"], found["logins"])), peer=lambda: process_cpu(moto))
        report(args, alone, guest, user)
        steps(stack, found, args.calls)
    finally:
        stack.close()


#: Cognate's steps of GetCredentialsForIdentity, as :mod:`broker.identity.credentials` calls them.
STEPS = {"logins verified": ("broker.identity.logins", "verify"),
         "identity resolved": ("broker.identity.identities", "resolve"),
         "role chosen": ("broker.identity.roles", "choose"),
         "OpenID token signed": ("broker.identity.tokens", "open_id_token"),
         "STS call (botocore)": ("broker.identity.sts", "assume_role")}


def timed(spent: dict[str, float], name: str, module: str, function: str) -> None:
    """Count this process's CPU in ``module.function`` under ``name`` from now on."""
    found = importlib.import_module(module)
    original = getattr(found, function)

    def wrapper(*args: object, **kwargs: object) -> object:
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - started

    setattr(found, function, wrapper)


def steps(stack: Stack, found: dict, calls: int) -> None:
    """The user's GetCredentialsForIdentity in this process, with this process's CPU (the
    STS's own time is moto's) counted per step of :data:`STEPS`."""
    os.environ.update(stack.env)
    from broker import create_app

    web = create_app().test_client()
    logging.getLogger().setLevel(logging.WARNING)
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": IDENTITY + "GetCredentialsForIdentity"}
    body = json.dumps({"IdentityId": found["user"], "Logins": found["logins"]})

    def call() -> None:
        answer = web.post("/", data=body, headers=headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:200]

    for _ in range(20):
        call()
    spent = dict.fromkeys(STEPS, 0.0)
    for name, (module, function) in STEPS.items():
        timed(spent, name, module, function)
    started = time.process_time()
    for _ in range(calls):
        call()
    total = (time.process_time() - started) / calls * 1000
    print(f"Cognate's CPU per user call, in process ({calls} calls): {total:.2f} ms")
    for name, seconds in spent.items():
        ms = seconds / calls * 1000
        print(f"    {name:<24}{ms:6.2f} ms  {ms / total:4.0%}")
    rest = total - sum(spent.values()) / calls * 1000
    print(f"    {'the rest':<24}{rest:6.2f} ms  {rest / total:4.0%}   (Flask, the JSON protocol, the commit)")


def report(args: argparse.Namespace, alone: dict, guest: dict, user: dict) -> None:
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}); {args.db}, broker serve --workers {args.workers}, "
          f"moto_server, {args.clients} client threads, {args.seconds:g} s each in 3 turns")
    print(f"(a) AssumeRoleWithWebIdentity/s at moto alone:  {alone['rate']:8.1f}   "
          f"(moto {alone['peer_ms']:.1f} ms CPU per call; failures: {alone['failures'] or 'none'})")
    for name, found in (("(b) GetCredentialsForIdentity/s, guest", guest), ("(c) GetCredentialsForIdentity/s, user", user)):
        share = found["server_ms"] / max(found["server_ms"] + found["peer_ms"], 1e-9)
        print(f"{name:<48}{found['rate']:8.1f}  ÷ (a) = {found['rate'] / alone['rate']:.2f}   "
              f"(Cognate {found['server_ms']:.1f} + stores {found['stores_ms']:.1f} + moto {found['peer_ms']:.1f} ms "
              f"CPU per call: Cognate's share {share:.0%}; failures: {found['failures'] or 'none'})")
    busy = max(r["other"] for r in (alone, guest, user))
    print(f"    client CPU per call: {alone['client_ms']:.1f} / {guest['client_ms']:.1f} / {user['client_ms']:.1f} ms; "
          f"other processes kept up to {busy:.2f} CPUs busy")
    if busy > 0.25:
        print("  WARNING: other processes kept the machine busy: do not quote this run")


if __name__ == "__main__":
    main()
