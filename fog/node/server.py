"""`fog serve`: an untrusted node serving its spaces over TCP or stdin/stdout (docs/FORMAT.md, section 17).

One thread per connection (bounded). A connection is admitted in its
handshake (the roster it carries merged first), then serves one request at
a time until the client goes, idles past `idle_timeout`, or breaks the
protocol. Every connection and every refusal is one line in the log
(`fog serve: <peer> <who> <what>`). The node holds no share key: it stores
ciphertext through a LocalBackend per space and checks names, hashes and
roles, nothing more.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fog import __version__
from fog.backends import nodewire as W
from fog.backends.base import check_name, check_range
from fog.backends.local import LocalBackend
from fog.crypto import channel as C
from fog.crypto import keys as K
from fog.errors import AlreadyExists, IntegrityError, ObjectNotFound, RemoteError
from fog.format import noderoster as R
from fog.format.names import shown
from fog.node import rules
from fog.node.nodedir import NodeDir, OverLimit, RosterIndex, Usage, charge, is_space

HANDSHAKE_TIMEOUT = 10.0
PENDING = 128  # TCP connections at once that have not finished their handshake (the oldest gives way)
PENDING_PER_HOST = 64  # of those, from one address (its own oldest gives way)
UNLOADABLE = "this space cannot be loaded on the node (see the node's log)"
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_UNLOADABLE = (OSError, RecursionError, RemoteError, ValueError)


@dataclass
class NodeOptions:
    """What `fog serve` was told (sizes in bytes, times in seconds)."""

    allow_prune: bool = False
    quota: int | None = None
    max_object: int = 256 << 20
    max_connections: int = 32
    idle_timeout: float = 300.0
    users: tuple[bytes, ...] = ()  # user signing publics admitted to create a space (empty: anyone)
    raw: bool = False  # a plain byte store: no layout rules (see FORMAT.md section 17)
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    max_objects: int | None = 4_000_000  # objects per space
    max_inflight: int = 1 << 30  # bytes of puts being received at once, node-wide (see __post_init__)
    max_spaces: int | None = 100  # spaces on the node (None: no limit)
    min_free: int = 1 << 30  # bytes a put must leave free on the node's file system (0: no floor)
    min_put_rate: int = 64 << 10  # bytes/s a put must keep up, after its first --idle-timeout
    space_inflight: int = field(init=False, default=0)  # of max_inflight, what one space may hold

    def __post_init__(self) -> None:
        # One space holds at most a quarter of the budget (at least one object), and the budget always
        # leaves room for another space's largest put beside it: no one user starves the others.
        self.space_inflight = max(self.max_object, self.max_inflight // 4)
        self.max_inflight = max(self.max_inflight, self.space_inflight + self.max_object)


@dataclass
class Space:
    """One user's space while the node runs: its store and its usage (kept under `lock`)."""

    name: str
    store: LocalBackend
    usage: Usage
    generation: int = 0  # bumped each time this process saves the space's roster


@dataclass(eq=False)
class _Admitted:
    """An admitted connection: its space, its pipe, and since when it waits for a request (None: serving one)."""

    space: str
    pipe: C.Pipe | None
    idle_since: float | None = None


class TooSlow(TimeoutError):
    """A put that fell behind its deadline (NodeOptions.min_put_rate): the connection is closed."""

    def __init__(self, rate: int) -> None:
        super().__init__(f"put too slow (under {rate} bytes/s)")


class Refusal(Exception):
    """A request the node refuses: the status and the one line the client gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.unread = False  # a put refused on its first message: its rest is dropped after the reply


class Node:
    """The node's state shared by its connections."""

    def __init__(self, root: Path, options: NodeOptions, log: Callable[[str], None] | None = None) -> None:
        self.dir = NodeDir(root)
        self.options = options
        self.secret, self.public, self.created = self.dir.load_or_create_key()
        self.dir.private()
        self._log = log or _stderr
        self._lock = threading.Lock()
        self._spaces: dict[str, Space] = {}
        self._create_lock = threading.Lock()  # held (with the node's flock) while a space is made
        self._space_locks: dict[str, threading.Lock] = {}
        self.index = RosterIndex(self.dir)
        self.active = 0  # admitted connections (len(self._admitted))
        self._admitted: set[_Admitted] = set()
        self._inflight = 0  # bytes of puts being received, node-wide
        self._inflight_of: dict[str, int] = {}  # of those, per space
        self._inflight_cond = threading.Condition()
        for name in self.dir.spaces():
            try:
                self._space(name)
            except _UNLOADABLE as exc:  # one damaged space must not keep the node from serving the others
                self.log("-", "-", f"space {name} not loaded: {type(exc).__name__}: {exc}")

    def log(self, peer: str, who: str, what: str) -> None:
        """One log line; a control character a client sent (a name holding a newline, an escape sequence) is
        escaped (fog.format.names.shown), so no client can forge a line of the log."""
        self._log(shown(f"fog serve: {peer} {who} {what}"))

    def _space(self, name: str) -> Space:
        with self._lock:
            space = self._spaces.get(name)
        if space is not None:
            return space
        root = self.dir.space_dir(name) / "store"  # made and counted outside the node's lock
        root.mkdir(parents=True, exist_ok=True)
        space = Space(name, LocalBackend(root, url=f"node space {name}"), Usage(root.parent / "usage", root))
        space.usage.get()  # counted now when the file is new
        with self._lock:
            return self._spaces.setdefault(name, space)

    # -- connections -------------------------------------------------------------------

    def serve_connection(
        self,
        pipe: C.Pipe,
        peer: str,
        handshaken: Callable[[], bool] | None = None,
        heard: Callable[[], None] | None = None,
    ) -> None:
        """Run one connection to its end; never raises (a failure is a log line).

        Nothing is decided, merged or said about the client before msg3 proves it holds its key; only
        then is the roster merged, the key looked up and the connection counted as active. `handshaken`
        is called then: False means the connection was dropped meanwhile (serve_tcp), and it ends.
        `heard` is called once msg1 is in (the client spoke: serve_tcp drops silent connections first)."""
        timer = threading.Timer(self.options.handshake_timeout, _cut_pipe, (pipe,))
        timer.daemon = True
        timer.start()
        admitted: _Admitted | None = None
        try:
            hs = C.ServerHandshake(pipe, self.secret)
            pipe.settimeout(self.options.handshake_timeout)
            try:
                got = hs.read_msg1()
                if got is None:
                    self.log(peer, "-", "asked for the node key")
                    return
                client, hello = got
                if heard is not None:
                    heard()
                session = hs.prove()
            except (ConnectionError, TimeoutError, OSError) as exc:
                self.log(peer, "-", f"handshake failed: {_why(exc)}")
                return
            if handshaken is not None and not handshaken():
                return
            welcome, space, role, who, admitted = self._admit(client, hello, peer, pipe)
            try:
                hs.admit(session, welcome)
            except (ConnectionError, TimeoutError, OSError) as exc:
                self.log(peer, who, f"handshake failed: {_why(exc)}")
                return
            if not admitted:
                self.log(peer, who, f"refused: {welcome['error']}")
                return
            timer.cancel()
            assert space is not None and admitted is not None
            self.log(peer, who, f"connected as {role} (space {space.name})")
            self._serve_requests(session, space, role, peer, who, admitted)
        except Exception as exc:  # a bug must not take the node down: one line, the connection closed
            self.log(peer, "-", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            timer.cancel()
            if admitted is not None:
                self._release(admitted)
            pipe.close()

    def _admit(
        self, client: bytes, hello: dict[str, Any], peer: str = "-", pipe: C.Pipe | None = None
    ) -> tuple[dict[str, Any], Space | None, str, str, _Admitted | None]:
        """(welcome, space, role, who, slot) for a hello from `client`; the welcome holds `error` when refused
        (and the slot is None). The slot is given back with _release."""
        who = f"key {client.hex()[:16]}"
        try:
            state = self._resolve(client, hello, peer)
        except Refusal as r:
            return {"error": r.message}, None, "", who, None
        who = state.label_of(client.hex())
        role, why = state.role_of(client.hex())
        if role is None:
            return {"error": why}, None, "", who, None
        slot = _Admitted(state.space, pipe)
        evicted = None
        with self._lock:
            if self.active >= self.options.max_connections:
                evicted = self._evictable(state.space)
                if evicted is None:
                    busy = f"too many connections (--max-connections {self.options.max_connections}); try again later"
                    return {"error": busy, "transient": True}, None, "", who, None
                self._admitted.discard(evicted)
                self.active -= 1
            self._admitted.add(slot)
            self.active += 1
        if evicted is not None:
            self.log(peer, who, f"all connections taken: an idle one of space {evicted.space} closed for this one")
            if evicted.pipe is not None:
                _cut_pipe(evicted.pipe)
        try:
            space = self._space(state.space)
            used = space.usage.get()[0]
        except _UNLOADABLE as exc:
            self._release(slot)
            self.log("-", who, f"space {state.space} not loaded: {type(exc).__name__}: {exc}")
            return {"error": UNLOADABLE}, None, "", who, None
        except BaseException:  # the slot is given back whatever happens before the connection counts as admitted
            self._release(slot)
            raise
        welcome = {
            "proto": 1,
            "space": space.name,
            "role": role,
            "append_only": not self.options.allow_prune,
            "quota": self.options.quota,
            "used": used,
            "max_object": self.options.max_object,
            "node": f"fog {__version__}",
        }
        return welcome, space, role, who, slot

    def _release(self, slot: _Admitted) -> None:
        """Give an admitted connection's slot back (once: an evicted one gave it back already)."""
        with self._lock:
            if slot in self._admitted:
                self._admitted.discard(slot)
                self.active -= 1

    def _evictable(self, newcomer: str) -> _Admitted | None:
        """With every slot taken (under the node's lock): the connection that gives way to one of space
        `newcomer`, or None (the newcomer is refused, and retries).

        No space may keep the others out by holding every slot (one user's connections, or a stranger's
        on a node without --user, even spread over many made-up spaces of one connection each): the space
        holding the most connections, when it holds at least two more than the newcomer's, or any at all
        when the newcomer's holds none, gives up the one of its connections that has waited longest for a
        request. So every space can always get one connection while another space's waits idle. A
        connection in the middle of a request is never cut (its client would see a lost connection and
        retry, but a put would be received twice)."""
        held: dict[str, list[_Admitted]] = {}
        for slot in self._admitted:
            held.setdefault(slot.space, []).append(slot)
        mine = len(held.get(newcomer, ()))
        least = mine + 2 if mine else 1  # (two more: two spaces of n and n+1 do not take turns for ever)
        for _, slots in sorted(held.items(), key=lambda kv: (-len(kv[1]), min(s.idle_since or 1e300 for s in kv[1]))):
            if len(slots) < least:
                return None
            idle = [s for s in slots if s.idle_since is not None]
            if idle:
                return min(idle, key=lambda s: s.idle_since or 0.0)
        return None

    def _resolve(self, client: bytes, hello: dict[str, Any], peer: str = "-") -> R.SpaceRoster:
        """The space a hello names (merging the roster it carries), or Refusal.

        A stale roster (signed by a user key the space no longer pins: a device that has not followed a
        rotation yet) carried by a key the named space lists is ignored, not merged: the key is admitted
        by the list the node holds (one log line). Unnamed, or from a key not listed, it is refused."""
        if hello.get("proto") != 1:
            raise Refusal(W.REFUSED, "unsupported protocol version (this node speaks 1)")
        named = hello.get("space")
        if named is not None and not is_space(named):
            raise Refusal(W.REFUSED, "malformed space in the hello")
        roster = None
        if hello.get("roster") is not None:
            try:
                roster = R.decode_roster(base64.b64decode(str(hello["roster"]), validate=True))
            except (IntegrityError, binascii.Error, ValueError) as exc:
                raise Refusal(W.REFUSED, f"roster refused: {exc}") from None
            if roster.node != self.public.hex():
                raise Refusal(W.REFUSED, "roster refused: it is for another node")
        name = named or self._find(client.hex(), roster)
        if name is None:
            raise Refusal(W.REFUSED, "unknown key")
        if roster is None:
            state = self._load(name)  # saved by rename: read whole without a lock
            if state is None:
                raise Refusal(W.REFUSED, "unknown key" if named is None else "unknown space")
            return state
        if self.dir.roster_stamp(name) is None:  # refused before anything is made on disk for it
            self._may_create(name, roster)
        with self._space_lock(name), self.dir.locked(name):
            state = self._load(name)
            if state is not None:
                return self._merge(state, roster, client, named, peer)
            with self._create_lock, self.dir.creating():  # counted and made as one step (--max-spaces)
                self._may_create(name, roster)
                return self._merge(state, roster, client, named, peer)

    def _merge(
        self, state: R.SpaceRoster | None, roster: R.Roster, client: bytes, named: str | None, peer: str
    ) -> R.SpaceRoster:
        """Merge a hello's roster into the space's (held under its locks); the state that admits the client."""
        try:
            merged = R.merge(state, roster)
        except IntegrityError as exc:
            if exc.message == R.NOT_THIS_USER and named is not None and state is not None:
                if state.lists(client.hex()):
                    self.log(
                        peer,
                        state.label_of(client.hex()),
                        "roster ignored: stale (signed by a user key this space no longer pins); "
                        "admitted by the device list the node holds",
                    )
                    return state
            raise Refusal(W.REFUSED, exc.message) from None
        if merged != state:
            self.dir.save_roster(merged)
            self.index.saved(merged)
            with self._lock:
                known = self._spaces.get(merged.space)
            if known is not None:
                known.generation += 1
        return merged

    def _load(self, name: str) -> R.SpaceRoster | None:
        try:
            return self.dir.load_roster(name)
        except RemoteError as exc:
            self.log("-", "-", f"space {name} not loaded: {exc.message}")
            raise Refusal(W.REFUSED, UNLOADABLE) from None

    def _may_create(self, name: str, roster: R.Roster) -> None:
        """Refusal unless `roster` may create space `name` (its signer's, on a node admitting that user)."""
        if name != K.node_space(bytes.fromhex(roster.signer)):
            raise Refusal(W.REFUSED, "unknown space")
        if self.options.users and bytes.fromhex(roster.signer) not in self.options.users:
            raise Refusal(W.REFUSED, "this node does not admit new users (fog serve --user)")
        most = self.options.max_spaces
        if most is not None and sum(1 for s in self.dir.spaces() if s != name and self.dir.roster_stamp(s)) >= most:
            raise Refusal(W.REFUSED, f"this node holds all the spaces it may (fog serve --max-spaces {most})")

    def _space_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._space_locks.setdefault(name, threading.Lock())

    def _find(self, client_hex: str, roster: R.Roster | None) -> str | None:
        """The space a hello that names none is for; None when no space is (from the in-memory index).

        With a roster: the space pinned to its signer, or one it was handed over to from, else the new
        space of its signer; never by the keys it lists (anyone may list anyone's public keys). Without:
        the one space listing `client_hex` (a join key, bound to this node, or a device)."""
        self.index.refresh()
        if roster is not None:
            for attempt in range(2):
                found = self.index.pinned_to(roster.signer)
                if found is None:
                    for old, _ in roster.handover:
                        candidate = self.index.pinned_to(old)
                        if candidate is not None and roster.handed_over_from(old):
                            found = candidate
                            break
                if found is not None or not roster.handover or attempt:
                    break
                self.index.refresh(force=True)  # a rotation merged by another process a moment ago
            return found or K.node_space(bytes.fromhex(roster.signer))
        listing = self.index.listing(client_hex)
        if len(listing) > 1:
            raise Refusal(W.REFUSED, "this key is in several spaces: name the space")
        return listing[0] if listing else None

    # -- requests ----------------------------------------------------------------------

    def _recheck(self, space: Space, client_hex: str, seen: tuple[Any, ...]) -> tuple[str | None, str, tuple[Any, ...]]:
        """(role, why, seen) of a connected key now: the roster is read again only when it changed since `seen`
        (this process saved it, or its file changed: another `fog serve --stdio` process merged one)."""
        now = (space.generation, self.dir.roster_stamp(space.name))
        if now == seen:
            return "", "", seen
        try:
            state = self.dir.load_roster(space.name)  # saved by rename: read whole without a lock
        except RemoteError:
            state = None
        if state is None:
            return None, "unknown space", now
        role, why = state.role_of(client_hex)
        return role, why, now

    def _serve_requests(
        self, session: C.Session, space: Space, role: str, peer: str, who: str, slot: _Admitted
    ) -> None:
        client_hex = session.peer.hex()
        seen: tuple[Any, ...] = (space.generation, self.dir.roster_stamp(space.name))
        while True:
            session.pipe.settimeout(self.options.idle_timeout)
            with self._lock:
                slot.idle_since = time.monotonic()
            try:
                code, header, first, total = W.recv_head(session)
            except TimeoutError:
                self.log(peer, who, f"idle for {self.options.idle_timeout:g} s: closing")
                return
            except (ConnectionError, OSError) as exc:
                if slot not in self._admitted:
                    return  # given way to another space's connection (logged then)
                self._dropped(peer, who, exc)
                return
            with self._lock:
                slot.idle_since = None
                if slot not in self._admitted:
                    return  # cut while its request arrived: it is not served
            op = W.OPS.get(code)
            if total > self.options.max_object:  # refused unread: the connection cannot go on
                msg = f"object larger than the node's --max-object ({self.options.max_object} bytes)"
                self._refuse_and_close(session, peer, who, op or code, msg)
                return
            now, why, seen = self._recheck(space, client_hex, seen)
            if now is None:  # revoked, untrusted or retired since the handshake: this session ends too
                self._refuse_and_close(session, peer, who, op or code, why)
                return
            role = now or role
            unread = False
            try:
                try:
                    if op is None:
                        raise Refusal(W.REFUSED, f"unknown request {code}")
                    if op in ("put", "put_new"):
                        status, reply, out = self._put_request(session, op, header, first, total, space, role)
                    elif total != len(first):
                        raise Refusal(W.REFUSED, f"a {op} request carries no data")
                    else:
                        status, reply, out = self._request(op, header, first, space, role, session.peer)
                except Refusal as r:
                    unread = r.unread or op not in ("put", "put_new")
                    name = header.get("name")
                    what = f"{op or code}{' ' + name[:200] if isinstance(name, str) else ''}"
                    if r.status not in (W.NOT_FOUND, W.EXISTS):  # answers, not refusals: not logged
                        self.log(peer, who, f"refused {what}: {r.message}")
                    status, reply, out = r.status, {"error": r.message}, b""
                if op == "list" and status == W.OK:
                    for chunk in out[:-1]:
                        W.send(session, W.OK, {"more": True}, chunk)
                    out = out[-1] if out else b""
                W.send(session, status, reply, out)  # type: ignore[arg-type]
                if status != W.OK and unread:  # the refusal is out; the rest of the request goes unread
                    W.skip_rest(session, first, total)
            except TooSlow as exc:
                self.log(peer, who, f"{exc}: closing")
                return
            except TimeoutError:
                self.log(peer, who, f"{op} stalled for {self.options.idle_timeout:g} s: closing")
                return
            except (ConnectionError, OSError) as exc:
                self._dropped(peer, who, exc)
                return

    def _dropped(self, peer: str, who: str, exc: BaseException) -> None:
        """Log a connection lost mid-session (a clean end of file is not worth a line)."""
        if not isinstance(exc, C.Closed):
            self.log(peer, who, f"connection dropped: {_why(exc)}")

    def _refuse_and_close(self, session: C.Session, peer: str, who: str, what: object, why: str) -> None:
        """Refuse a request after which the session cannot go on: one line to the client, one in the log."""
        self.log(peer, who, f"refused {what}: {why}; closing")
        W.send(session, W.REFUSED, {"error": why})

    def _put_request(
        self,
        session: C.Session,
        op: str,
        header: dict[str, Any],
        first: memoryview,
        total: int,
        space: Space,
        role: str,
    ) -> tuple[int, dict[str, Any], Any]:
        """A put: name, role, rule and quota are checked on its first message, before the rest is read
        (a refusal drops the rest unread into no buffer); its bytes count against the node's in-flight cap."""
        try:
            name = _name(_str(header, "name"))
            if self.options.raw:
                if role != "device":
                    raise Refusal(W.REFUSED, rules.JOIN_READ_ONLY)
            else:
                why = rules.name_rule(role, name, session.peer)
                if why:
                    raise Refusal(W.REFUSED, why)
            self._room(space, total)
            self._reserve(space, charge(total), 1)
        except Refusal as r:
            r.unread = True
            raise
        stored = False
        try:
            if not self._inflight_acquire(space.name, total):
                busy = Refusal(W.TRANSIENT, "node busy (too much data in flight); try again later")
                busy.unread = True
                raise busy
            try:
                data = self._receive(session, first, total)
                stored = True  # from here _put holds (and gives back) the reservation
                return self._put(space, role, session.peer, name, data, replace=op == "put", held=charge(total))
            finally:
                self._inflight_release(space.name, total)
        finally:
            if not stored:
                self._reserve(space, -charge(total), -1)

    def _receive(self, session: C.Session, first: memoryview, total: int) -> memoryview:
        """The rest of a put, which must keep going: each message within --idle-timeout, and the whole
        within --idle-timeout plus `total` at `min_put_rate` (TooSlow), so a put that trickles cannot hold
        its share of the in-flight budget for long."""
        idle, pipe = self.options.idle_timeout, session.pipe
        deadline = time.monotonic() + idle + total / self.options.min_put_rate

        def clock() -> None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TooSlow(self.options.min_put_rate)
            pipe.settimeout(min(idle, left))

        try:
            return W.recv_rest(session, first, total, clock)
        except TimeoutError:
            if time.monotonic() >= deadline - 0.01:
                raise TooSlow(self.options.min_put_rate) from None
            raise
        finally:
            pipe.settimeout(idle)

    def _inflight_acquire(self, space: str, n: int) -> bool:
        """Take `n` bytes of the in-flight budget for a put into `space` (waiting up to --idle-timeout);
        False when it stays full. A space takes at most its share (`space_inflight`), the node at most
        `max_inflight`."""
        if n <= W.CHUNK:  # one message: already read
            return True
        deadline = time.monotonic() + self.options.idle_timeout
        share, pool = self.options.space_inflight, self.options.max_inflight
        with self._inflight_cond:
            while self._inflight + n > pool or self._inflight_of.get(space, 0) + n > share:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._inflight_cond.wait(left)
            self._inflight += n
            self._inflight_of[space] = self._inflight_of.get(space, 0) + n
            return True

    def _inflight_release(self, space: str, n: int) -> None:
        if n <= W.CHUNK:
            return
        with self._inflight_cond:
            self._inflight -= n
            held = self._inflight_of.pop(space) - n
            if held:
                self._inflight_of[space] = held
            self._inflight_cond.notify_all()

    def _request(
        self, op: str, header: dict[str, Any], data: memoryview, space: Space, role: str, client: bytes
    ) -> tuple[int, dict[str, Any], Any]:
        store = space.store
        if op == "info":
            return W.OK, self._info(space), b""
        if op == "roster":
            state = self.dir.load_roster(space.name)
            doc = {"pinned": "", "devices": {}, "join": [], "signed": 0} if state is None else state.listing()
            return W.OK, {}, json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        if op == "sync":
            _storage(lambda: store.sync(every=bool(header.get("every"))))
            return W.OK, {}, b""
        if op == "list":
            prefix = _str(header, "prefix")
            if prefix and not prefix.endswith("/"):
                raise Refusal(W.REFUSED, "a list prefix ends with '/'")
            _name(prefix.rstrip("/")) if prefix else None
            names = _storage(lambda: list(store.list(prefix)))
            chunks = ["\n".join(names[i : i + W.LIST_BATCH]).encode() for i in range(0, len(names), W.LIST_BATCH)]
            return W.OK, {}, chunks
        name = _name(_str(header, "name"))
        if op == "get":
            return W.OK, {}, _storage(lambda: store.get(name))
        if op == "get_range":
            offset, length = header.get("offset"), header.get("length")
            if not (_int(offset) and _int(length)):
                raise Refusal(W.REFUSED, "get_range needs offset and length (whole numbers, 0 or more)")
            try:
                check_range(offset, length)
            except ValueError as exc:
                raise Refusal(W.REFUSED, str(exc)) from None
            return W.OK, {}, _storage(lambda: store.get_range(name, offset, length))
        if op == "exists":
            return W.OK, {"exists": _storage(lambda: store.exists(name))}, b""
        if op == "delete":
            return self._delete(space, role, name)
        raise Refusal(W.REFUSED, f"unknown request {op}")

    def _info(self, space: Space) -> dict[str, Any]:
        state = self.dir.load_roster(space.name)
        return {
            "used": space.usage.get()[0],
            "quota": self.options.quota,
            "append_only": not self.options.allow_prune,
            "roster_signed": state.signed if state else 0,
        }

    def _put(self, space: Space, role: str, client: bytes, name: str, data: memoryview, *, replace: bool, held: int):  # type: ignore[no-untyped-def]
        """Store a put whose `held` bytes of quota (and one object) were reserved on its first message
        (given back unless stored)."""
        held_objects = 1
        try:
            store = space.store
            rule = rules.Rule() if self.options.raw else rules.write_rule(role, name, data, client)
            if rule.refusal:
                raise Refusal(W.REFUSED, rule.refusal)
            old = self._size(space, name) if (self.options.raw and replace) or rule.marker else None
            if rule.marker and old is not None:
                current = rules.marker_version(_storage(lambda: store.get(name)))
                if current is not None and rules.marker_version(data) <= current:  # type: ignore[operator]
                    return self._same_or_refuse(store, name, data, replace)
            grow = charge(len(data)) - (charge(old) if old is not None else 0)
            objects = 0 if old is not None else 1
            self._reserve(space, grow - held, objects - 1)
            held, held_objects = grow, objects
            if old is not None or (self.options.raw and replace):
                _storage(lambda: store.put(name, data))  # type: ignore[arg-type]
            else:
                try:
                    _storage(lambda: store.put_new(name, data))  # type: ignore[arg-type]
                except AlreadyExists:
                    return self._same_or_refuse(store, name, data, replace)
            held, held_objects = 0, 0  # stored: the space keeps the charge
            return W.OK, {}, b""
        finally:
            if held or held_objects:
                self._reserve(space, -held, -held_objects)

    def _same_or_refuse(self, store: LocalBackend, name: str, data: memoryview, replace: bool):  # type: ignore[no-untyped-def]
        """Create-only: a name already there. put of the same bytes: done; put_new: AlreadyExists; else refused."""
        if not replace:
            return W.EXISTS, {"error": f"{name} already exists"}, b""
        if _storage(lambda: store.get(name)) == data:
            return W.OK, {}, b""
        raise Refusal(W.REFUSED, rules.MARKER if name == "fog-store" else rules.OVERWRITE)

    def _delete(self, space: Space, role: str, name: str):  # type: ignore[no-untyped-def]
        why = rules.delete_refusal(role, name, self.options.allow_prune)
        if self.options.raw and why == rules.NOT_DELETABLE:
            why = ""
        if why:
            raise Refusal(W.REFUSED, why)
        size = self._size(space, name)
        _storage(lambda: space.store.delete(name))
        if size is not None:
            self._reserve(space, -charge(size), -1)
        return W.OK, {}, b""

    def _room(self, space: Space, total: int) -> None:
        """Refusal (transient) when a put of `total` bytes would leave less than --min-free on the node's disk."""
        floor = self.options.min_free
        if not floor:
            return
        try:
            st = os.statvfs(space.store.root)
        except OSError:
            return
        if st.f_bavail * st.f_frsize - total < floor:
            raise Refusal(
                W.TRANSIENT,
                f"node storage nearly full (fog serve --min-free keeps {floor} bytes free); try again later",
            )

    def _size(self, space: Space, name: str) -> int | None:
        try:
            return (space.store.root / name).lstat().st_size
        except OSError:
            return None

    def _reserve(self, space: Space, grow: int, objects: int = 0) -> None:
        """Change the space's usage (shared with every process serving this directory); Refusal past a limit."""
        try:
            space.usage.change(grow, objects, self.options.quota, self.options.max_objects)
        except OverLimit as e:
            if e.what == "quota":
                raise Refusal(W.REFUSED, f"quota exceeded ({e.used} of {self.options.quota} bytes used)") from None
            raise Refusal(W.REFUSED, f"too many objects in this space (at most {self.options.max_objects})") from None

    # -- listening ---------------------------------------------------------------------

    def serve_tcp(self, sock: socket.socket) -> None:
        """Accept connections on a listening socket until interrupted (the caller closes it).

        A connection that has not finished its handshake holds a slot among PENDING (PENDING_PER_HOST
        from one address); a new one takes the oldest such slot (that address's own first), so clients
        that connect and say nothing cannot keep out those that complete a handshake in milliseconds.
        Admitted connections are capped by --max-connections (a refusal the client retries)."""
        threads = threading.BoundedSemaphore(PENDING + self.options.max_connections + 8)
        pending: dict[int, list[Any]] = {}  # in arrival order: [host, peer, socket, msg1 read]
        lock = threading.Lock()
        seq = 0
        while True:
            conn, addr = sock.accept()
            peer = _peer(addr)
            if not threads.acquire(blocking=False):  # slots given back by connections still closing
                self.log(peer, "-", "refused: too many connections at once")
                conn.close()
                continue
            host = str(addr[0]) if isinstance(addr, tuple) and addr else peer
            seq += 1
            with lock:
                pending[seq] = [host, peer, conn, False]
                mine = [k for k, v in pending.items() if v[0] == host]
                over = mine if len(mine) > PENDING_PER_HOST else list(pending) if len(pending) > PENDING else []
                dropped = pending.pop(_victim(pending, over)) if over else None
            if dropped is not None:
                self.log(dropped[1], "-", "dropped: handshake not finished, and newer connections wait for theirs")
                _cut(dropped[2])

            def done(key: int = seq) -> bool:
                with lock:
                    return pending.pop(key, None) is not None

            def heard(key: int = seq) -> None:
                with lock:
                    if key in pending:
                        pending[key][3] = True

            def run(
                conn: socket.socket = conn,
                peer: str = peer,
                done: Callable[[], bool] = done,
                heard: Callable[[], None] = heard,
            ) -> None:
                try:
                    try:
                        pipe = C.SocketPipe(conn)
                    except OSError:  # cut (or reset) before its thread began
                        conn.close()
                        return
                    self.serve_connection(pipe, peer, done, heard)
                finally:
                    done()
                    threads.release()

            threading.Thread(target=run, name=f"fog-serve {peer}", daemon=True).start()


def _victim(pending: dict[int, list[Any]], keys: list[int]) -> int:
    """Which of `keys` (oldest first, the newest last) to drop: the oldest that has said nothing yet
    (msg1 not read, nothing waiting to be read), else the oldest. The newest is only dropped as the
    oldest (it may not have had the time to speak)."""
    for key in keys[:-1]:
        entry = pending[key]
        if not entry[3] and _silent(entry[2]):
            return key
    return keys[0]


def _silent(conn: socket.socket) -> bool:
    """Whether nothing waits to be read on `conn` (a peek, without blocking); an ended one counts as silent."""
    try:
        return not conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return True


def _cut(conn: socket.socket) -> None:
    """End a connection another thread serves: shut down, not closed (its thread closes it; the
    descriptor is not freed for reuse under that thread)."""
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _cut_pipe(pipe: C.Pipe) -> None:
    """The handshake deadline: a socket is shut down (its thread closes it), anything else closed."""
    sock = getattr(pipe, "sock", None)
    if isinstance(sock, socket.socket):
        _cut(sock)
    else:
        pipe.close()


def _stderr(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _peer(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = str(addr[0])
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    return str(addr) or "local"


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _str(header: dict[str, Any], key: str) -> str:
    value = header.get(key)
    if not isinstance(value, str):
        raise Refusal(W.REFUSED, f"request without {key}")
    return value


def _name(name: str) -> str:
    try:
        check_name(name)
    except ValueError:
        raise Refusal(W.REFUSED, f"invalid object name {name[:80]!r}") from None
    why = rules.name_refusal(name)
    if why:
        raise Refusal(W.REFUSED, why)
    return name


def _storage(fn: Callable[[], Any]) -> Any:
    """Run a store call: not found and exists pass as statuses; a full disk is transient; else refused."""
    try:
        return fn()
    except ObjectNotFound as exc:
        raise Refusal(W.NOT_FOUND, exc.message) from None
    except AlreadyExists:
        raise
    except RemoteError as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno in _FULL:
            raise Refusal(W.TRANSIENT, f"node storage full ({cause.strerror}); try again later") from None
        raise Refusal(W.REFUSED, f"node storage: {exc.message}") from None
    except ValueError as exc:
        raise Refusal(W.REFUSED, str(exc)) from None
