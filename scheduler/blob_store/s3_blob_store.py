"""The blob store on S3: inputs written by the scheduler, results and logs by agents.

Keys are `jobs/<job_id>/input`, and `jobs/<job_id>/attempts/<n>/result` and
`.../log` for each attempt n (`jobs/<job_id>/result` and `/log` for attempt 0:
jobs run before attempts had their own objects).
Agents upload gzip to presigned PUT URLs signed with SigV4 over the
Content-Type and x-amz-tagging headers, so an upload must send exactly the
headers returned in the target (S3 answers 403 otherwise) and a result or log
carries the same lifecycle tags as its input; owners download through
presigned GET links. The bytes never pass through the scheduler.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.blob_store.blob_store import StoredAttempt, StoredInput
from scheduler.domain.errors import NotFound
from scheduler.domain.jobs import DownloadLink, UploadTarget

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

_SERVICE = "S3"
GZIP = "application/gzip"
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_JOBS_PREFIX = "jobs/"
_INPUT_SUFFIX = "/input"
_ATTEMPT_KEY = re.compile(r"jobs/([^/]+)/attempts/([1-9][0-9]*)/(?:result|log)")


def input_key(job_id: str) -> str:
    return f"{_JOBS_PREFIX}{job_id}{_INPUT_SUFFIX}"


def _input_job_id(key: str) -> str | None:
    """The job id of an input key, None for any other key."""
    if not (key.startswith(_JOBS_PREFIX) and key.endswith(_INPUT_SUFFIX)):
        return None
    job_id = key[len(_JOBS_PREFIX) : -len(_INPUT_SUFFIX)]
    return job_id if job_id and "/" not in job_id else None


def result_key(job_id: str, attempt: int) -> str:
    return _attempt_key(job_id, attempt, "result")


def log_key(job_id: str, attempt: int) -> str:
    return _attempt_key(job_id, attempt, "log")


def _attempt_key(job_id: str, attempt: int, kind: str) -> str:
    if attempt == 0:
        return f"{_JOBS_PREFIX}{job_id}/{kind}"
    return f"{_JOBS_PREFIX}{job_id}/attempts/{attempt}/{kind}"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3BlobStore:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        clock: Callable[[], float] = time.time,
        list_page_size: int = 1000,
    ) -> None:
        """`list_page_size`: keys per ListObjectsV2 call (S3's maximum is 1000)."""
        self._client = client
        self._bucket = bucket
        self._clock = clock
        self._list_page_size = list_page_size

    def put_input(self, job_id: str, payload: bytes, tags: dict[str, str]) -> None:
        """Tags (role, save_job) let bucket lifecycle rules expire unsaved inputs."""
        with translate_aws_errors(_SERVICE):
            self._client.put_object(
                Bucket=self._bucket,
                Key=input_key(job_id),
                Body=payload,
                ContentType="application/octet-stream",
                Tagging=urlencode(tags),
            )

    def get_input(self, job_id: str) -> bytes:
        try:
            with translate_aws_errors(_SERVICE):
                response = self._client.get_object(Bucket=self._bucket, Key=input_key(job_id))
                return response["Body"].read()
        except ClientError as error:
            if _error_code(error) in _MISSING:
                raise NotFound(f"job {job_id} has no stored input") from error
            raise

    def delete_input(self, job_id: str) -> None:
        with translate_aws_errors(_SERVICE):
            self._client.delete_object(Bucket=self._bucket, Key=input_key(job_id))

    def list_inputs(self, written_before: float) -> Iterator[StoredInput]:
        """One ListObjectsV2 page per round trip; results and logs are skipped."""
        for key, written_at in self._listed(written_before):
            job_id = _input_job_id(key)
            if job_id is not None:
                yield StoredInput(job_id, written_at)

    def list_attempts(self, written_before: float) -> Iterator[StoredAttempt]:
        for key, written_at in self._listed(written_before):
            match = _ATTEMPT_KEY.fullmatch(key)
            if match is not None:
                yield StoredAttempt(match[1], int(match[2]), written_at)

    def result_upload_target(
        self, job_id: str, attempt: int, expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        return self._upload_target(result_key(job_id, attempt), expires_in_s, tags)

    def log_upload_target(
        self, job_id: str, attempt: int, expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        return self._upload_target(log_key(job_id, attempt), expires_in_s, tags)

    def result_exists(self, job_id: str, attempt: int) -> bool:
        return self._exists(result_key(job_id, attempt))

    def log_exists(self, job_id: str, attempt: int) -> bool:
        return self._exists(log_key(job_id, attempt))

    def result_download_link(self, job_id: str, attempt: int, expires_in_s: int) -> DownloadLink:
        return self._download_link(result_key(job_id, attempt), expires_in_s)

    def log_download_link(self, job_id: str, attempt: int, expires_in_s: int) -> DownloadLink:
        return self._download_link(log_key(job_id, attempt), expires_in_s)

    def delete_attempt(self, job_id: str, attempt: int) -> None:
        if attempt < 1:
            raise ValueError("only an attempt's own objects are deleted, not the job-level ones")
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": result_key(job_id, attempt)},
            {"Key": log_key(job_id, attempt)},
        ]
        with translate_aws_errors(_SERVICE):
            self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True}
            )

    def _listed(self, written_before: float) -> Iterator[tuple[str, float]]:
        """Every job object's key and write time, if written before `written_before`."""
        with translate_aws_errors(_SERVICE):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket,
                Prefix=_JOBS_PREFIX,
                PaginationConfig={"PageSize": self._list_page_size},
            )
            for page in pages:
                for entry in page.get("Contents", []):
                    modified = entry.get("LastModified")
                    if modified is not None and modified.timestamp() < written_before:
                        yield entry.get("Key", ""), modified.timestamp()

    def _upload_target(self, key: str, expires_in_s: int, tags: dict[str, str]) -> UploadTarget:
        expires_at = self._clock() + expires_in_s
        params: dict[str, str] = {"Bucket": self._bucket, "Key": key, "ContentType": GZIP}
        headers = {"Content-Type": GZIP}
        if tags:
            # Signed as a header: the upload cannot drop or change the tags.
            params["Tagging"] = headers["x-amz-tagging"] = urlencode(tags)
        # Presigning makes no request, but resolving credentials for it may fail.
        with translate_aws_errors(_SERVICE):
            url = self._client.generate_presigned_url(
                "put_object", Params=params, ExpiresIn=expires_in_s, HttpMethod="PUT"
            )
        return UploadTarget(url=url, expires_at=expires_at, headers=headers)

    def _download_link(self, key: str, expires_in_s: int) -> DownloadLink:
        expires_at = self._clock() + expires_in_s
        with translate_aws_errors(_SERVICE):
            url = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in_s
            )
        return DownloadLink(url=url, expires_at=expires_at)

    def _exists(self, key: str) -> bool:
        try:
            with translate_aws_errors(_SERVICE):
                self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _MISSING:
                return False
            raise
        return True
