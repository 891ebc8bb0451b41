"""A remote in S3-compatible object storage: AWS S3, Backblaze B2, Cloudflare R2, MinIO, Ceph, SeaweedFS.

`s3://bucket/prefix` stores each object under the key `prefix/name` (no
prefix: under `name`). Settings the URL path cannot carry come as options
(from the CLI) or as query parameters, options winning: `endpoint` (the URL of
an S3-compatible service), `path_style` ("1"/"true": `host/bucket/key` rather
than `bucket.host/key` addressing) and `region`. Credentials and, unless given,
the region come from the standard AWS chain of botocore (the core of boto3):
`AWS_ACCESS_KEY_ID` and friends, `AWS_PROFILE`, `~/.aws/config` and
`~/.aws/credentials`, SSO and instance roles. botocore is imported only when a
backend is opened, so commands that touch no S3 remote never pay for it.

Every object is written with one PutObject, which S3 makes atomic and durable
before it answers. Objects stay far below the 5 GiB single-PUT limit (blocks
are at most a few hundred KiB, event batches a few MiB), so there is no
multipart upload. `put_new` relies on conditional writes (`If-None-Match: *`,
supported by AWS since 2024 and by current MinIO, R2, Ceph and SeaweedFS); a
service that silently ignores the header would turn it into a plain put.

botocore's own retries are turned down to a single attempt: transient failures
are reported as `RemoteError(transient=True)` and retried by
`fog.backends.retry.RetryingBackend`, so backoff has one owner.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from fog.backends.base import check_name, check_range
from fog.errors import AlreadyExists, ObjectNotFound, ReadOnlyRemote, RemoteError, UsageError

OPTIONS = ("endpoint", "path_style", "region", "timeout")
MAX_POOL = 16  # connections per client: enough for fog's parallel uploads
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0  # seconds without a byte from the service before a request fails (option `timeout`)

_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_AUTH = {
    "AccessDenied": "access denied (check AWS credentials and the bucket's permissions)",
    "403": "access denied (check AWS credentials and the bucket's permissions)",
    "AllAccessDisabled": "access to the bucket is disabled",
    "AccountProblem": "the account has a problem that prevents access",
    "InvalidAccessKeyId": "access key not recognised (check AWS credentials)",
    "SignatureDoesNotMatch": "request signature rejected (check the AWS secret key)",
    "ExpiredToken": "AWS session token expired (renew the credentials)",
    "InvalidToken": "AWS session token invalid (check AWS credentials)",
    "TokenRefreshRequired": "AWS session token expired (renew the credentials)",
    "RequestTimeTooSkewed": "the clock is too far from the server's (fix the system time)",
}
_TRANSIENT = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequests",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "ConditionalRequestConflict",  # a concurrent conditional write; retrying settles who won
    "OperationAborted",
}
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class S3Backend:
    """The Backend contract over one bucket (and optional key prefix) of S3-compatible storage.

    Thread-safe: one botocore client, which is itself thread-safe, serves every call.
    """

    page_size = 1000  # keys per ListObjectsV2 request (S3's maximum)

    def __init__(self, client: Any, bucket: str, prefix: str = "", *, url: str | None = None) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._base = f"{self.prefix}/" if self.prefix else ""
        self._where = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.url = url if url is not None else self._where
        self._closed = False

    @classmethod
    def from_url(cls, url: str, *, create: bool = False, options: Mapping[str, str] | None = None) -> S3Backend:
        """Open `s3://bucket/prefix`; with `create`, make the bucket if it is missing.

        Fails at once (permanent RemoteError) on bad credentials or a missing
        bucket, so a misconfigured remote is reported before any work is done.
        """
        bucket, prefix, settings = parse_url(url)
        settings.update({k: v for k, v in (options or {}).items() if v is not None})
        unknown = sorted(set(settings) - set(OPTIONS))
        if unknown:
            raise UsageError(f"remote {url}: unknown S3 option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
        backend = cls(_make_client(url, settings), bucket, prefix, url=url)
        from fog.backends.retry import RetryingBackend  # (botocore makes one attempt: a restarting server is retried)

        RetryingBackend(backend).retry(
            lambda: backend._open_bucket(create=create, region=_bucket_region(backend._client, settings))
        )
        return backend

    # -- the contract -------------------------------------------------------------

    def put(self, name: str, data: bytes) -> None:
        """Store `data` under `name` with one PutObject (atomic and durable on S3)."""
        key = self._key(name)
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except _failures() as e:
            raise self._error(e, "write", name) from e

    def put_new(self, name: str, data: bytes) -> None:
        """Store `data` under `name` unless it exists, with a conditional PutObject (If-None-Match: *)."""
        key = self._key(name)
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except _failures() as e:
            if _status(e) == 412 or _code(e) == "PreconditionFailed":
                raise AlreadyExists(f"{name} already exists on remote {self._where}") from e
            if _status(e) == 501:
                raise RemoteError(
                    f"{self._where}: the service does not support conditional writes (If-None-Match), "
                    "which fog needs to never overwrite event batches"
                ) from e
            raise self._error(e, "write", name) from e

    def get(self, name: str) -> bytes:
        """Return the bytes stored under `name`."""
        key = self._key(name)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            return _read_body(response, None)
        except _failures() as e:
            raise self._error(e, "read", name) from e

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Return up to `length` bytes stored under `name` from byte `offset` (a ranged GetObject).

        A range starting at or past the end is answered 416 InvalidRange, which
        means b''; a missing key is still NoSuchKey. Length 0 is a HeadObject.
        """
        key = self._key(name)
        check_range(offset, length)
        try:
            if length == 0:
                self._client.head_object(Bucket=self.bucket, Key=key)
                return b""
            response = self._client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
            whole = response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 200  # the Range was ignored
            data = _read_body(response, offset + length if whole else length)
        except _failures() as e:
            if _status(e) == 416 or _code(e) == "InvalidRange":
                return b""
            raise self._error(e, "read", name) from e
        return data[offset : offset + length] if whole else data

    def exists(self, name: str) -> bool:
        """Return whether `name` is stored (HeadObject)."""
        key = self._key(name)
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except _failures() as e:
            err = self._error(e, "stat", name)
            if isinstance(err, ObjectNotFound):
                return False
            raise err from e
        return True

    def list(self, prefix: str) -> Iterator[str]:
        """Yield every object name under `prefix` (ListObjectsV2, paginated).

        Keys that could never be object names (a console's `folder/` markers,
        foreign files) are skipped.
        """
        if prefix:
            if not prefix.endswith("/"):
                raise ValueError(f"invalid list prefix: {prefix!r} (must end with '/')")
            check_name(prefix[:-1])
        start = len(self._base)
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._base + prefix, PaginationConfig={"PageSize": self.page_size}
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    name = item["Key"][start:]
                    if _is_name(name):
                        yield name
        except _failures() as e:
            raise self._error(e, "list", prefix or "/") from e

    def delete(self, name: str) -> None:
        """Remove `name`; ObjectNotFound if absent.

        S3's DeleteObject succeeds whether or not the key exists, so a HeadObject
        first tells the two apart. Two racing deleters may therefore both
        succeed; nothing in fog depends on exactly one of them failing.
        """
        key = self._key(name)
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except _failures() as e:
            raise self._error(e, "delete", name) from e

    def sync(self, *, every: bool = False) -> None:
        """Nothing to do: S3 answers a PutObject only once the object is durably stored (any writer's)."""

    def close(self) -> None:
        """Close the client's connection pool. Idempotent."""
        if not self._closed:
            self._closed = True
            self._client.close()

    # -- helpers ------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return self._base + check_name(name)

    def _open_bucket(self, *, create: bool, region: str | None) -> None:
        """Check the bucket exists and the credentials work; with `create`, make a missing bucket."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except _failures() as e:
            err = self._error(e, "open", "bucket")
            if not isinstance(err, ObjectNotFound):  # HeadBucket says "404" for a missing bucket
                raise err from e
            if not create:
                raise RemoteError(
                    f"{self._where}: bucket {self.bucket} does not exist (create it, or check the name and endpoint)"
                ) from e
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if region and region not in ("us-east-1", "aws-global"):  # the default region refuses to be named
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._client.create_bucket(**kwargs)
        except _failures() as e:
            if _code(e) == "BucketAlreadyOwnedByYou":  # someone made it meanwhile: fine
                return
            if _code(e) == "BucketAlreadyExists":
                raise RemoteError(f"{self._where}: bucket name {self.bucket} is taken by another account") from e
            raise self._error(e, "create", "bucket") from e

    def _error(self, e: Exception, action: str, name: str) -> RemoteError:
        """Translate a botocore failure into fog's RemoteError tree, as one line naming the remote."""
        from botocore.exceptions import (
            ClientError,
            ConnectionError,
            FlexibleChecksumError,
            HTTPClientError,
            IncompleteReadError,
            NoCredentialsError,
            PartialCredentialsError,
            SSLError,
        )

        where, failed = self._where, f"cannot {action} {name} on remote {self._where}"
        if isinstance(e, ClientError):
            return self._response_error(e, failed, name, action)
        if isinstance(e, NoCredentialsError | PartialCredentialsError):
            return RemoteError(
                f"{where}: no usable AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_PROFILE, or ~/.aws/credentials)"
            )
        if isinstance(e, SSLError):  # a certificate problem does not fix itself
            return RemoteError(f"{where}: TLS failure talking to the endpoint: {_one_line(e)}")
        if isinstance(e, ConnectionError | HTTPClientError | IncompleteReadError | FlexibleChecksumError):
            return RemoteError(f"{failed}: {_one_line(e)}", transient=True)
        return RemoteError(f"{failed}: {_one_line(e)}")

    def _response_error(self, e: Exception, failed: str, name: str, action: str) -> RemoteError:
        """Translate an error response from the service by its S3 error code and HTTP status."""
        code, status, where = _code(e), _status(e), self._where
        if action in ("write", "delete") and (code in ("AccessDenied", "403") or (status == 403 and code not in _AUTH)):
            # the credentials work (the bucket was opened with them) but may not write
            return ReadOnlyRemote(
                f"remote {where} is read-only: cannot {action} {name} "
                f"(S3 {code or 'HTTP 403'}: access denied; do the credentials allow writing?)"
            )
        if code in _NOT_FOUND or (status == 404 and code != "NoSuchBucket"):
            return ObjectNotFound(f"{name} not found on remote {where}")
        if code == "NoSuchBucket":
            return RemoteError(f"{where}: bucket {self.bucket} does not exist")
        if code in _AUTH:
            return RemoteError(f"{where}: {_AUTH[code]}")
        if status == 403:
            return RemoteError(f"{where}: access denied ({code}; check AWS credentials and permissions)")
        if code in ("PermanentRedirect", "301", "AuthorizationHeaderMalformed"):
            return RemoteError(f"{where}: the bucket is in another region (set the region option)")
        if code in _TRANSIENT or status in _TRANSIENT_STATUS:
            return RemoteError(f"{failed}: S3 {code} (HTTP {status})", transient=True)
        message = getattr(e, "response", {}).get("Error", {}).get("Message") or ""
        return RemoteError(_one_line(f"{failed}: S3 {code} (HTTP {status}) {message}"))


def parse_url(url: str) -> tuple[str, str, dict[str, str]]:
    """Split `s3://bucket/prefix?endpoint=...` into bucket, prefix and query settings."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "s3" or not parts.netloc or any(c in parts.netloc for c in "@:"):
        raise UsageError(f"remote {url}: expected s3://bucket[/prefix]")
    prefix = unquote(parts.path).strip("/")
    if prefix and any(seg in ("", ".", "..") for seg in prefix.split("/")):
        raise UsageError(f"remote {url}: the key prefix must not have empty, '.' or '..' segments")
    settings: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        settings[key] = value
    return parts.netloc, prefix, settings


def _make_client(url: str, settings: Mapping[str, str]) -> Any:
    """Build the S3 client: standard credential chain, fog's timeouts, no retries of its own."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    endpoint = settings.get("endpoint") or None
    if endpoint and not endpoint.lower().startswith(("http://", "https://")):
        raise UsageError(f"remote {url}: S3 endpoint {endpoint!r} must be an http:// or https:// URL")
    path_style = _flag(url, settings.get("path_style", ""))
    try:
        timeout = float(settings.get("timeout") or READ_TIMEOUT)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 3600:
        raise UsageError(f"remote {url}: timeout must be a number of seconds (0 < t <= 3600)")
    extra: dict[str, Any] = {}
    if endpoint:
        # Since botocore 1.36 every PutObject carries a CRC checksum that some
        # S3-compatible services reject; fog verifies every byte it reads anyway.
        extra = {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}
    config = Config(
        region_name=settings.get("region") or None,
        retries={"total_max_attempts": 1, "mode": "standard"},  # (max_attempts counts retries: it made 2)
        connect_timeout=min(CONNECT_TIMEOUT, timeout),
        read_timeout=timeout,
        max_pool_connections=MAX_POOL,
        tcp_keepalive=True,
        s3={"addressing_style": "path"} if path_style else None,
        **extra,
    )
    try:
        return _session().create_client("s3", endpoint_url=endpoint, config=config)
    except BotoCoreError as e:  # e.g. AWS_PROFILE names a profile that does not exist
        raise RemoteError(f"remote {url}: cannot set up the S3 client: {e}") from e


_loader: Any = None
_loader_lock = threading.Lock()


def _session() -> Any:
    """A new botocore session (so credentials and config are looked up afresh) sharing parsed data files.

    boto3's `Session().client()` is this same botocore call; going direct lets
    every session share one data loader, so botocore's endpoint and service
    JSON is parsed once per process rather than once per remote opened
    (a few hundred milliseconds each time).
    """
    import botocore.session

    global _loader
    session = botocore.session.get_session()
    with _loader_lock:
        if _loader is None:
            _loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _loader)
    return session


def _bucket_region(client: Any, settings: Mapping[str, str]) -> str | None:
    """The region to create a bucket in: the one given, else (on AWS only) the client's."""
    if settings.get("region"):
        return settings["region"]
    return None if settings.get("endpoint") else client.meta.region_name


def _read_body(response: Any, limit: int | None) -> bytes:
    """A response body, never more than `limit` bytes of it (a service may send more than the range asked).

    The rest is not read: closing the body drops the connection. Each read
    waits at most the read timeout for the next bytes.
    """
    body = response["Body"]
    try:
        return body.read() if limit is None else body.read(limit)
    finally:
        body.close()


def _failures() -> tuple[type[Exception], ...]:
    """The exceptions botocore raises for a failed request (imported late: botocore is slow to import)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _flag(url: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("", "0", "false", "no", "off"):
        return False
    if v in ("1", "true", "yes", "on"):
        return True
    raise UsageError(f"remote {url}: path_style must be 1/true or 0/false, not {value!r}")


def _code(e: Exception) -> str:
    response = getattr(e, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(e: Exception) -> int:
    response = getattr(e, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _is_name(name: str) -> bool:
    try:
        return check_name(name) == name
    except ValueError:
        return False
