"""Fetching a result or log object through its presigned URL.

The stored object is gzip bytes served as application/gzip without a
Content-Encoding header. The body is read exactly as stored (no transparent
decoding), so a proxy or emulator that does add Content-Encoding cannot make
us decompress twice. Presigned URLs are credentials until they expire: they
never appear in an error message.
"""

from __future__ import annotations

import gzip
import zlib

import requests
import urllib3.exceptions

from scheduler_client.errors import ResultDownloadError
from scheduler_client.retry import RetryPolicy

_CHUNK = 1 << 16


class ResultLinkRefused(ResultDownloadError):
    """The storage refused the URL (typically 403: expired); a fresh link may work."""


class _TransientDownloadError(ResultDownloadError):
    """A dropped connection, a timeout or a 5xx: worth another try."""


def _fetch_once(url: str, timeout_s: float, what: str) -> bytes:
    try:
        with requests.get(url, timeout=timeout_s, stream=True) as response:
            status = response.status_code
            if status in (401, 403):
                raise ResultLinkRefused(f"the storage refused the {what} link (HTTP {status})")
            if status >= 500:
                raise _TransientDownloadError(f"the storage answered HTTP {status}")
            if status != 200:
                raise ResultDownloadError(f"downloading the {what} failed: HTTP {status}")
            return b"".join(response.raw.stream(_CHUNK, decode_content=False))
    except (requests.ConnectionError, requests.Timeout, urllib3.exceptions.HTTPError) as error:
        # Not str(error): requests puts the URL, and so its signature, in the text.
        raise _TransientDownloadError(f"the download broke off ({type(error).__name__})") from None
    except requests.RequestException as error:
        raise ResultDownloadError(
            f"downloading the {what} failed ({type(error).__name__})"
        ) from None


def download_gzip(url: str, *, timeout_s: float, retry: RetryPolicy, what: str = "result") -> bytes:
    """The un-gzipped object at `url`; dropped connections and 5xx are retried."""
    attempt = 0
    while True:
        try:
            encoded = _fetch_once(url, timeout_s, what)
            break
        except _TransientDownloadError as error:
            attempt += 1
            if attempt >= retry.max_attempts:
                raise ResultDownloadError(
                    f"downloading the {what} failed after {attempt} attempts: {error}"
                ) from None
            retry.sleep(retry.backoff_s(attempt - 1))
    try:
        return gzip.decompress(encoded)
    except (OSError, EOFError, zlib.error) as error:
        raise ResultDownloadError(
            f"the {what} object is not valid gzip ({len(encoded)} bytes): {error}"
        ) from None
