"""``PUT /import-jobs/<JobId>?expires=...&signature=...``: the pre-signed URL of a user
import job (:mod:`broker.userpool.import_jobs`), which takes the CSV as AWS's pre-signed S3
URL does (``curl -T users.csv "$URL"``, ``requests.put(url, data=...)``) and answers as S3
does: 200 with the body's ``ETag``, or an XML ``<Error>`` (403 for a URL that is not good,
stored nothing; 413 past the size limit).
"""
from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..userpool import import_jobs
from .pools import open_session

bp = Blueprint("import_upload", __name__)


@bp.put("/import-jobs/<job_id>")
def upload(job_id: str) -> Response:
    session = open_session()
    try:
        job = import_jobs.check_upload(session, job_id, request.args.get("expires", ""),
                                       request.args.get("signature", ""))
    except import_jobs.UploadRefused as exc:
        return _error("AccessDenied", exc.message, 403)
    pool_id, job_id = job.pool_id, job.id
    session.rollback()  # no transaction, nor connection, held while the body arrives, however slowly
    request.max_content_length = import_jobs.MAX_UPLOAD
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", 413)
    try:
        import_jobs.store_upload(session, pool_id, job_id, body)  # only while the job is still Created
    except import_jobs.UploadRefused as exc:
        session.rollback()
        return _error("AccessDenied", exc.message, 403)
    session.commit()
    response = Response(status=200)
    response.headers["ETag"] = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
    return response


def _error(code: str, message: str, status: int) -> Response:
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
           f"<Message>{escape(message)}</Message></Error>")
    return Response(xml, status=status, mimetype="application/xml")
