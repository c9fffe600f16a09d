"""The blob store in memory: inputs, results and logs in a dict, behind one lock.

For tests of the service layer without S3. Presigned targets cannot be URLs
anyone else can reach, so an upload or a download goes through the store
that issued it: `upload(url, data, headers)` and `download(url)` do what an
agent's PUT and an owner's GET do against S3, with S3's checks (the headers
must be exactly the target's, which carry the tags; an expired target or
link is refused). A target's URL names the object and is remembered with
its headers, as a signature would hold them, for the store's life (a test's).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from scheduler.blob_store.blob_store import StoredInput
from scheduler.domain.errors import NotFound
from scheduler.domain.jobs import DownloadLink, UploadTarget

Kind = Literal["input", "result", "log"]
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
    key: tuple[Kind, str]
    expires_at: float
    headers: dict[str, str]


class MemoryBlobStore:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._blobs: dict[tuple[Kind, str], _Blob] = {}
        self._issued: dict[str, _Issued] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def put_input(self, job_id: str, payload: bytes, tags: dict[str, str]) -> None:
        self._write(("input", job_id), payload, tags)

    def get_input(self, job_id: str) -> bytes:
        with self._lock:
            blob = self._blobs.get(("input", job_id))
        if blob is None:
            raise NotFound(f"job {job_id} has no stored input")
        return blob.data

    def delete_input(self, job_id: str) -> None:
        with self._lock:
            self._blobs.pop(("input", job_id), None)

    def list_inputs(self, written_before: float) -> Iterator[StoredInput]:
        with self._lock:
            inputs = [
                StoredInput(job_id, blob.written_at)
                for (kind, job_id), blob in self._blobs.items()
                if kind == "input" and blob.written_at < written_before
            ]
        yield from inputs

    def result_upload_target(
        self, job_id: str, expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        return self._upload_target(("result", job_id), expires_in_s, tags)

    def log_upload_target(
        self, job_id: str, expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        return self._upload_target(("log", job_id), expires_in_s, tags)

    def result_exists(self, job_id: str) -> bool:
        return self._exists(("result", job_id))

    def log_exists(self, job_id: str) -> bool:
        return self._exists(("log", job_id))

    def result_download_link(self, job_id: str, expires_in_s: int) -> DownloadLink:
        return self._download_link(("result", job_id), expires_in_s)

    def log_download_link(self, job_id: str, expires_in_s: int) -> DownloadLink:
        return self._download_link(("log", job_id), expires_in_s)

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
        kind, job_id, expires_at = _parse_link(url)
        if self._clock() > expires_at:
            raise Refused("the download link expired")
        with self._lock:
            blob = self._blobs.get((kind, job_id))
        if blob is None:
            raise NotFound(f"job {job_id} has no {kind}")
        return blob.data

    def tags(self, kind: Kind, job_id: str) -> dict[str, str]:
        """The tags an object carries (for bucket lifecycle rules on S3)."""
        with self._lock:
            blob = self._blobs.get((kind, job_id))
        if blob is None:
            raise NotFound(f"job {job_id} has no {kind}")
        return dict(blob.tags)

    # ---------------------------------------------------------------------------------

    def _write(self, key: tuple[Kind, str], data: bytes, tags: dict[str, str]) -> None:
        blob = _Blob(bytes(data), dict(tags), self._clock())
        with self._lock:
            self._blobs[key] = blob

    def _exists(self, key: tuple[Kind, str]) -> bool:
        with self._lock:
            return key in self._blobs

    def _upload_target(
        self, key: tuple[Kind, str], expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        expires_at = self._clock() + expires_in_s
        headers = {"Content-Type": GZIP}
        if tags:
            headers[TAGS_HEADER] = urlencode(tags)
        kind, job_id = key
        url = f"memory://blobs/jobs/{job_id}/{kind}?upload={next(self._serial)}"
        with self._lock:
            self._issued[url] = _Issued(key, expires_at, headers)
        return UploadTarget(url=url, expires_at=expires_at, headers=dict(headers))

    def _download_link(self, key: tuple[Kind, str], expires_in_s: int) -> DownloadLink:
        expires_at = self._clock() + expires_in_s
        kind, job_id = key
        query = urlencode({"expires": repr(expires_at)})
        return DownloadLink(
            url=f"memory://blobs/jobs/{job_id}/{kind}?{query}", expires_at=expires_at
        )


def _parse_link(url: str) -> tuple[Kind, str, float]:
    path, _, query = url.removeprefix("memory://blobs/jobs/").partition("?")
    job_id, _, kind = path.rpartition("/")
    if kind not in ("result", "log") or not job_id:
        raise NotFound(f"{url!r} is not a download link of this store")
    return kind, job_id, float(dict(parse_qsl(query)).get("expires", "0"))  # type: ignore[return-value]
