"""A remote that is a directory on an SSH server, over SFTP.

URL: `sftp://[user@]host[:port]/path`. `/path` is absolute on the server;
`sftp://host/~/path` (or `sftp://host/~`) is relative to the login directory.
The host may be an alias from `~/.ssh/config`; user and port given in the URL
win over the config, as with ssh. Connecting, authenticating and host-key
checking follow the user's SSH setup (see `fog.backends.sftp.ssh`); the SFTP
requests themselves are in `fog.backends.sftp.channel`.

Writes are atomic: an object is uploaded to `.tmp-<random>` beside its final
name, fsynced (`fsync@openssh.com`), closed, then renamed into place, with
`posix-rename@openssh.com` for `put` (replaces) and plain SFTP rename for
`put_new` (OpenSSH refuses to replace an existing name, via link(2); on a
server filesystem without hard links, FAT say, OpenSSH falls back to
check-then-rename, which two racing writers can both pass). A put only
renames once every write, the fsync and the close have succeeded.

Concurrency: one SSH connection carries a small pool of SFTP channels, one per
calling thread at a time, and each channel pipelines its requests (a 4 KiB put
costs three round trips; a listing, a few per directory level). A call that
finds the connection dropped raises a transient RemoteError and marks the
connection dead; the next call reconnects (the retry wrapper makes that call).
"""

from __future__ import annotations

import posixpath
import secrets
import stat
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

import paramiko

from fog.backends.base import check_name, check_range, seconds, split_host_port
from fog.backends.sftp import ssh
from fog.backends.sftp.channel import (
    BROKEN,
    SFTP_FAILURE,
    SFTP_NO_SUCH_FILE,
    SFTP_OP_UNSUPPORTED,
    SFTP_PERMISSION_DENIED,
    Channel,
    NotAFile,
    Status,
)
from fog.errors import AlreadyExists, ObjectNotFound, ReadOnlyRemote, RemoteError, UsageError

_TMP = ".tmp-"
_DIRS_AT_ONCE = 64  # directories open at once while listing (each holds a file descriptor on the server)
MAX_CONNECTIONS = 64  # SFTP channels a remote may ask for (`?connections=N`)


class SFTPBackend:
    """The Backend contract over SFTP, safe to call from many threads."""

    def __init__(
        self, url: str, target: ssh.SSHTarget, path: str, *, connections: int = 8, timeout: float = 60.0
    ) -> None:
        self.url = url
        self.target = target
        self.root = path  # absolute once connected (a `~/` path is resolved on the first connect)
        self.connections = max(1, connections)
        self.timeout = timeout
        self.fsync_supported = True  # until the server says otherwise
        self._dirty = False  # a put returned since the last sync
        self._cond = threading.Condition()
        self._client: paramiko.SSHClient | None = None
        self._idle: list[Channel] = []
        self._open = 0  # channels of the current connection, idle or in use
        self._generation = 0  # bumped whenever the connection is dropped

    @classmethod
    def from_url(cls, url: str, *, create: bool = False, options: Mapping[str, str] | None = None) -> SFTPBackend:
        """Connect to an `sftp://` URL; with `create`, make a missing final directory.

        `options` may set `connections` (SFTP channels, 1 to MAX_CONNECTIONS, default 8;
        OpenSSH's MaxSessions allows 10 per connection by default) and `timeout`
        (seconds without a reply before a connection counts as dropped); other
        keys belong to other backends and are ignored (open_backend refuses
        unknown keys in the URL itself).
        """
        user, host, port, path = parse_url(url)
        opts = dict(options or {})
        try:
            connections = int(opts.get("connections", 8))
            timeout = seconds(opts.get("timeout", 60))
        except ValueError as e:
            raise UsageError(f"remote {url}: bad option value: {e}") from e
        if not 1 <= connections <= MAX_CONNECTIONS:  # (0, -1 and 100000 were taken, then clamped in silence)
            raise UsageError(f"remote {url}: connections={connections}: give 1 to {MAX_CONNECTIONS}")
        backend = cls(
            url, ssh.resolve_target(host, user, port, url=url), path, connections=connections, timeout=timeout
        )
        try:
            backend._run("open", "/", lambda ch: backend._check_root(ch, create))
        except BaseException:
            backend.close()
            raise
        return backend

    # -- the contract ------------------------------------------------------------------

    def put(self, name: str, data: bytes) -> None:
        """Store `data` under `name` atomically (temporary name, fsync, posix-rename)."""
        path = self._path(name)
        self._run("write", name, lambda ch: self._put(ch, name, path, data, replace=True))

    def put_new(self, name: str, data: bytes) -> None:
        """Store `data` under `name` unless it exists (SFTP rename never replaces on OpenSSH)."""
        path = self._path(name)
        self._run("write", name, lambda ch: self._put(ch, name, path, data, replace=False))

    def get(self, name: str) -> bytes:
        """Return the bytes stored under `name`."""
        return self._read(name)

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Return up to `length` bytes stored under `name` from byte `offset` (pipelined reads at offsets)."""
        check_range(offset, length)
        return self._read(name, offset, length)

    def exists(self, name: str) -> bool:
        """Return whether `name` is stored (a directory is not an object)."""
        path = self._path(name)

        def exists(ch: Channel) -> bool:
            attrs = ch.stat(path)
            return attrs is not None and stat.S_ISREG(attrs.st_mode or 0)

        return self._run("stat", name, exists)

    def delete(self, name: str) -> None:
        """Remove `name`; ObjectNotFound if absent."""
        path = self._path(name)

        def delete(ch: Channel) -> None:
            try:
                ch.remove(path)
            except Status as e:
                if e.code == SFTP_NO_SUCH_FILE:
                    raise self._not_found(name) from e
                attrs = ch.stat(path)
                if attrs is None or stat.S_ISDIR(attrs.st_mode or 0):
                    raise self._not_found(name) from e
                raise

        self._run("delete", name, delete)

    def list(self, prefix: str) -> Iterator[str]:
        """Yield every object name under `prefix`, one directory level per batch of requests.

        Temporary files and entries that could never be object names are neither
        yielded nor descended into; symbolic links are skipped.
        """
        prefix = prefix.rstrip("/")
        level = [self._path(prefix) if prefix else self.root]
        while level:
            batch, level = level[:_DIRS_AT_ONCE], level[_DIRS_AT_ONCE:]
            listings = self._run("list", prefix or "/", lambda ch, dirs=batch: ch.listdirs(dirs))
            for directory, entries in listings.items():
                rel = directory[len(self.root) :].lstrip("/")
                for filename, attrs in entries:
                    if not _listable(filename):
                        continue
                    name = f"{rel}/{filename}" if rel else filename
                    if stat.S_ISDIR(attrs.st_mode or 0):
                        level.append(self._join(name))
                    elif stat.S_ISREG(attrs.st_mode or 0):
                        yield name

    def sync(self, *, every: bool = False) -> None:
        """Commit the renames of the puts before it, as far as SFTP allows.

        Each put already fsyncs its file before renaming it into place, so an
        object's bytes are durable before its name appears. SFTP cannot fsync a
        directory; instead this fsyncs a fresh file in the root, which on
        filesystems with one ordered journal (ext4, xfs) also commits every
        earlier rename. Elsewhere (btrfs, say) renames become durable with the
        filesystem's next commit, typically within 30 seconds.
        """
        with self._cond:
            dirty, self._dirty = self._dirty, False
        if not (dirty or every) or not self.fsync_supported:
            return
        try:
            self._run("sync", "/", self._barrier)
        except BaseException:
            self._dirty = True
            raise

    def _barrier(self, ch: Channel) -> None:
        tmp = f"{self._join(_TMP)}sync-{secrets.token_hex(8)}"
        handle = ch.create(tmp)
        try:
            if not ch.write_and_close(handle, b"", fsync=True):
                self.fsync_supported = False
        except Status:
            ch.remove_quietly(tmp)
            raise
        ch.remove_quietly(tmp)

    def close(self) -> None:
        """Close every channel and the SSH connection. Idempotent; a later call reconnects."""
        with self._cond:
            self._drop_connection()

    # -- operations on one channel -----------------------------------------------------

    def _put(self, ch: Channel, name: str, path: str, data: bytes, *, replace: bool) -> None:
        parent = posixpath.dirname(path)
        tmp = f"{parent}/{_TMP}{secrets.token_hex(8)}"
        try:
            handle = ch.create(tmp)
        except Status as e:
            if e.code != SFTP_NO_SUCH_FILE:
                raise
            self._makedirs(ch, name, parent)
            handle = ch.create(tmp)
        try:
            if not ch.write_and_close(handle, data, fsync=self.fsync_supported):
                self.fsync_supported = False
            if replace:
                try:
                    ch.posix_rename(tmp, path)
                except Status as e:
                    if e.code == SFTP_OP_UNSUPPORTED:
                        raise RemoteError(
                            f"remote {self.url}: the SSH server does not support posix-rename@openssh.com, "
                            "which fog needs to replace objects atomically (OpenSSH has it)"
                        ) from e
                    raise
            else:
                try:
                    ch.rename(tmp, path)
                except Status as e:
                    if ch.stat(path) is not None:
                        raise AlreadyExists(f"{name} already exists on remote {self.url}") from e
                    raise
        except (Status, RemoteError):
            ch.remove_quietly(tmp)  # on a broken connection, leave it: a stray temporary is never listed
            raise
        self._dirty = True

    def _read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """The whole object, or at most `length` bytes of it from `offset`."""
        path = self._path(name)

        def read(ch: Channel) -> bytes:
            try:
                return ch.read_file(path, offset, length)
            except Status as e:
                if e.code == SFTP_NO_SUCH_FILE or isinstance(e, NotAFile):
                    raise self._not_found(name) from e
                raise

        return self._run("read", name, read)

    def _makedirs(self, ch: Channel, name: str, directory: str) -> None:
        """Create `directory` and any missing parents below the root."""
        try:
            ch.mkdir(directory)
            return
        except Status as e:
            failure = e
        if failure.code == SFTP_NO_SUCH_FILE and len(directory) > len(self.root):
            self._makedirs(ch, name, posixpath.dirname(directory))  # a parent is missing (or not a directory)
            try:
                ch.mkdir(directory)
                return
            except Status as e:
                failure = e
        attrs = ch.stat(directory)
        if attrs is not None and stat.S_ISDIR(attrs.st_mode or 0):
            return  # made by another writer meanwhile
        if attrs is not None:
            rel = directory[len(self.root) :].lstrip("/")
            raise RemoteError(f"cannot write {name} on remote {self.url}: {rel} is not a directory") from failure
        if len(directory) <= len(self.root):
            raise RemoteError(f"remote {self.url}: directory {self.root} no longer exists") from failure
        raise failure

    def _check_root(self, ch: Channel, create: bool) -> None:
        if self.root == "~" or self.root.startswith("~/"):
            home = ch.realpath(".")
            self.root = posixpath.normpath(posixpath.join(home, self.root[2:])) if self.root != "~" else home
        attrs = ch.stat(self.root)
        if attrs is None:
            if not create:
                raise RemoteError(f"remote {self.url}: directory {self.root} does not exist on {self.target.alias}")
            parent = ch.stat(posixpath.dirname(self.root))
            if parent is None or not stat.S_ISDIR(parent.st_mode or 0):
                raise RemoteError(f"remote {self.url}: directory {self.root} does not exist (parent missing)")
            try:
                ch.mkdir(self.root)
            except Status:
                attrs = ch.stat(self.root)
                if attrs is None:
                    raise
        if attrs is not None and not stat.S_ISDIR(attrs.st_mode or 0):
            raise RemoteError(f"remote {self.url}: {self.root} exists but is not a directory")

    # -- plumbing ----------------------------------------------------------------------

    def _path(self, name: str) -> str:
        check_name(name)
        return self._join(name)

    def _join(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def _not_found(self, name: str) -> ObjectNotFound:
        return ObjectNotFound(f"{name} not found on remote {self.url}")

    def _run(self, what: str, name: str, fn: Any) -> Any:
        """Call `fn(channel)` on a pooled channel, turning every failure into a RemoteError."""
        ch, generation = self._checkout()
        healthy = True
        try:
            return fn(ch)
        except Status as e:
            if e.code == SFTP_PERMISSION_DENIED and what in ("write", "delete"):
                raise ReadOnlyRemote(f"remote {self.url} is read-only: cannot {what} {name} (permission denied)") from e
            detail = {SFTP_PERMISSION_DENIED: "permission denied", SFTP_NO_SUCH_FILE: "no such file"}.get(e.code)
            if detail is None and e.code == SFTP_FAILURE and what == "write":
                detail = f"the server refused it ({e.text}: disk full, quota, or a file size limit?)"
            raise RemoteError(f"cannot {what} {name} on remote {self.url}: {detail or e.text}") from e
        except (RemoteError, ValueError):
            raise
        except BROKEN as e:
            healthy = False
            self._connection_lost(generation)
            detail = "timed out" if isinstance(e, TimeoutError) else (str(e) or type(e).__name__)
            raise RemoteError(
                f"cannot {what} {name} on remote {self.url}: SSH connection lost ({detail})", transient=True
            ) from e
        except BaseException:
            healthy = False  # replies may still be in flight on this channel
            raise
        finally:
            self._checkin(ch, generation, healthy)

    def _checkout(self) -> tuple[Channel, int]:
        with self._cond:
            while True:
                if self._client is None or not self._client.get_transport().is_active():  # type: ignore[union-attr]
                    self._drop_connection()
                    self._client = ssh.connect(self.target, url=self.url)  # others wait: one reconnect
                if self._idle:
                    return self._idle.pop(), self._generation
                if self._open < self.connections:
                    try:
                        sftp = self._client.open_sftp()
                    except BROKEN as e:
                        self._drop_connection()
                        raise RemoteError(
                            f"remote {self.url}: cannot open an SFTP session on {self.target.alias}: "
                            f"{str(e) or type(e).__name__} (is the sftp subsystem enabled?)",
                            transient=True,
                        ) from e
                    sftp.get_channel().settimeout(self.timeout)
                    self._open += 1
                    return Channel(sftp), self._generation
                self._cond.wait()

    def _checkin(self, ch: Channel, generation: int, healthy: bool) -> None:
        with self._cond:
            if generation == self._generation and healthy and self._client is not None:
                self._idle.append(ch)
            else:
                ch.close()
                if generation == self._generation:
                    self._open -= 1
            self._cond.notify()

    def _connection_lost(self, generation: int) -> None:
        with self._cond:
            if generation == self._generation:
                self._drop_connection()

    def _drop_connection(self) -> None:
        """Forget the connection and its channels (caller holds `_cond`); channels in use die on return."""
        if self._client is None and not self._idle:
            return
        for ch in self._idle:
            ch.close()
        self._idle = []
        self._open = 0
        if self._client is not None:
            self._client.close()
            self._client = None
        self._generation += 1
        self._cond.notify_all()


def parse_url(url: str) -> tuple[str | None, str, int | None, str]:
    """Split `sftp://[user@]host[:port]/path` into (user, host, port, path).

    The path is absolute, or `~` / `~/...` for one relative to the login directory.
    """
    if not url.lower().startswith("sftp://"):
        raise UsageError(f"not an sftp:// URL: {url!r}")
    netloc, slash, raw_path = url[len("sftp://") :].partition("/")
    user = None
    if "@" in netloc:
        user, _, netloc = netloc.rpartition("@")
        user = unquote(user)
        if ":" in user:
            raise UsageError(f"remote {url}: passwords in sftp:// URLs are not supported; use SSH keys or the agent")
        if not user:
            raise UsageError(f"remote {url}: empty user name before '@'")
    host, port = split_host_port(netloc, url)
    path = unquote(raw_path).rstrip("/")
    if not host or not slash or not path:
        raise UsageError(f"remote {url}: use sftp://[user@]host[:port]/absolute/path or sftp://host/~/path")
    if path == "~" or path.startswith("~/"):
        path = "~" if path == "~" else "~/" + posixpath.normpath(path[2:])
    else:
        path = posixpath.normpath("/" + path)
    return user, host, port, path


def _listable(part: str) -> bool:
    """Whether a directory entry can be part of an object name (not temporary, not foreign)."""
    try:
        return not part.startswith(_TMP) and check_name(part) == part
    except ValueError:
        return False
