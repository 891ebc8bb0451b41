"""The Backend contract: a dumb, untrusted byte store.

A backend stores opaque byte strings under names. Names are relative,
'/'-separated paths of ASCII letters, digits, '-', '_' and '.' (never empty
segments, never '.' or '..', never a segment starting with '.tmp-': those are
reserved for a backend's unfinished puts). Backends know nothing of encryption; every byte they
return is verified by the layers above.

Every backend MUST honour this contract; `tests/contract/` checks it, unchanged,
against each one.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlparse, urlsplit

from fog.errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")  # used with fullmatch: `$` would pass a trailing newline


def check_name(name: str) -> str:
    """Return `name` if it is a valid object name, else raise ValueError."""
    parts = name.split("/")
    if not _NAME.fullmatch(name) or any(p in (".", "..") or p.startswith(".tmp-") for p in parts):
        raise ValueError(f"invalid object name: {name!r}")
    return name


MAX_SECONDS = 10_000_000  # the longest timeout an option takes (about 115 days; a socket's own limit is near)


def seconds(value: object, what: str = "timeout") -> float:
    """A number of seconds from an option's value, 0 < s <= MAX_SECONDS; ValueError otherwise (nan, inf...)."""
    out = float(str(value))
    if not (math.isfinite(out) and 0 < out <= MAX_SECONDS):
        raise ValueError(f"{what} {value!r} is not a number of seconds (0 < s <= {MAX_SECONDS})")
    return out


RANGE_END = (1 << 63) - 1  # the largest file offset (a signed 64-bit off_t): no range of any object ends later


def check_range(offset: int, length: int) -> None:
    """Raise ValueError unless `offset` and `length` are a valid byte range (both >= 0, ending by RANGE_END)."""
    if offset < 0 or length < 0:
        raise ValueError(f"invalid byte range: offset {offset}, length {length} (both must be >= 0)")
    if offset + length > RANGE_END:
        raise ValueError(f"invalid byte range: offset {offset}, length {length} (it must end by byte {RANGE_END})")


@runtime_checkable
class Backend(Protocol):
    """What fog needs from a remote.

    Failures: a missing name MUST raise `fog.errors.ObjectNotFound`; any other
    failure MUST raise `fog.errors.RemoteError`, with `transient=True` when a
    retry may succeed (timeouts, dropped connections, throttling, 5xx) and
    `transient=False` when it cannot (authentication, permissions, missing
    bucket or directory). No other exception type may escape.

    Optional: an integer attribute `read_concurrency`, how many reads at once
    pay off. Without it a reader keeps `fog.sync.content.IO_WORKERS` in flight
    (enough to hide network latency); a local directory reads from the page
    cache, where threads beyond the cores only fight over the GIL.
    Optional too: an integer attribute `write_concurrency`, how many pack
    uploads a push keeps in flight (without it: `fog.store.Packer`'s default,
    2); a remote whose every put is a round trip hides it with more.
    Optional as well: an integer attribute `max_object`, the largest object the
    remote takes (a fog node's `--max-object`); writers then make packs no
    larger (`fog.store.Packer`), and only a single object larger than that fails.
    """

    url: str

    def put(self, name: str, data: bytes) -> None:
        """Store `data` under `name`, replacing any previous value.

        MUST be atomic: a reader sees either the old value, nothing, or all of
        `data`, never a prefix (write a temporary name, then rename). Durability
        is only promised after a later `sync()` returns.
        """
        ...

    def put_new(self, name: str, data: bytes) -> None:
        """Store `data` under `name` only if `name` does not exist yet.

        MUST be atomic and MUST raise `fog.errors.AlreadyExists` (leaving the
        existing value untouched) when the name is taken, even when two writers
        race. Used for event batches and SyncConfig versions, which must never
        be overwritten.
        """
        ...

    def get(self, name: str) -> bytes:
        """Return the bytes stored under `name`; ObjectNotFound if absent."""
        ...

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Return up to `length` bytes stored under `name` starting at byte `offset`.

        Fewer only when the object ends sooner; b'' when `offset` is at or past
        its end; ObjectNotFound if absent. `offset` and `length` must be >= 0
        and end by RANGE_END (ValueError otherwise, raised before any I/O: see
        check_range). Used to read one object out of a pack file without
        fetching the whole pack.
        """
        ...

    def exists(self, name: str) -> bool:
        """Return whether `name` is present."""
        ...

    def list(self, prefix: str) -> Iterator[str]:
        """Yield every stored name under the directory `prefix` (recursively).

        `prefix` is a name prefix ending at a '/' boundary ('' lists all). Each
        name is yielded exactly once, in no particular order. Temporary names of
        unfinished puts MUST NOT be listed. A missing prefix yields nothing.
        """
        ...

    def delete(self, name: str) -> None:
        """Remove `name`; ObjectNotFound if it was not present."""
        ...

    def sync(self, *, every: bool = False) -> None:
        """Make every put that returned before this call durable.

        After `sync()` returns, those objects survive a crash or power loss of
        the storage. One call may cover many objects; that is the point. A
        backend MAY skip the work when this object put nothing since the last
        call; with `every=True` it MUST also cover what other processes put
        before this call (the packs of a killed push that a later one reuses).
        """
        ...

    def close(self) -> None:
        """Release connections and handles. Idempotent."""
        ...


def open_backend(url: str, *, create: bool = False, options: Mapping[str, object] | None = None) -> Backend:
    """Open the backend a remote URL names, wrapped to retry transient failures.

    A plain path or a `file://` URL is a local directory; `sftp://[user@]host[:port]/path`
    is a directory over SSH; `s3://bucket/prefix` is S3-compatible object storage;
    `fog://host:port` and `fog+ssh://[user@]host[:port]/dir` are untrusted fog nodes
    (credentials in `options["node_auth"]`, see fog.backends.node).
    With `create`, a missing final directory (or prefix) may be made. `options`
    carries settings the URL cannot (for S3: endpoint, path_style, region),
    gathered by the CLI from flags and the environment.
    """
    from fog.backends.retry import RetryingBackend

    opts = dict(options or {})
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    if scheme == "file":
        from fog.backends.local import LocalBackend

        return LocalBackend.from_url(url, create=create)
    if scheme == "sftp":
        from urllib.parse import parse_qsl

        from fog.backends.sftp import SFTPBackend

        base, _, query = url.partition("?")
        given = dict(parse_qsl(query, keep_blank_values=True))  # `connections`, `timeout` may ride in the URL
        unknown = sorted(set(given) - {"connections", "timeout"})
        if unknown:  # (a typo, `timout=5`, was ignored without a word)
            raise UsageError(f"remote {url}: unknown sftp option(s) {', '.join(unknown)}; known: connections, timeout")
        opts = {**given, **opts}
        return RetryingBackend(SFTPBackend.from_url(base, create=create, options=opts))  # type: ignore[arg-type]
    if scheme == "s3":
        from fog.backends.s3 import S3Backend

        return RetryingBackend(S3Backend.from_url(url, create=create, options=opts))  # type: ignore[arg-type]
    if scheme in ("fog", "fog+ssh"):
        from fog.backends.node import NodeBackend

        node = NodeBackend.from_url(url, create=create, options=opts, connect=False)
        retrying = RetryingBackend(node)
        retrying.retry(node.first_connection)  # a node busy or dropping half-open connections: try again
        return retrying
    raise UsageError(
        f"unsupported remote URL scheme {scheme!r} in {url!r}; use a path, file://, sftp://, s3://, fog:// or fog+ssh://"
    )


def split_host_port(netloc: str, url: str) -> tuple[str, int | None]:
    """HOST and PORT (None when absent) of a URL's `host[:port]` or `[IPv6][:port]`; UsageError on a bad port."""
    host, port_text = netloc, ""
    if netloc.startswith("["):  # [IPv6] or [IPv6]:port
        host, _, rest = netloc[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else rest
    elif ":" in netloc:
        host, _, port_text = netloc.partition(":")
    if not port_text:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
        raise UsageError(f"remote {url}: bad port {port_text!r}")
    return host, int(port_text)


def kind_of(url: str) -> str:
    """The kind of remote a URL names: file, sftp, s3, or fog (an untrusted node, over TCP or ssh)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    return "fog" if scheme == "fog+ssh" else scheme


def store_key(url: str) -> str:
    """What identifies the store behind a URL, whatever its spelling: a directory's real path
    (`file://`, symlinks, `..` resolved); for `s3://` the service (the endpoint's host and port, or AWS),
    bucket and prefix; for `sftp://` the server, port, login user and proxy command ssh would use
    (`~/.ssh/config` applied, as the SFTP backend does) and the path; else scheme, host and path
    without the query. Two URLs of one key must never be two remotes: they would publish one log
    under two cursors."""
    kind = kind_of(url)
    if kind == "file":
        path = unquote(urlparse(url).path) if url.lower().startswith("file://") else url
        return "file:" + os.path.realpath(os.path.expanduser(path))
    if kind == "s3":
        return _s3_key(url)
    if kind == "sftp":
        key = _sftp_key(url)
        if key is not None:
            return key
    parsed = urlparse(url.split("?", 1)[0])
    if kind == "fog":
        kind = url.split("://", 1)[0].lower()
    return f"{kind}://{(parsed.netloc or '').lower()}{parsed.path.rstrip('/')}"


AWS = "amazonaws"  # the service of an S3 URL without an endpoint (bucket names are global on AWS)


def _s3_key(url: str) -> str:
    """`s3://SERVICE/bucket[/prefix]`: a bucket name is only unique on one service (MinIO, B2, R2, AWS...)."""
    parts = urlsplit(url)
    prefix = unquote(parts.path).strip("/")
    endpoint = dict(parse_qsl(parts.query, keep_blank_values=True)).get("endpoint", "")
    return f"s3://{s3_service(endpoint)}/{parts.netloc.lower()}{'/' + prefix if prefix else ''}"


# s3.amazonaws.com, s3.REGION.amazonaws.com, s3-REGION..., s3.dualstack.REGION..., s3-fips..., BUCKET.s3...
_AWS_S3_HOST = re.compile(r"^(?:[a-z0-9.-]+\.)?s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")


def s3_service(endpoint: str) -> str:
    """The S3 service an endpoint URL names, as `host:port[/path]` (lowercased host, no scheme, no
    credentials, the scheme's default port when none); `amazonaws` for none or any of AWS S3's own hosts
    (one namespace of buckets), not for any machine under amazonaws.com (an EC2 host running MinIO)."""
    if not endpoint:
        return AWS
    parts = urlsplit(endpoint if "://" in endpoint else "//" + endpoint)
    host = (parts.hostname or "").lower().rstrip(".")
    if _AWS_S3_HOST.match(host):
        return AWS
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 80 if parts.scheme.lower() == "http" else 443
    return f"{f'[{host}]' if ':' in host else host}:{port}{parts.path.rstrip('/')}"


def _sftp_key(url: str) -> str | None:
    """`sftp://user@host:port/path` as ssh would connect (None for a URL the SFTP backend refuses)."""
    from fog.backends.sftp import parse_url
    from fog.backends.sftp.ssh import endpoint

    try:
        user, host, port, path = parse_url(url.split("?", 1)[0])
    except UsageError:
        return None
    hostname, port, user, proxy = endpoint(host, user, port)
    where = f"{user}@{f'[{hostname}]' if ':' in hostname else hostname}:{port}"
    key = f"sftp://{where}{'' if path.startswith('/') else '/'}{path}"  # (a path from the login directory: ~/...)
    return key if proxy is None else f"{key} via {proxy}"


def duplicates(remotes: dict[str, str]) -> dict[str, str]:
    """Names that point at the same store as an earlier name (sorted): name -> that earlier name.
    Two names for one store would publish one log under two cursors; only the first is used."""
    seen: dict[str, str] = {}
    out: dict[str, str] = {}
    for name, url in sorted(remotes.items()):
        key = store_key(url)
        if key in seen:
            out[name] = seen[key]
        else:
            seen[key] = name
    return out
