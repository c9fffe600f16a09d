"""The blob store in memory: inputs, results and logs in a dict, behind one lock.

For tests of the service layer without S3. Presigned targets cannot be URLs
anyone else can reach, so an upload or a download goes through the store
that issued it: `upload(url, data, headers)` and `download(url)` do what an
agent's PUT and an owner's GET do against S3, with S3's checks (the headers
must be exactly the target's, which carry the tags; an expired target or
link is refused). A target's URL names the object and is remembered with
its headers, as a signature would hold them, for the store's life (a test's).
An object is keyed by its kind, job and attempt (0 for inputs and job-level objects).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from scheduler.blob_store.blob_store import StoredAttempt, StoredInput
from scheduler.domain.errors import NotFound
from scheduler.domain.jobs import DownloadLink, UploadTarget

Kind = Literal["input", "result", "log"]
Key = tuple[Kind, str, int]  # kind, job id, attempt
GZIP = "application/gzip"
TAGS_HEADER = "x-berth-tagging"


class Refused(Exception):
    """What S3 answers 403 to: a URL this store did not issue, an expired one, other headers."""


@dataclass(frozen=True)
class _Blob:
    data: bytes
    tags: dict[str, str]
    written_at: float


@dataclass(frozen=True)
class _Issued:
    key: Key
    expires_at: float
    headers: dict[str, str]


class MemoryBlobStore:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._blobs: dict[Key, _Blob] = {}
        self._issued: dict[str, _Issued] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def put_input(self, job_id: str, payload: bytes, tags: dict[str, str]) -> None:
        self._write(("input", job_id, 0), payload, tags)

    def get_input(self, job_id: str) -> bytes:
        with self._lock:
            blob = self._blobs.get(("input", job_id, 0))
        if blob is None:
            raise NotFound(f"job {job_id} has no stored input")
        return blob.data

    def delete_input(self, job_id: str) -> None:
        with self._lock:
            self._blobs.pop(("input", job_id, 0), None)

    def list_inputs(self, written_before: float) -> Iterator[StoredInput]:
        with self._lock:
            inputs = [
                StoredInput(job_id, blob.written_at)
                for (kind, job_id, _), blob in self._blobs.items()
                if kind == "input" and blob.written_at < written_before
            ]
        yield from inputs

    def list_attempts(self, written_before: float) -> Iterator[StoredAttempt]:
        with self._lock:
            objects = [
                StoredAttempt(job_id, attempt, blob.written_at)
                for (kind, job_id, attempt), blob in self._blobs.items()
                if kind != "input" and attempt > 0 and blob.written_at < written_before
            ]
        yield from objects

    def result_upload_target(
        self, job_id: str, attempt: int, expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        return self._upload_target(("result", job_id, attempt), expires_in_s, tags)

    def log_upload_target(
        self, job_id: str, attempt: int, expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        return self._upload_target(("log", job_id, attempt), expires_in_s, tags)

    def result_exists(self, job_id: str, attempt: int) -> bool:
        return self._exists(("result", job_id, attempt))

    def log_exists(self, job_id: str, attempt: int) -> bool:
        return self._exists(("log", job_id, attempt))

    def result_download_link(self, job_id: str, attempt: int, expires_in_s: int) -> DownloadLink:
        return self._download_link(("result", job_id, attempt), expires_in_s)

    def log_download_link(self, job_id: str, attempt: int, expires_in_s: int) -> DownloadLink:
        return self._download_link(("log", job_id, attempt), expires_in_s)

    def delete_attempt(self, job_id: str, attempt: int) -> None:
        if attempt < 1:
            raise ValueError("only an attempt's own objects are deleted, not the job-level ones")
        with self._lock:
            for kind in ("result", "log"):
                self._blobs.pop((kind, job_id, attempt), None)

    # --- what S3 does for a presigned URL's holder ----------------------------------

    def upload(self, url: str, data: bytes, headers: Mapping[str, str]) -> None:
        """The PUT an agent sends to a target; Refused where S3 answers 403."""
        with self._lock:
            issued = self._issued.get(url)
        if issued is None or self._clock() > issued.expires_at:
            raise Refused("not a live upload target of this store")
        if dict(headers) != issued.headers:
            raise Refused(f"the upload must carry exactly {issued.headers}")
        self._write(issued.key, data, dict(parse_qsl(issued.headers.get(TAGS_HEADER, ""))))

    def download(self, url: str) -> bytes:
        """The GET an owner sends to a link: NotFound until the object is there."""
        key, expires_at = _parse_link(url)
        if self._clock() > expires_at:
            raise Refused("the download link expired")
        return self.data(*key)

    def data(self, kind: Kind, job_id: str, attempt: int = 0) -> bytes:
        """An object's bytes, as they are stored now."""
        return self._blob((kind, job_id, attempt)).data

    def tags(self, kind: Kind, job_id: str, attempt: int = 0) -> dict[str, str]:
        """The tags an object carries (for bucket lifecycle rules on S3)."""
        return dict(self._blob((kind, job_id, attempt)).tags)

    # ---------------------------------------------------------------------------------

    def _blob(self, key: Key) -> _Blob:
        with self._lock:
            blob = self._blobs.get(key)
        if blob is None:
            kind, job_id, attempt = key
            raise NotFound(
                f"job {job_id} has no {kind}" + (f" of attempt {attempt}" if attempt else "")
            )
        return blob

    def _write(self, key: Key, data: bytes, tags: dict[str, str]) -> None:
        blob = _Blob(bytes(data), dict(tags), self._clock())
        with self._lock:
            self._blobs[key] = blob

    def _exists(self, key: Key) -> bool:
        with self._lock:
            return key in self._blobs

    def _upload_target(self, key: Key, expires_in_s: int, tags: dict[str, str]) -> UploadTarget:
        expires_at = self._clock() + expires_in_s
        headers = {"Content-Type": GZIP}
        if tags:
            headers[TAGS_HEADER] = urlencode(tags)
        url = f"{_object_url(key)}?upload={next(self._serial)}"
        with self._lock:
            self._issued[url] = _Issued(key, expires_at, headers)
        return UploadTarget(url=url, expires_at=expires_at, headers=dict(headers))

    def _download_link(self, key: Key, expires_in_s: int) -> DownloadLink:
        expires_at = self._clock() + expires_in_s
        query = urlencode({"expires": repr(expires_at)})
        return DownloadLink(url=f"{_object_url(key)}?{query}", expires_at=expires_at)


_URL_PREFIX = "memory://blobs/jobs/"
_LINK = re.compile(r"([^/]+)(?:/attempts/([1-9][0-9]*))?/(result|log)")


def _object_url(key: Key) -> str:
    """Named as the S3 store names its keys."""
    kind, job_id, attempt = key
    if attempt == 0:
        return f"{_URL_PREFIX}{job_id}/{kind}"
    return f"{_URL_PREFIX}{job_id}/attempts/{attempt}/{kind}"


def _parse_link(url: str) -> tuple[Key, float]:
    path, _, query = url.removeprefix(_URL_PREFIX).partition("?")
    match = _LINK.fullmatch(path)
    if not url.startswith(_URL_PREFIX) or match is None:
        raise NotFound(f"{url!r} is not a download link of this store")
    kind: Kind = "result" if match[3] == "result" else "log"
    key = (kind, match[1], int(match[2] or 0))
    return key, float(dict(parse_qsl(query)).get("expires", "0"))
