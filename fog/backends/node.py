"""A remote that is an untrusted fog node (`fog serve`), over TCP or over ssh (docs/FORMAT.md, section 17).

URLs: `fog://HOST[:PORT]` (default port 7463) and `fog+ssh://[USER@]HOST[:PORT]/DIR`,
which runs `ssh [-p PORT] [USER@]HOST fog serve --stdio DIR` per connection
(`/~/DIR` or `/~` is relative to the login directory).

How to open one (the credentials ride in `options`, never in the URL):

    from fog.backends.base import open_backend
    from fog.backends.node import NodeAuth

    backend = open_backend("fog://host:7463", options={
        "node_auth": NodeAuth(
            secret=device_box_secret,   # this device's Box secret key, or the join secret
                                        # (fog.crypto.keys.node_join_keypair(master_key, node_public)[0])
            node_key=node_public,       # the node's public key (32 bytes); None: learn it from the
                                        # node, unauthenticated, and check it against the SyncConfig
            space=space_hex,            # the user's space on the node, or None (the node finds it)
            roster=stored_roster,       # fog.format.noderoster.build_roster(...) to hand the node, or None
        ),
        "connections": 4,               # optional: pooled connections (read_concurrency)
        "timeout": 60,                  # optional: seconds without a reply before a connection counts as lost
        "ssh_command": None,            # optional (fog+ssh): argv run instead of `ssh ... fog serve --stdio`,
                                        # DIR appended (list of strings, or one string split like a shell)
    })
    backend.node_public, backend.space, backend.role   # after the first connection
    backend.info                                        # the node's welcome (quota, used, append_only, ...)

Failures map to the Backend contract: the node's "not found" is
ObjectNotFound, "exists" AlreadyExists, a refusal RemoteError(transient=False)
carrying the node's one line, its transient failures and dropped
connections RemoteError(transient=True) (open_backend wraps this backend in
RetryingBackend, which retries those). A dropped connection is replaced by
the next call.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fog import __version__
from fog.backends import nodewire as W
from fog.backends.base import check_name, check_range, seconds, split_host_port
from fog.crypto import channel as C
from fog.errors import AlreadyExists, ObjectNotFound, RemoteError, UsageError

DEFAULT_PORT = 7463
MAX_GET = 1 << 30  # the most a get takes from a node, whatever its welcome says (its max_object, if lower)
MAX_LIST_NAMES = 10_000_000  # names one list takes from a node
_LIST_REPLY = W.LIST_BATCH * 1025  # one list reply's data: a batch of names of at most 1 KiB each


class _Malformed(Exception):
    """A node's reply that breaks the protocol (the connection is dropped, the call fails for good)."""


@dataclass(frozen=True)
class NodeAuth:
    """Who connects to a node and what it expects of it (see the module docstring)."""

    secret: bytes
    node_key: bytes | None = None
    space: str | None = None
    roster: bytes | None = None
    # derives the secret from the node's public key once known (a join key is bound to its node:
    # fog.crypto.keys.node_join_keypair(master_key, node_public)); `secret` is then unused
    secret_for: Callable[[bytes], bytes] | None = None


class _ProcPipe(C.FdPipe):
    """A child's stdin/stdout as a Pipe (`ssh ... fog serve --stdio DIR`); its stderr kept for errors."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
        )
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        super().__init__(self.proc.stdout.fileno(), self.proc.stdin.fileno())
        self.errors: deque[str] = deque(maxlen=5)
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        assert self.proc.stderr
        try:
            for line in self.proc.stderr:
                self.errors.append(line.decode(errors="replace").strip())
        except (OSError, ValueError):  # (closed under it: close() gave up waiting for the end)
            pass

    def last_error(self) -> str:
        lines = [line for line in self.errors if line and not line.startswith("fog serve: ")]
        return lines[-1] if lines else ""

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drainer.join(timeout=2)  # (its last lines are the error to report: read them to the end)
        try:
            self.proc.stderr.close()  # type: ignore[union-attr]
        except OSError:
            pass


class NodeBackend:
    """The Backend contract over a node connection pool, safe to call from many threads."""

    def __init__(
        self,
        url: str,
        auth: NodeAuth,
        *,
        address: tuple[str, int] | None = None,
        argv: list[str] | None = None,
        connections: int = 4,
        timeout: float = 60.0,
    ) -> None:
        if (address is None) == (argv is None):
            raise ValueError("a node is reached by an address or by a command, one of them")
        self.url = url
        self.auth = auth
        self.address, self.argv = address, argv
        self.connections = max(1, connections)
        self.read_concurrency = self.connections
        self.write_concurrency = self.connections  # each put is a round trip: keep every connection busy
        self.timeout = timeout
        self.node_public: bytes | None = auth.node_key
        self.space: str | None = auth.space
        self.role: str | None = None
        self.info: dict[str, Any] = {}
        self._roster_sent = auth.roster is None
        self._cond = threading.Condition()
        self._idle: list[C.Session] = []
        self._open = 0
        self._generation = 0
        self._dirty = False

    @classmethod
    def from_url(
        cls, url: str, *, create: bool = False, options: Mapping[str, object] | None = None, connect: bool = True
    ) -> NodeBackend:
        """Connect to a `fog://` or `fog+ssh://` URL (one connection, to check the node and learn its space).

        `create` changes nothing: a node's space exists once a roster made it. With `connect` False the
        caller makes that first connection (`first_connection`, e.g. under RetryingBackend.retry)."""
        opts = dict(options or {})
        auth = opts.get("node_auth")
        if not isinstance(auth, NodeAuth):
            raise UsageError(
                f"remote {url}: a fog node needs this device's keys (add it with fog device add-untrusted)"
            )
        try:
            connections = int(str(opts.get("connections", 4)))
            timeout = seconds(opts.get("timeout", 60))
        except ValueError as e:
            raise UsageError(f"remote {url}: bad option value: {e}") from e
        scheme, user, host, port, path = parse_url(url)
        if scheme == "fog":
            backend = cls(url, auth, address=(host, port or DEFAULT_PORT), connections=connections, timeout=timeout)
        else:
            command = opts.get("ssh_command")
            if command is None:
                # `--`: the destination is never read as an option (parse_url also refuses a leading `-`)
                prefix = ["ssh", *(["-p", str(port)] if port else []), "--", f"{user}@{host}" if user else host]
                argv = [*prefix, "fog", "serve", "--stdio", shlex.quote(path)]
            else:
                base = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]  # type: ignore[union-attr]
                argv = [*base, path]
            backend = cls(url, auth, argv=argv, connections=connections, timeout=timeout)
        if connect:
            backend.first_connection()
        return backend

    def first_connection(self) -> None:
        """Connect once (checking the node and learning its space); kept in the pool like the others."""
        session, generation = self._checkout()
        self._checkin(session, generation, True)

    # -- the contract ------------------------------------------------------------------

    @property
    def max_object(self) -> int | None:
        """The largest object the node takes (its welcome's `max_object`), once connected."""
        limit = self.info.get("max_object")
        return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None

    def put(self, name: str, data: bytes) -> None:
        """Store `data` under `name` (on an append-only node: a new name, or the same bytes again)."""
        self._put(W.OP_PUT, name, data)

    def put_new(self, name: str, data: bytes) -> None:
        """Store `data` under `name` unless it exists (AlreadyExists, decided by the node)."""
        self._put(W.OP_PUT_NEW, name, data)

    def get(self, name: str) -> bytes:
        limit = self.info.get("max_object")
        most = min(limit, MAX_GET) if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0 else MAX_GET
        return bytes(self._call(W.OP_GET, {"name": check_name(name)}, name=name, most=most)[1])

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        check_range(offset, length)
        header = {"name": check_name(name), "offset": offset, "length": length}
        return bytes(self._call(W.OP_GET_RANGE, header, name=name, most=length)[1])

    def exists(self, name: str) -> bool:
        return bool(self._call(W.OP_EXISTS, {"name": check_name(name)}, name=name)[0].get("exists"))

    def list(self, prefix: str) -> Iterator[str]:
        if prefix:
            check_name(prefix.rstrip("/"))
            prefix = prefix.rstrip("/") + "/"
        names: list[str] = []
        self._call(W.OP_LIST, {"prefix": prefix}, name=prefix or "/", names=names, most=_LIST_REPLY)
        return iter(names)

    def delete(self, name: str) -> None:
        self._call(W.OP_DELETE, {"name": check_name(name)}, name=name)

    def sync(self, *, every: bool = False) -> None:
        with self._cond:
            dirty, self._dirty = self._dirty, False
        if not (dirty or every):
            return
        try:
            self._call(W.OP_SYNC, {"every": every}, name="/")
        except BaseException:
            with self._cond:
                self._dirty = True
            raise

    def close(self) -> None:
        """Close every idle connection (those in use close when returned). Idempotent; a later call reconnects."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._generation += 1
            self._cond.notify_all()
        for session in idle:
            session.close()

    def node_info(self) -> dict[str, Any]:
        """The node's `info` reply: used, quota, append_only, roster_signed."""
        return self._call(W.OP_INFO, {}, name="/")[0]

    def node_roster(self) -> dict[str, Any]:
        """The space's device list as the node holds it (the `roster` request): `{"pinned", "devices",
        "join", "signed"}`, devices keyed by Box public hex. A trusted device compares it with the
        devices it knows: a key it does not know was added by someone holding the user signing key."""
        out = self._call(W.OP_ROSTER, {}, name="/", most=W.MAX_ROSTER_REPLY)[1]
        try:
            doc = json.loads(bytes(out))
        except ValueError:
            doc = None
        if not (isinstance(doc, dict) and isinstance(doc.get("devices"), dict)):
            raise RemoteError(f"remote {self.url}: the node's roster reply is not a device list")
        return doc

    # -- plumbing ----------------------------------------------------------------------

    def _put(self, op: int, name: str, data: bytes) -> None:
        check_name(name)
        limit = self.info.get("max_object")
        if isinstance(limit, int) and len(data) > limit:
            raise RemoteError(f"cannot write {name} on remote {self.url}: larger than the node takes ({limit} bytes)")
        self._call(op, {"name": name, "total": len(data)}, data, name=name)
        with self._cond:
            self._dirty = True

    def _call(
        self,
        op: int,
        header: dict[str, Any],
        data: bytes = b"",
        *,
        name: str,
        names: list[str] | None = None,
        most: int = 0,
    ) -> tuple[dict[str, Any], memoryview]:
        """One request and its reply, whose data may be at most `most` bytes (a node that announces more,
        or sends a malformed reply, is a RemoteError: nothing else escapes but the contract's errors)."""
        what = W.OPS[op]
        session, generation = self._checkout()
        healthy = False
        try:
            W.send(session, op, header, data)
            status, reply, out = W.recv(session, most)
            while names is not None and status == W.OK:
                before = len(names)
                self._names(out, header.get("prefix", ""), names)
                if not reply.get("more"):
                    break
                if len(names) - before < W.LIST_BATCH:  # (else empty `more` replies would go on for ever)
                    raise _Malformed(f"a reply of {len(names) - before} names (not {W.LIST_BATCH}) said more follow")
                status, reply, out = W.recv(session, most)
            healthy = True
        except (W.TooLarge, _Malformed) as e:
            raise RemoteError(f"cannot {what} {name} on remote {self.url}: the node's reply is refused ({e})") from e
        except C.ChannelError as e:
            if isinstance(e, C.Closed):  # the connection ended: another may work
                raise RemoteError(
                    f"cannot {what} {name} on remote {self.url}: connection to the node lost ({e})", transient=True
                ) from e
            # a reply that breaks the framing or does not authenticate: the node (or what stands between)
            # misbehaves, and asking again will not change that (docs/FORMAT.md, section 17)
            raise RemoteError(f"cannot {what} {name} on remote {self.url}: the node's reply is refused ({e})") from e
        except (OSError, ConnectionError) as e:  # TimeoutError, ChannelError, a broken pipe
            detail = "timed out" if isinstance(e, TimeoutError) else (str(e) or type(e).__name__)
            raise RemoteError(
                f"cannot {what} {name} on remote {self.url}: connection to the node lost ({detail})", transient=True
            ) from e
        finally:
            self._checkin(session, generation, healthy)
        if status == W.OK:
            return reply, out
        message = str(reply.get("error") or "no reason given")[:1000].replace("\n", " ")
        if status == W.NOT_FOUND:
            raise ObjectNotFound(f"{name} not found on remote {self.url}")
        if status == W.EXISTS:
            raise AlreadyExists(f"{name} already exists on remote {self.url}")
        raise RemoteError(f"cannot {what} {name} on remote {self.url}: {message}", transient=status == W.TRANSIENT)

    @staticmethod
    def _names(out: memoryview, prefix: str, names: list[str]) -> None:
        """Add one list reply's names to `names`: UTF-8, valid names under `prefix`, at most MAX_LIST_NAMES."""
        try:
            batch = [n for n in bytes(out).decode().split("\n") if n]
        except UnicodeDecodeError as e:
            raise _Malformed("names that are not UTF-8") from e
        if len(batch) > W.LIST_BATCH or len(names) + len(batch) > MAX_LIST_NAMES:
            raise _Malformed(f"more than {MAX_LIST_NAMES} names, or more than {W.LIST_BATCH} in one reply")
        for n in batch:
            try:
                check_name(n)
            except ValueError as e:
                raise _Malformed(f"an invalid name {n[:80]!r}") from e
            if not n.startswith(prefix):
                raise _Malformed(f"a name outside {prefix!r}")
        names.extend(batch)

    def _checkout(self) -> tuple[C.Session, int]:
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop(), self._generation
                if self._open < self.connections:
                    self._open += 1
                    generation = self._generation
                    break
                self._cond.wait()
        try:
            return self._connect(), generation
        except BaseException:
            with self._cond:
                if generation == self._generation:
                    self._open -= 1
                self._cond.notify()
            raise

    def _checkin(self, session: C.Session, generation: int, healthy: bool) -> None:
        with self._cond:
            if healthy and generation == self._generation:
                self._idle.append(session)
                self._cond.notify()
                return
            if generation == self._generation:
                self._open -= 1
            self._cond.notify()
        session.close()

    def _pipe(self) -> C.Pipe:
        if self.address is not None:
            try:
                sock = socket.create_connection(self.address, timeout=self.timeout)
            except OSError as e:
                raise RemoteError(
                    f"remote {self.url}: cannot connect to the node: {e.strerror or e}", transient=True
                ) from e
            return C.SocketPipe(sock)
        assert self.argv is not None
        try:
            pipe = _ProcPipe(self.argv)
        except OSError as e:
            raise RemoteError(f"remote {self.url}: cannot run {self.argv[0]}: {e.strerror or e}") from e
        pipe.settimeout(self.timeout)
        return pipe

    def _connect(self) -> C.Session:
        """A new authenticated connection (learning the node key first when it is not known)."""
        if self.node_public is None:
            pipe = self._pipe()
            try:
                self.node_public = C.probe_node_key(pipe)
            except (OSError, ConnectionError) as e:
                raise self._lost(pipe, e) from e
            finally:
                pipe.close()
        hello: dict[str, Any] = {"client": f"fog {__version__}", "proto": 1}
        if self.space:
            hello["space"] = self.space
        carry = not self._roster_sent and self.auth.roster is not None
        if carry:
            hello["roster"] = base64.b64encode(self.auth.roster).decode()  # type: ignore[arg-type]
        pipe = self._pipe()
        try:
            secret = self.auth.secret_for(self.node_public) if self.auth.secret_for else self.auth.secret
            session = C.client_handshake(pipe, secret, self.node_public, hello)
        except C.Refused as r:
            pipe.close()
            raise RemoteError(
                f"remote {self.url}: the node refused this device: {r.message}", transient=r.transient
            ) from r
        except C.Closed as e:
            raise self._lost(pipe, e) from e
        except C.ChannelError as e:
            pipe.close()
            raise RemoteError(f"remote {self.url}: {e}") from e
        except OSError as e:
            raise self._lost(pipe, e) from e
        except BaseException:
            pipe.close()
            raise
        pipe.settimeout(self.timeout)
        welcome = session.welcome
        bad = _bad_welcome(welcome, self.space)
        if bad:  # (its space goes into the signed SyncConfig: one that readers refuse would lock every device out)
            pipe.close()
            raise RemoteError(f"remote {self.url}: the node's welcome is refused ({bad})")
        self.info = welcome
        self.space = str(welcome.get("space")) if welcome.get("space") else self.space
        self.role = str(welcome.get("role")) if welcome.get("role") else None
        if carry:
            self._roster_sent = True
        return session

    def _lost(self, pipe: C.Pipe, e: BaseException) -> RemoteError:
        detail = "timed out" if isinstance(e, TimeoutError) else (str(e) or type(e).__name__)
        pipe.close()
        said = pipe.last_error() if isinstance(pipe, _ProcPipe) else ""
        if said:
            detail = f"{detail}: {said}"
        return RemoteError(f"remote {self.url}: connection to the node lost ({detail})", transient=True)


_SPACE = re.compile(r"[0-9a-f]{32}")


def _bad_welcome(welcome: dict[str, Any], asked: str | None) -> str:
    """Why a node's welcome is refused ('' when it is well formed): a space that is not 32 lowercase hex
    digits (or not the one the hello named), a role fog does not know, numbers that are not numbers."""
    space = welcome.get("space")
    if not isinstance(space, str) or not _SPACE.fullmatch(space):
        return "its space is not 32 hex digits"
    if asked and space != asked:
        return f"space {space}, not the {asked} asked for"
    if welcome.get("role") not in ("device", "join"):
        return "an unknown role"
    for key in ("used", "max_object", "quota"):
        value = welcome.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return f"{key} is not a whole number"
    return ""


def parse_url(url: str) -> tuple[str, str | None, str, int | None, str]:
    """Split `fog://HOST[:PORT]` or `fog+ssh://[USER@]HOST[:PORT]/DIR` into (scheme, user, host, port, dir)."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("fog", "fog+ssh"):
        raise UsageError(f"not a fog node URL: {url!r}")
    netloc, slash, raw_path = rest.partition("/")
    user = None
    if "@" in netloc:
        user, _, netloc = netloc.rpartition("@")
        user = unquote(user)
        if not user or scheme == "fog":
            raise UsageError(f"remote {url}: a user name only goes in fog+ssh:// URLs")
    host, port = split_host_port(netloc, url)
    if not host:
        raise UsageError(f"remote {url}: no host")
    if host.startswith("-") or (user or "").startswith("-") or any(c.isspace() or ord(c) < 32 for c in host):
        # (ssh would take `-oProxyCommand=...` for an option and run it: a pasted URL must never do that)
        raise UsageError(f"remote {url!r}: a host or user name cannot start with '-' or hold spaces")
    path = unquote(raw_path).rstrip("/")
    if scheme == "fog":
        if path:
            raise UsageError(f"remote {url}: fog:// URLs name a host and port only (fog://HOST:PORT)")
        return scheme, None, host, port, ""
    if not slash or not path:
        raise UsageError(f"remote {url}: use fog+ssh://[user@]host[:port]/DIR")
    if path == "~":
        path = "."
    elif path.startswith("~/"):
        path = path[2:]
    else:
        path = "/" + path.lstrip("/")
    return scheme, user, host, port, path
