"""Cognito's user import jobs against a real server, with boto3 and the AWS CLI signed by an
admin key: GetCSVHeader, CreateUserImportJob, the CSV PUT to the job's PreSignedUrl with
``requests`` (as to S3's), StartUserImportJob, DescribeUserImportJob until Succeeded, the
imported users signing in; StopUserImportJob and ListUserImportJobs. A tampered or expired
URL is refused with 403 and stores nothing."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import bcrypt
import pytest
import requests
import sqlalchemy as sa

from broker.errors import PreconditionNotMet
from broker.sealing import Sealer
from broker.store.db import Database
from broker.store.models import UserPool
from broker.userpool import import_jobs
from tests.aws import api_broker, cognito_idp, refused
from tests.flows.test_api_admin_keys import admin
from tests.rp import CALLBACK

AWS = str(Path(sys.executable).parent / "aws")
ROLE = "arn:aws:iam::123456789012:role/CognitoImport"
PASSWORD = "Imported-Pw-9!"
HEADER = "cognito:username,cognito:mfa_enabled,email,email_verified,cognate:password_hash\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with api_broker(tmp_path_factory.mktemp("importjobs"), redis_url) as broker:
        yield broker


@pytest.fixture
def site(server):
    pool = server.pool()
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             "--auth-flow", "ALLOW_USER_PASSWORD_AUTH")
    key = server.cli_json("admin-key", "create", "--pool", pool)
    return pool, client["ClientId"], key


def _csv(*names: str, bad: bool = True) -> bytes:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    rows = [f"{n},false,{n}@example.com,true,{hashed}\n" for n in names]
    return (HEADER + "".join(rows) + ("broken,false,not-an-email,true,\n" if bad else "")).encode()


def _wait(describe, job_id: str) -> dict:
    deadline = time.time() + 30
    while time.time() < deadline:
        job = describe(job_id)
        if job["Status"] in ("Succeeded", "Failed", "Stopped"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def _stored(server, job_id: str) -> tuple:
    engine = sa.create_engine(server.env["DATABASE_URL"])
    with engine.connect() as db:
        row = db.execute(sa.text("SELECT uploaded_at, body FROM user_import_jobs WHERE id = :id"), {"id": job_id}).one()
    engine.dispose()
    return tuple(row)


def _signs_in(server, client_id: str, username: str) -> bool:
    result = cognito_idp(server.base_url).initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                                        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
    return "AuthenticationResult" in result


def test_boto3_creates_uploads_starts_and_the_users_sign_in(server, site):
    pool, client_id, key = site
    idp = admin(server, key)
    header = idp.get_csv_header(UserPoolId=pool)
    assert header["UserPoolId"] == pool and header["CSVHeader"][-3:] == [
        "cognito:mfa_enabled", "cognito:username", "cognate:password_hash"]
    assert "email_verified" in header["CSVHeader"] and "phone_number_verified" in header["CSVHeader"]
    job = idp.create_user_import_job(UserPoolId=pool, JobName="from legacy", CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert job["Status"] == "Created" and job["JobId"].startswith("import-") and job["CloudWatchLogsRoleArn"] == ROLE
    put = requests.put(job["PreSignedUrl"], data=_csv("ann", "ben"), timeout=10)
    assert put.status_code == 200 and put.headers["ETag"]
    started = idp.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])["UserImportJob"]
    assert started["Status"] in ("Pending", "InProgress", "Succeeded") and "StartDate" in started
    done = _wait(lambda j: idp.describe_user_import_job(UserPoolId=pool, JobId=j)["UserImportJob"], job["JobId"])
    assert (done["Status"], done["ImportedUsers"], done["FailedUsers"], done["SkippedUsers"]) == ("Succeeded", 2, 1, 0)
    assert "CompletionDate" in done and "1 rows failed" in done["CompletionMessage"]
    assert _signs_in(server, client_id, "ann") and _signs_in(server, client_id, "ben")
    report = server.cli_json("user", "import-job", "report", "--pool", pool, "--job", job["JobId"])
    assert report["Rejected"] == [{"Line": 4, "Username": "broken", "Reason": "Enter a valid email address."}]
    assert _stored(server, job["JobId"])[1] is None  # the file is dropped once imported
    assert requests.put(job["PreSignedUrl"], data=_csv("cat"), timeout=10).status_code == 403  # started: no more files


def test_list_pages_and_stop(server, site):
    pool, _client_id, key = site
    idp = admin(server, key)
    ids = [idp.create_user_import_job(UserPoolId=pool, JobName=f"job {i}", CloudWatchLogsRoleArn=ROLE)
           ["UserImportJob"]["JobId"] for i in range(3)]
    first = idp.list_user_import_jobs(UserPoolId=pool, MaxResults=2)
    second = idp.list_user_import_jobs(UserPoolId=pool, MaxResults=2, PaginationToken=first["PaginationToken"])
    assert [j["JobId"] for j in first["UserImportJobs"] + second["UserImportJobs"]] == ids
    assert "PaginationToken" not in second
    stopped = idp.stop_user_import_job(UserPoolId=pool, JobId=ids[0])["UserImportJob"]
    assert stopped["Status"] == "Stopped"
    assert refused(lambda: idp.start_user_import_job(UserPoolId=pool, JobId=ids[0]))[0] == "PreconditionNotMetException"
    assert refused(lambda: idp.stop_user_import_job(UserPoolId=pool, JobId=ids[0]))[0] == "PreconditionNotMetException"


def test_bad_calls_get_aws_errors(server, site):
    pool, _client_id, key = site
    idp = admin(server, key)
    job = idp.create_user_import_job(UserPoolId=pool, JobName="empty", CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    code, message = refused(lambda: idp.start_user_import_job(UserPoolId=pool, JobId=job["JobId"]))
    assert code == "PreconditionNotMetException" and "No CSV file" in message
    assert refused(lambda: idp.describe_user_import_job(UserPoolId=pool, JobId="import-nothere"))[0] == \
        "ResourceNotFoundException"
    assert refused(lambda: idp.list_user_import_jobs(UserPoolId=pool, MaxResults=5, PaginationToken="x"))[0] == \
        "InvalidParameterException"
    assert refused(lambda: idp.create_user_import_job(UserPoolId=pool, JobName="j", CloudWatchLogsRoleArn="not an ARN, long enough"))[0] \
        == "InvalidParameterException"  # the model's ARN pattern
    other = server.pool()
    assert refused(lambda: idp.get_csv_header(UserPoolId=other))[0] == "AccessDeniedException"
    assert refused(lambda: idp.describe_user_import_job(UserPoolId=other, JobId=job["JobId"]))[0] == \
        "AccessDeniedException"
    unsigned = requests.post(server.base_url + "/", data=json.dumps({"UserPoolId": pool}), timeout=10, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityProviderService.GetCSVHeader"})
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return parts._replace(query=urlencode({**query, **changes})).geturl()


def test_a_tampered_or_expired_url_is_refused_and_stores_nothing(server, site):
    pool, _client_id, key = site
    idp = admin(server, key)
    job = idp.create_user_import_job(UserPoolId=pool, JobName="target", CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    other = idp.create_user_import_job(UserPoolId=pool, JobName="other", CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    url, query = job["PreSignedUrl"], parse_qs(urlsplit(job["PreSignedUrl"]).query)
    signature, expires = query["signature"][0], query["expires"][0]
    past = str(int(time.time()) - 60)
    secret = server.env["BROKER_SECRET_KEY"]
    signed_past = Sealer(secret).mac("import-job-upload", f"{pool}\n{job['JobId']}\n{past}".encode()).hex()
    tries = {
        "changed signature": _with(url, signature=("0" if signature[0] != "0" else "1") + signature[1:]),
        "no signature": url.split("?")[0] + f"?expires={expires}",
        "later expiry": _with(url, expires=str(int(expires) + 86400)),
        "another job": other["PreSignedUrl"].split("?")[0] + "?" + urlsplit(url).query,
        "expired": _with(url, expires=past, signature=signed_past),
        "signed by another server": _with(url, signature=Sealer("another-secret-key-0123456789abcdef").mac(
            "import-job-upload", f"{pool}\n{job['JobId']}\n{expires}".encode()).hex()),
    }
    for name, bad in tries.items():
        answer = requests.put(bad, data=_csv("eve"), timeout=10)
        assert answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text, name
    assert _stored(server, job["JobId"]) == (None, None) and _stored(server, other["JobId"]) == (None, None)
    assert refused(lambda: idp.start_user_import_job(UserPoolId=pool, JobId=job["JobId"]))[0] == \
        "PreconditionNotMetException"


def test_an_upload_past_the_limit_is_refused_before_it_is_read(server, site):
    pool, _client_id, key = site
    job = admin(server, key).create_user_import_job(UserPoolId=pool, JobName="big",
                                                    CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    parts = urlsplit(job["PreSignedUrl"])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}")
    conn.putheader("Content-Length", str(100 * 1024 * 1024 + 1))
    conn.endheaders()
    conn.send(_csv("big"))
    answer = conn.getresponse()
    assert answer.status == 413 and b"EntityTooLarge" in answer.read()
    conn.close()
    assert _stored(server, job["JobId"]) == (None, None)


def test_a_malformed_file_fails_the_job_and_imports_nothing(server, site):
    pool, _client_id, key = site
    idp = admin(server, key)
    job = idp.create_user_import_job(UserPoolId=pool, JobName="bad", CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert requests.put(job["PreSignedUrl"], data=_csv("fay") + b'gus,false,"gus@example.com,true\n',
                        timeout=10).status_code == 200
    idp.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])
    done = _wait(lambda j: idp.describe_user_import_job(UserPoolId=pool, JobId=j)["UserImportJob"], job["JobId"])
    assert done["Status"] == "Failed" and "not CSV" in done["CompletionMessage"] and done["ImportedUsers"] == 0
    assert server.cli_json("user", "list", "--pool", pool)["Users"] == []


def test_a_job_limited_to_one_algorithm_refuses_other_hashes(server, site):
    pool, client_id, key = site
    idp = admin(server, key)
    job = idp.create_user_import_job(UserPoolId=pool, JobName="argon only", CloudWatchLogsRoleArn=ROLE,
                                     PasswordHashingAlgorithm="ARGON2ID")["UserImportJob"]
    assert job["PasswordHashingAlgorithm"] == "ARGON2ID"
    requests.put(job["PreSignedUrl"], data=_csv("hal", bad=False), timeout=10)
    idp.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])
    done = _wait(lambda j: idp.describe_user_import_job(UserPoolId=pool, JobId=j)["UserImportJob"], job["JobId"])
    assert (done["ImportedUsers"], done["FailedUsers"]) == (0, 1)


def _aws(server, key: dict, *args: str) -> dict:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    result = subprocess.run([AWS, "cognito-idp", *args, "--endpoint-url", server.base_url, "--region", "us-east-1",
                             "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_the_aws_cli_runs_each_operation(server, site):
    pool, client_id, key = site
    header = _aws(server, key, "get-csv-header", "--user-pool-id", pool)
    assert "cognito:username" in header["CSVHeader"]
    job = _aws(server, key, "create-user-import-job", "--user-pool-id", pool, "--job-name", "cli job",
               "--cloud-watch-logs-role-arn", ROLE)["UserImportJob"]
    assert requests.put(job["PreSignedUrl"], data=_csv("ivy", bad=False), timeout=10).status_code == 200
    started = _aws(server, key, "start-user-import-job", "--user-pool-id", pool, "--job-id", job["JobId"])
    assert started["UserImportJob"]["JobId"] == job["JobId"]
    done = _wait(lambda j: _aws(server, key, "describe-user-import-job", "--user-pool-id", pool, "--job-id", j)
                 ["UserImportJob"], job["JobId"])
    assert done["Status"] == "Succeeded" and done["ImportedUsers"] == 1
    assert _signs_in(server, client_id, "ivy")
    listed = _aws(server, key, "list-user-import-jobs", "--user-pool-id", pool, "--max-results", "10")
    assert [j["JobId"] for j in listed["UserImportJobs"]] == [job["JobId"]]
    second = _aws(server, key, "create-user-import-job", "--user-pool-id", pool, "--job-name", "to stop",
                  "--cloud-watch-logs-role-arn", ROLE)["UserImportJob"]
    stopped = _aws(server, key, "stop-user-import-job", "--user-pool-id", pool, "--job-id", second["JobId"])
    assert stopped["UserImportJob"]["Status"] == "Stopped"


def test_of_two_starts_at_once_one_runs(server, site):
    """A second StartUserImportJob that read the job as Created before the first committed
    (a stale read, as when both arrive together) is refused, and the file is imported once."""
    pool, _client_id, key = site
    idp = admin(server, key)
    job = idp.create_user_import_job(UserPoolId=pool, JobName="twice", CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert requests.put(job["PreSignedUrl"], data=_csv("ike", bad=False), timeout=10).status_code == 200
    db = Database(server.env["DATABASE_URL"], Sealer(server.env["BROKER_SECRET_KEY"]))
    try:
        with db.sessions() as late:
            seen = import_jobs.find(late, late.get(UserPool, pool), job["JobId"])
            late.commit()  # the job stays as read: Created
            assert seen.status == "Created"
            idp.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])
            with pytest.raises(PreconditionNotMet):
                import_jobs.start(db, late, late.get(UserPool, pool), job["JobId"])
    finally:
        db.dispose()
    done = _wait(lambda j: idp.describe_user_import_job(UserPoolId=pool, JobId=j)["UserImportJob"], job["JobId"])
    assert (done["Status"], done["ImportedUsers"], done["FailedUsers"]) == ("Succeeded", 1, 0)


def test_an_upload_whose_body_ends_after_the_start_stores_nothing(server, site):
    pool, _client_id, key = site
    idp = admin(server, key)
    job = idp.create_user_import_job(UserPoolId=pool, JobName="slow", CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    assert requests.put(job["PreSignedUrl"], data=_csv("jan", bad=False), timeout=10).status_code == 200
    late = _csv("kai", bad=False)
    parts = urlsplit(job["PreSignedUrl"])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}")
    conn.putheader("Content-Length", str(len(late)))
    conn.endheaders()
    conn.send(late[:10])  # checked, then the body is read: meanwhile the job starts
    time.sleep(0.3)
    idp.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])
    conn.send(late[10:])
    answer = conn.getresponse()
    assert answer.status == 403 and b"has started" in answer.read()
    conn.close()
    done = _wait(lambda j: idp.describe_user_import_job(UserPoolId=pool, JobId=j)["UserImportJob"], job["JobId"])
    assert (done["Status"], done["ImportedUsers"]) == ("Succeeded", 1)
    users = [u["Username"] for u in server.cli_json("user", "list", "--pool", pool)["Users"]]
    assert users == ["jan"] and _stored(server, job["JobId"])[1] is None


def test_a_signature_that_is_not_ascii_is_refused_as_any_wrong_one(server, site):
    pool, _client_id, key = site
    job = admin(server, key).create_user_import_job(UserPoolId=pool, JobName="accent",
                                                    CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    for signature in ("%C3%A9", "%FF", "%C3%A9" * 32):
        url = job["PreSignedUrl"].split("signature=")[0] + "signature=" + signature
        answer = requests.put(url, data=_csv("lou"), timeout=10)
        assert answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text, signature
    assert _stored(server, job["JobId"]) == (None, None)


@pytest.mark.parametrize("token", ["-1", "-100", "9" * 40, "+1", " 1", "\u0661"])
def test_a_pagination_token_that_is_no_offset_is_refused(server, site, token):
    pool, _client_id, key = site
    refusal = refused(lambda: admin(server, key).list_user_import_jobs(UserPoolId=pool, MaxResults=5,
                                                                       PaginationToken=token))
    assert refusal[0] == "InvalidParameterException"
