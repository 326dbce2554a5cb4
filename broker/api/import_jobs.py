"""GetCSVHeader and the user import jobs, signed with an admin key: thin calls into
:mod:`broker.userpool.import_jobs` and :mod:`broker.userpool.user_export`, the same import
``broker user import`` runs.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserImportJob.html
"""
from __future__ import annotations

from typing import Any

from ..store.models import UserImportJob
from ..userpool import import_jobs, user_export
from .call import Call
from .registry import operation


@operation("GetCSVHeader")
def get_csv_header(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    return {"UserPoolId": pool.id, "CSVHeader": user_export.csv_header(call.session, pool)}


@operation("CreateUserImportJob")
def create_user_import_job(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """``CloudWatchLogsRoleArn`` is required by AWS's model and kept, not used: the rejected
    rows are in the job's report (``broker user import-job report``)."""
    pool = call.admin_pool(params["UserPoolId"])
    job = import_jobs.create(call.session, pool, params["JobName"], params["CloudWatchLogsRoleArn"],
                             params.get("PasswordHashingAlgorithm"))
    return {"UserImportJob": _described(call, job)}


@operation("StartUserImportJob")
def start_user_import_job(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    job = import_jobs.start(call.runtime.db, call.session, pool, params["JobId"])
    return {"UserImportJob": _described(call, job)}


@operation("StopUserImportJob")
def stop_user_import_job(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    return {"UserImportJob": _described(call, import_jobs.stop(call.session, pool, params["JobId"]))}


@operation("DescribeUserImportJob")
def describe_user_import_job(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    return {"UserImportJob": _described(call, import_jobs.find(call.session, pool, params["JobId"]))}


@operation("ListUserImportJobs")
def list_user_import_jobs(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    jobs, token = import_jobs.listed(call.session, pool, params["MaxResults"], params.get("PaginationToken"))
    out: dict[str, Any] = {"UserImportJobs": [_described(call, job) for job in jobs]}
    return {**out, "PaginationToken": token} if token else out


def _described(call: Call, job: UserImportJob) -> dict[str, Any]:
    url = import_jobs.upload_url(call.runtime.settings.base_url, call.runtime.sealer, job)
    return import_jobs.describe(job, url)
