"""A real `fog serve` against clients that misbehave: every refusal is one line at the client and one at the node.

Nodes run as subprocesses on 127.0.0.1 (tests/fognode.py). A full disk is
simulated with RLIMIT_FSIZE in the node's process (SIGXFSZ ignored, so a
write past it fails with EFBIG, as on a full disk), since a tiny tmpfs needs
root.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import resource
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fognode import NodeProcess, User

from fog.backends import nodewire as W
from fog.backends.base import Backend, open_backend
from fog.backends.node import NodeBackend
from fog.crypto import channel as C
from fog.crypto import seal as S
from fog.crypto.keys import device_log_name
from fog.errors import AlreadyExists, ObjectNotFound, RemoteError
from fog.node.server import PENDING_PER_HOST, Node, NodeOptions

Start = Callable[..., NodeProcess]
SHARE = bytes(range(16))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Any:
    n = NodeProcess(tmp_path_factory.mktemp("node"), ("--max-connections", "8", "--idle-timeout", "2")).start()
    yield n
    n.stop()


def connect(node: NodeProcess, user: User, device: str = "laptop", **kw: Any) -> NodeBackend:
    """The node backend without the retry wrapper (a refusal or a transient failure shows at once)."""
    b = open_backend(node.url, options={"node_auth": user.auth(node.public, device, **kw)})
    return b.inner  # type: ignore[attr-defined]


def refused(node: NodeProcess, call: Callable[[], object], line: str, *, transient: bool = False) -> None:
    """`call` fails with one line holding `line`, and the node logs one line holding it too."""
    mark = len(node.lines)
    with pytest.raises(RemoteError) as e:
        call()
    assert line in str(e.value) and "\n" not in str(e.value) and e.value.transient is transient
    node.wait_for_log(r"^fog serve: 127\.0\.0\.1:\d+ .*" + _re(line), since=mark)
    assert len([x for x in node.lines[mark:] if line in x]) == 1


def _re(text: str) -> str:
    import re

    return re.escape(text)


def pack_name(data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    return f"shares/{SHARE.hex()}/packs/{h[:2]}/{h}"


def own_log(user: User, device: str = "laptop") -> str:
    return f"shares/{SHARE.hex()}/log/{device_log_name(SHARE, S.public_of(user.secrets[device]))}"


def test_connection_is_logged_and_unknown_key_refused(node: NodeProcess) -> None:
    user = User()
    mark = len(node.lines)
    b = connect(node, user)
    with pytest.raises(ObjectNotFound):
        b.get("fog-store")  # an answer, not a refusal: not logged as one
    b.put_new("config/" + "a" * 32 + "/" + "b" * 64, b"x")
    with pytest.raises(AlreadyExists):
        b.put_new("config/" + "a" * 32 + "/" + "b" * 64, b"x")
    b.close()
    node.wait_for_log(r"laptop/[0-9a-f]{8} connected as device \(space " + user.space, since=mark)
    assert not [x for x in node.lines[mark:] if "refused" in x], node.lines[mark:]
    stranger = NodeAuth_for(S.new_keypair()[0], node.public, user.space)
    refused(node, lambda: open_backend(node.url, options={"node_auth": stranger}), "unknown key")


def NodeAuth_for(secret: bytes, node_public: bytes, space: str | None, roster: bytes | None = None) -> Any:  # noqa: N802
    from fog.backends.node import NodeAuth

    return NodeAuth(secret=secret, node_key=node_public, space=space, roster=roster)


def test_revoked_and_foreign_roster_refused(node: NodeProcess) -> None:
    user = User()
    user.add_device("old")
    connect(node, user, "old").close()
    user.revoke("old")
    connect(node, user).close()  # the laptop hands the node the roster with the revocation
    refused(node, lambda: connect(node, user, "old", roster=False, space=True), "device revoked")
    # an older roster (before the revocation) carried by the old device changes nothing: sticky
    other = User()
    other.seed = S.random_bytes(32)
    other.first_sign = other.sign_public
    other.devices, other.secrets = user.devices, user.secrets
    # naming this space with a key it lists: the roster (not this user's) is ignored, nothing merged, and the
    # key admitted by the list the node holds (as a device that has not followed a rotation yet)
    roster_file = node.root / "spaces" / user.space / "roster.json"
    held = roster_file.read_bytes()
    foreign = NodeAuth_for(user.secrets["laptop"], node.public, user.space, other.roster(node.public))
    mark = len(node.lines)
    b = open_backend(node.url, options={"node_auth": foreign})
    assert b.role == "device" and b.space == user.space
    b.close()
    node.wait_for_log(r"laptop/[0-9a-f]{8} roster ignored: stale", since=mark)
    assert roster_file.read_bytes() == held
    refused(node, lambda: connect(node, user, "old", roster=False, space=True), "device revoked")
    # a key this space does not list, naming it with that roster: refused
    stranger = NodeAuth_for(S.new_keypair()[0], node.public, user.space, other.roster(node.public))
    refused(
        node, lambda: open_backend(node.url, options={"node_auth": stranger}), "roster not signed by this user's key"
    )
    # without naming the space, another user's roster goes to that user's own space, never to this one
    b = connect(node, other, "laptop")
    assert b.space == other.space != user.space
    b.close()


def test_join_key_reads_and_cannot_write(node: NodeProcess) -> None:
    user = User()
    b = connect(node, user)
    b.put("fog-store", b"fog-store 4\n")
    b.close()
    j = connect(node, user, "join", roster=False)
    assert j.role == "join" and j.space == user.space and j.get("fog-store") == b"fog-store 4\n"
    j.put_new("config/" + "ab" * 16 + "/" + "cd" * 32, b"enrolment: a SyncConfig version")
    refused(node, lambda: j.put(pack_name(b"x"), b"x"), "join key: read-only")
    refused(node, lambda: j.delete("fog-store"), "join key: read-only")
    j.close()


def test_layout_rules(node: NodeProcess) -> None:
    user = User()
    user.add_device("phone")
    b = connect(node, user)
    log = own_log(user) + "/0000000001"
    b.put_new(log, b"batch one")
    refused(node, lambda: b.put(log, b"another batch"), "append-only node: overwrite refused")
    with pytest.raises(AlreadyExists):
        b.put_new(log, b"another batch")
    assert b.get(log) == b"batch one"
    b.put(log, b"batch one")  # the same bytes again: done
    refused(node, lambda: b.put_new(own_log(user, "phone") + "/0000000001", b"x"), "not this device's log")
    refused(node, lambda: b.put_new("elsewhere/file", b"x"), "name outside the store layout")
    refused(node, lambda: b.put(pack_name(b"right"), b"wrong"), "pack name is not the SHA256 of its bytes")
    b.put(pack_name(b"right"), b"right")
    refused(node, lambda: b.delete(pack_name(b"right")), "append-only node: delete refused")
    b.put("fog-store", b"fog-store 4\n")
    refused(node, lambda: b.put("fog-store", b"fog-store 2\n"), "only a newer format")
    # a format no fog knows would lock every device out for good (review 5, serve 2)
    refused(node, lambda: b.put("fog-store", b"fog-store 999999\n"), "only a newer format")
    refused(node, lambda: b.put("fog-store", b"fog-store 5\n"), "only a newer format")
    assert b.get("fog-store") == b"fog-store 4\n"
    b.close()


def test_prune_node_deletes_only_prunable_names(start: Start) -> None:
    n = start("--allow-prune")
    user = User()
    b = connect(n, user)
    b.put(pack_name(b"p"), b"p")
    b.delete(pack_name(b"p"))
    assert not b.exists(pack_name(b"p"))
    b.put_new("config/" + "ab" * 16 + "/" + "cd" * 32, b"c")
    refused(n, lambda: b.delete("config/" + "ab" * 16 + "/" + "cd" * 32), "delete refused: only packs")
    b.close()


def _handshake(node: NodeProcess, secret: bytes, hello: dict[str, Any], tap: list[bytes] | None = None) -> C.Session:
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    pipe: Any = C.SocketPipe(sock)
    if tap is not None:
        send = pipe.send

        def recording(data: Any) -> None:
            tap.append(bytes(data))
            send(data)

        pipe.send = recording
    return C.client_handshake(pipe, secret, node.public, hello)


def _hello(user: User, node: NodeProcess) -> dict[str, Any]:
    return {"proto": 1, "roster": base64.b64encode(user.roster(node.public)).decode()}


def test_replayed_handshake_gets_nothing(node: NodeProcess) -> None:
    user = User()
    sent: list[bytes] = []
    session = _handshake(node, user.secrets["laptop"], _hello(user, node), sent)
    session.close()
    msg1 = sent[0]
    mark = len(node.lines)
    raw = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    raw.sendall(msg1)
    reply = raw.recv(65536)
    assert len(reply) > 32  # msg2 with a fresh E_s ...
    raw.sendall(b"\x00\x00\x00\x30" + bytes(0x30) + bytes(24))  # ... and a msg3 the replayer cannot make
    assert _drain(raw) == b""  # closed: nothing more
    node.wait_for_log("handshake failed: the client did not prove its key", since=mark)


def _drain(sock: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            got = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            return out
        if not got:
            return out
        out += got


def test_malformed_and_oversized_frames_close_the_connection_only(node: NodeProcess) -> None:
    user = User()
    mark = len(node.lines)
    raw = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(64))
    assert _drain(raw) == b""
    node.wait_for_log("handshake failed: not a fog node client", since=mark)
    session = _handshake(node, user.secrets["laptop"], _hello(user, node))
    session.pipe.send(b"\xff\xff\xff\xff" + bytes(100))  # a frame far past the limit: refused unread
    assert _drain(session.pipe.sock) == b""  # type: ignore[attr-defined]
    node.wait_for_log(r"connection dropped: frame of 4294967295 bytes refused", since=mark)
    session = _handshake(node, user.secrets["laptop"], {"proto": 1, "space": user.space})
    session.send(b"\x03\x00\x00\x00\x05{bad}")  # a header that is not JSON
    assert _drain(session.pipe.sock) == b""  # type: ignore[attr-defined]
    node.wait_for_log("connection dropped: message header is not a JSON object", since=mark)
    session = _handshake(node, user.secrets["laptop"], {"proto": 1, "space": user.space})
    header = json.dumps({"name": "fog-store", "total": 1 << 40}).encode()  # more than --max-object
    session.send(struct.pack(">BI", W.OP_PUT, len(header)) + header)
    status, header, _ = W.recv(session, 1 << 20)
    assert status == W.REFUSED and "--max-object" in header["error"]
    b = connect(node, user, roster=False, space=True)  # still serving
    assert b.exists("fog-store") is False
    b.close()


def test_idle_connection_is_closed_and_replaced(node: NodeProcess) -> None:
    user = User()
    b = connect(node, user)
    mark = len(node.lines)
    device_id = next(iter(user.devices.values()))["id"]
    node.wait_for_log(rf"laptop/{str(device_id)[:8]} idle for 2 s: closing", since=mark, timeout=5)
    with pytest.raises(RemoteError) as e:
        b.exists("fog-store")
    assert e.value.transient
    assert b.exists("fog-store") is False  # a new connection
    b.close()


def test_slow_handshake_times_out(tmp_path: Path) -> None:
    """In process (the 10 s handshake limit is NodeOptions.handshake_timeout): a client that stalls is cut off."""
    lines: list[str] = []
    n = Node(tmp_path / "n", NodeOptions(handshake_timeout=0.3), log=lines.append)
    a, b = socket.socketpair()
    a.sendall(b"fognode1" + bytes(10))  # and then nothing
    t0 = time.monotonic()
    n.serve_connection(C.SocketPipe(b), "slow")
    assert time.monotonic() - t0 < 3
    assert any("handshake failed" in x for x in lines)
    assert a.recv(10) == b""


def test_fifty_connections_at_once(node: NodeProcess) -> None:
    user = User()
    connect(node, user).close()
    results: list[str] = []
    sessions: list[C.Session] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def one() -> None:
        barrier.wait()
        try:
            s = _handshake(node, user.secrets["laptop"], {"proto": 1, "space": user.space})
            W.send(s, W.OP_EXISTS, {"name": "fog-store"})
            outcome = "served" if W.recv(s, 1 << 20)[0] == W.OK else "bad"
            with lock:
                sessions.append(s)
        except C.Refused as r:
            outcome = "busy" if r.transient and "too many connections" in r.message else f"refused {r.message}"
        except Exception as e:  # noqa: BLE001  -- reported by the assertion
            outcome = f"error {type(e).__name__}: {e}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(set(results)) == ["busy", "served"], results
    assert 1 <= results.count("served") <= 8  # --max-connections 8 (connections of earlier tests may linger)
    for s in sessions:
        s.close()
    time.sleep(0.2)
    b = connect(node, user, roster=False, space=True)
    assert b.exists("fog-store") is False
    b.close()


def test_quota(start: Start) -> None:
    n = start("--quota", "100K")
    user = User()
    b = connect(n, user)
    b.put(pack_name(b"a" * 60_000), b"a" * 60_000)
    refused(n, lambda: b.put(pack_name(b"b" * 60_000), b"b" * 60_000), "quota exceeded")
    assert b.info["quota"] == 100 << 10 and b.node_info()["used"] == 60_000
    b.close()


def _small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_disk_full_is_transient_and_leaves_nothing(start: Start) -> None:
    n = start(preexec_fn=_small_files)
    user = User()
    b = connect(n, user)
    big = os.urandom(2 << 20)
    refused(n, lambda: b.put(pack_name(big), big), "node storage full", transient=True)
    store = n.root / "spaces" / user.space / "store"
    assert [p for p in store.rglob("*") if p.is_file()] == []  # no partial file, no temporary
    b.put(pack_name(b"small"), b"small")
    assert b.node_info()["used"] == 4096  # at least 4 KiB an object
    b.close()


def test_kill_during_put_leaves_nothing_partial(start: Start) -> None:
    n = start()
    user = User()
    b = connect(n, user)
    big = os.urandom(64 << 20)
    name = pack_name(big)
    failures: list[BaseException] = []

    def put() -> None:
        try:
            b.put(name, big)
        except RemoteError as e:
            failures.append(e)

    t = threading.Thread(target=put)
    t.start()
    time.sleep(0.05)
    n.kill()
    t.join(30)
    n.start()
    fresh: Backend = connect(n, user, roster=False, space=True)
    listed = list(fresh.list("shares/"))
    assert listed in ([], [name])
    if listed:
        assert fresh.get(name) == big  # whole, or not there
    fresh.put(pack_name(b"after"), b"after")
    assert fresh.get(pack_name(b"after")) == b"after"
    fresh.close()


@pytest.fixture
def start(fog_node: Start) -> Start:
    return fog_node


def _first_of_put(session: C.Session, name: str, total: int) -> None:
    """Only the first message of a put announcing `total` bytes (the rest never sent)."""
    header = json.dumps({"name": name, "total": total}).encode()
    first = bytearray(5 + len(header) + W.CHUNK)
    struct.pack_into(">BI", first, 0, W.OP_PUT, len(header))
    first[5 : 5 + len(header)] = header
    session.send(first)


def _rss_mib(pid: int) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) // 1024


def test_put_refused_on_its_first_message(start: Start) -> None:
    """Role, name and quota are checked before the node takes the rest of a put: a join key (or a device
    over quota) announcing 200 MiB is refused at once, and the node allocates nothing for it."""
    n = start("--quota", "1M")
    user = User()
    connect(n, user).close()
    assert n.proc is not None
    before = _rss_mib(n.proc.pid)
    sessions = []
    for i in range(6):
        join = i % 2 == 0
        secret = user.join(n.public)[0] if join else user.secrets["laptop"]
        s = _handshake(n, secret, {"proto": 1, "space": user.space})
        name = f"invites/{'ab' * 16}/{i:032x}" if join else pack_name(bytes([i]))
        _first_of_put(s, name, 200 << 20)
        status, header, _ = W.recv(s, 1 << 20)  # answered now, not after 200 MiB
        assert status == W.REFUSED
        assert ("join key: read-only" if join else "quota exceeded") in header["error"]
        sessions.append(s)
    assert _rss_mib(n.proc.pid) - before < 100
    for s in sessions:
        s.close()
    b = connect(n, user, roster=False, space=True)
    assert b.node_info()["used"] == 0
    b.close()


def test_node_wide_bytes_in_flight_are_capped(tmp_path: Path) -> None:
    """In process: a put waits for (then is refused) the node's in-flight budget; nothing is taken."""
    node = Node(tmp_path / "n", NodeOptions(max_object=8 << 20, max_inflight=16 << 20, idle_timeout=0.3))
    assert node._inflight_acquire("a", 6 << 20) and node._inflight_acquire("b", 6 << 20)
    assert not node._inflight_acquire("c", 6 << 20)  # waits 0.3 s, then the node is busy
    node._inflight_release("a", 6 << 20)
    assert node._inflight_acquire("c", 6 << 20)


def _half_open(node: NodeProcess, claimed: bytes, hello: dict[str, Any]) -> tuple[socket.socket, bytes]:
    """msg1 naming someone else's public key (its secret unknown): msg2's plaintext, and the socket held."""
    import nacl.bindings as B

    e_public, e_secret = B.crypto_kx_keypair()
    box1 = S.seal_box(e_secret, node.public, claimed + json.dumps(hello).encode())
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    sock.sendall(C.MAGIC + e_public + struct.pack(">I", len(box1)) + box1)
    pipe = C.SocketPipe(sock)
    C._recv(pipe, 32)
    _, box2 = C._recv_box(pipe, 32 + C.MAX_WELCOME)
    return sock, S.open_box(e_secret, node.public, box2, "msg2")


def test_nothing_said_or_counted_before_the_client_proves_its_key(start: Start) -> None:
    n = start("--max-connections", "2")
    user = User()
    user.add_device("phone")
    connect(n, user).close()
    phone = S.public_of(user.secrets["phone"])  # its public key only
    held = []
    for _ in range(4):
        sock, plain = _half_open(n, phone, {"proto": 1})
        assert len(plain) == 32  # the transcript hash: no space, role, usage or refusal
        held.append(sock)
    b = connect(n, user, roster=False, space=True)  # the half-open handshakes hold no admitted slot
    assert b.exists("fog-store") is False
    b.close()
    for sock in held:
        sock.close()


def test_one_space_holding_every_slot_gives_way_to_another(start: Start) -> None:
    """Review 5, serve 5: one user (or a stranger, on a node without --user) opening connections until the node
    is full and keeping them with a request now and then kept every other user out. A newcomer of another space
    now closes the longest-idle connection of the space holding the most; that space gets no more back."""
    n = start("--max-connections", "4")
    hog, victim = User(), User()
    connect(n, hog).close()
    connect(n, victim).close()
    held = []
    for _ in range(4):
        s = _handshake(n, hog.secrets["laptop"], {"proto": 1, "space": hog.space})
        W.send(s, W.OP_EXISTS, {"name": "fog-store"})
        assert W.recv(s, 1 << 20)[0] == W.OK
        held.append(s)
    with pytest.raises(C.Refused, match="too many connections"):  # its own space cannot evict itself
        _handshake(n, hog.secrets["laptop"], {"proto": 1, "space": hog.space})
    W.send(held[0], W.OP_EXISTS, {"name": "fog-store"})  # held[0] is not the longest idle any more
    assert W.recv(held[0], 1 << 20)[0] == W.OK
    b = connect(n, victim, roster=False, space=True)  # no retry wrapper: admitted at once
    assert b.exists("fog-store") is False  # served (the space holds nothing)
    n.wait_for_log(f"an idle one of space {hog.space} closed for this one")
    with pytest.raises((C.ChannelError, OSError)):  # the longest idle, held[1], was closed
        W.send(held[1], W.OP_EXISTS, {"name": "fog-store"})
        W.recv(held[1], 1 << 20)
    for s in (held[0], held[2], held[3]):  # the others still serve
        W.send(s, W.OP_EXISTS, {"name": "fog-store"})
        assert W.recv(s, 1 << 20)[0] == W.OK
    with pytest.raises(C.Refused, match="too many connections"):  # 3 against 1: the hog gets nothing back
        _handshake(n, hog.secrets["laptop"], {"proto": 1, "space": hog.space})
    assert b.exists("fog-store") is False  # served (the space holds nothing)
    b.close()
    for s in held:
        s.close()


def test_only_an_idle_connection_of_the_fullest_space_gives_way(tmp_path: Path) -> None:
    """In process: which admitted connection gives way (Node._evictable), never one serving a request."""
    from fog.node.server import _Admitted

    n = Node(tmp_path / "n", NodeOptions(max_connections=4), log=lambda _: None)
    a1, a2, a3 = (_Admitted("a", None, idle_since=t) for t in (5.0, 2.0, None))
    b1 = _Admitted("b", None, idle_since=1.0)
    n._admitted = {a1, a2, a3, b1}
    assert n._evictable("c") is a2  # the longest idle of the fullest space (b1 waited longer, but b holds 1)
    assert n._evictable("b") is a2  # 3 against 1: two more than the newcomer's (then 2 against 2)
    b2 = _Admitted("b", None, idle_since=0.5)
    n._admitted = {a1, a3, b1, b2}
    assert n._evictable("b") is None  # 2 against 2
    assert n._evictable("a") is None
    a1.idle_since = None  # all of a's serving requests: none is cut, b (as full) gives way
    assert n._evictable("c") is b2
    b1.idle_since = b2.idle_since = None
    assert n._evictable("c") is None


def test_empty_objects_are_charged_and_counted(start: Start, tmp_path: Path) -> None:
    n = start("--quota", "64K")
    user = User()
    connect(n, user).close()
    j = connect(n, user, "join", roster=False, space=True)
    for i in range(16):
        j.put_new(f"config/{'ab' * 16}/{i:064x}", b"")  # 16 x 4 KiB = the quota
    refused(n, lambda: j.put_new(f"config/{'ab' * 16}/{99:064x}", b""), "quota exceeded")
    assert j.node_info()["used"] == 64 << 10
    j.close()
    # the object cap, in process
    node = Node(tmp_path / "n", NodeOptions(max_objects=2))
    space = node._space("ab" * 16)
    node._reserve(space, 4096, 1)
    node._reserve(space, 4096, 1)
    with pytest.raises(Exception, match="too many objects"):
        node._reserve(space, 4096, 1)


def test_quota_is_shared_by_stdio_processes(tmp_path: Path) -> None:
    """Each `fog serve --stdio` is its own process: the usage file (under flock) is the one count."""
    from fognode import serve_argv

    from fog.node.nodedir import NodeDir

    root = tmp_path / "node"
    _, public, _ = NodeDir(root).load_or_create_key()
    user = User()
    options = {
        "node_auth": user.auth(public),
        "ssh_command": serve_argv("--quota", "100K", "--stdio"),
        "connections": 6,
    }
    b = open_backend(f"fog+ssh://localhost/{root}", options=options).inner  # type: ignore[attr-defined]
    sessions = [b._checkout()[0] for _ in range(6)]  # six processes, all started before any put
    for s in sessions:
        b._checkin(s, b._generation, True)
    ok: list[int] = []

    def put(i: int) -> None:
        data = os.urandom(40_000)
        try:
            b.put_new(pack_name(data), data)
            ok.append(i)
        except RemoteError as e:
            assert "quota exceeded" in str(e)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(ok) == 2  # 2 x 40,000 fit in 100K, a third does not
    assert b.node_info()["used"] == 80_000
    b.close()


def test_squatting_on_public_keys_does_not_take_a_users_space(start: Start) -> None:
    """A stranger's roster lists the victim's device key and a join key of the victim's (from another
    node): the victim's first connection still makes its own space, and its join key here finds it."""
    n = start()
    other_node = S.new_keypair()[1]
    victim, stranger = User(), User()
    stranger.devices.update(victim.devices)
    from fog.backends.node import NodeAuth
    from fog.format.noderoster import build_roster

    squat = build_roster(stranger.seed, n.public, stranger.devices, [victim.join(other_node)[1].hex()])
    open_backend(n.url, options={"node_auth": NodeAuth(stranger.secrets["laptop"], n.public, None, squat)}).close()
    b = connect(n, victim)  # roster carried, no space named
    assert b.space == victim.space and b.role == "device"
    b.close()
    j = connect(n, victim, "join", roster=False)  # a clone that knows only the master key and the node
    assert j.space == victim.space and j.role == "join"
    j.close()


def test_idle_timeout_is_per_message_not_per_byte(tmp_path: Path) -> None:
    """In process: a client dribbling one byte of a request every 0.3 s under a 0.5 s idle timeout is
    cut off once the whole frame took longer than 0.5 s (a per-read timeout let it hold on forever)."""
    lines: list[str] = []
    n = Node(tmp_path / "n", NodeOptions(idle_timeout=0.5), log=lines.append)
    user = User()
    a, b = socket.socketpair()
    t = threading.Thread(target=n.serve_connection, args=(C.SocketPipe(b), "dribble"))
    t.start()
    a.settimeout(5)
    session = C.client_handshake(C.SocketPipe(a), user.secrets["laptop"], n.public, _hello_for(user, n.public))
    frame = bytes(session.tx.seal(b"\x09" + struct.pack(">I", 2) + b"{}"))  # an info request
    t0 = time.monotonic()
    try:
        for byte in frame:
            a.sendall(bytes([byte]))
            time.sleep(0.3)
    except OSError:
        pass
    t.join(10)
    assert not t.is_alive() and time.monotonic() - t0 < 3
    assert any("idle for 0.5 s" in x for x in lines)


def _hello_for(user: User, node_public: bytes) -> dict[str, Any]:
    return {"proto": 1, "roster": base64.b64encode(user.roster(node_public)).decode()}


def test_node_files_are_private(start: Start) -> None:
    n = start()
    user = User()
    b = connect(n, user)
    b.put_new(f"config/{'ab' * 16}/{'cd' * 32}", b"sealed")
    b.close()
    space = n.root / "spaces" / user.space
    assert (n.root / "spaces").stat().st_mode & 0o777 == 0o700
    for f in (space / "roster.json", space / "usage", space / "store" / "config" / ("ab" * 16) / ("cd" * 32)):
        assert f.stat().st_mode & 0o777 == 0o600, f


def test_spaceless_hellos_use_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: a hello naming no space reads no roster.json once the index is built (only changed
    files are parsed again), and never waits on the node's lock."""
    from fog.format import noderoster as R
    from fog.node.nodedir import NodeDir
    from fog.node.server import Refusal

    node = Node(tmp_path / "n", NodeOptions())
    for _ in range(20):
        u = User()
        node.dir.save_roster(R.merge(None, R.decode_roster(u.roster(node.public))))
    user = User()
    node.dir.save_roster(R.merge(None, R.decode_roster(user.roster(node.public))))
    node.index.refresh(force=True)
    loads: list[str] = []
    real = NodeDir.load_roster
    monkeypatch.setattr(NodeDir, "load_roster", lambda self, name: loads.append(name) or real(self, name))
    stranger = S.new_keypair()[1]
    outcome: list[str] = []

    def hellos() -> None:
        for _ in range(50):
            node.index.refresh(force=True)
            try:
                node._resolve(stranger, {"proto": 1})
            except Refusal as r:
                outcome.append(r.message)
        found = node._resolve(S.public_of(user.secrets["laptop"]), {"proto": 1})
        outcome.append(found.space)

    with node._lock:  # held by someone else the whole time: space-less hellos do not need it
        t = threading.Thread(target=hellos)
        t.start()
        t.join(10)
    assert not t.is_alive()
    assert outcome == ["unknown key"] * 50 + [user.space]
    assert loads == [user.space]  # only the roster of the space found, read once


def test_the_pool_counts_its_first_connection(node: NodeProcess) -> None:
    """The connection opening the backend counts in the pool: at most `connections` at once, never one more,
    and none left counted after close()."""
    user = User()
    b = open_backend(node.url, options={"node_auth": user.auth(node.public, "laptop"), "connections": 2}).inner
    assert b._open == 1  # the first connection, idle in the pool
    s1, g1 = b._checkout()
    s2, g2 = b._checkout()  # one more is opened: two in all
    assert b._open == 2
    b._checkin(s1, g1, True)
    b._checkin(s2, g2, True)
    b.close()
    assert b._open == 0


def test_connections_that_say_nothing_do_not_lock_out_a_client(start: Start) -> None:
    """80 connections from one address that never begin a handshake: a real client still gets in, at once."""
    n = start("--max-connections", "4")
    user = User()
    connect(n, user).close()
    hogs = [socket.create_connection(("127.0.0.1", n.port), timeout=5) for _ in range(PENDING_PER_HOST + 16)]
    try:
        n.wait_for_log("dropped: handshake not finished")
        b = connect(n, user, roster=False, space=True)  # no retry wrapper around its calls
        assert b.exists("fog-store") is False
        b.close()
        alive = 0
        for s in hogs:  # the node dropped all but the newest few of them
            s.settimeout(0.05)
            try:
                alive += s.recv(1) != b""
            except TimeoutError:
                alive += 1
            except OSError:
                pass
        assert alive <= PENDING_PER_HOST
    finally:
        for s in hogs:
            s.close()


def test_the_first_connection_is_retried(tmp_path: Path) -> None:
    """A node that drops the first connection attempts (busy, restarting): open_backend tries again."""
    n = NodeProcess(tmp_path / "n", ()).start()
    user = User()
    auth = user.auth(n.public)
    port = n.port
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    fails = 2

    def relay() -> None:  # drops the first `fails` connections, then forwards to the node
        for i in range(fails + 1):
            conn, _ = srv.accept()
            if i < fails:
                conn.close()
                continue
            up = socket.create_connection(("127.0.0.1", port))
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    threading.Thread(target=relay, daemon=True).start()
    try:
        b = open_backend(f"fog://127.0.0.1:{srv.getsockname()[1]}", options={"node_auth": auth})
        assert b.exists("fog-store") is False
        assert b.retries == fails  # type: ignore[attr-defined]
        b.close()
    finally:
        srv.close()
        n.stop()


def _pump(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_ranges_past_a_file_offset_and_names_with_control_characters_are_refused_in_one_line(
    node: NodeProcess,
) -> None:
    """A device's get_range(name, 2**63, 10) made the node log "internal error: OverflowError" and drop the
    connection; a name holding a newline or an escape sequence was written raw into the node's log."""
    user = User()
    b = connect(node, user)
    log = own_log(user) + "/0000000001"
    b.put_new(log, b"batch one")
    for offset, length in ((1 << 63, 10), (0, 1 << 64)):
        with pytest.raises(ValueError):  # the client's own check, before anything is sent
            b.get_range(log, offset, length)
    assert b.get_range(log, (1 << 63) - 11, 10) == b""
    b.close()
    mark = len(node.lines)
    session = _handshake(node, user.secrets["laptop"], {"proto": 1, "space": user.space})
    for offset, length in ((1 << 63, 10), (0, 1 << 64), (1 << 62, 1 << 62)):  # a patched client's
        W.send(session, W.OP_GET_RANGE, {"name": log, "offset": offset, "length": length})
        status, header, _ = W.recv(session, 1 << 20)
        assert status == W.REFUSED and "invalid byte range" in header["error"], header
    W.send(session, W.OP_GET_RANGE, {"name": log, "offset": 0, "length": 5})  # the session goes on
    status, _, data = W.recv(session, 1 << 20)
    assert status == W.OK and bytes(data) == b"batch"
    forged = "x\nfog serve: 127.0.0.1:1 admin/00000000 connected as owner\x1b[2K\x00"
    for op in (W.OP_GET, W.OP_EXISTS, W.OP_DELETE):
        W.send(session, op, {"name": forged})
        status, header, _ = W.recv(session, 1 << 20)
        assert status == W.REFUSED and "invalid object name" in header["error"], header
    W.send(session, W.OP_EXISTS, {"name": log})
    assert W.recv(session, 1 << 20)[0] == W.OK
    escaped = r"refused exists x\\nfog serve: 127\.0\.0\.1:1 admin/00000000 connected as owner\\x1b\[2K\\x00"
    node.wait_for_log(escaped, since=mark)
    lines = node.lines[mark:]
    assert not [x for x in lines if "internal error" in x or "connection dropped" in x], lines
    assert not [x for x in lines if not x.startswith("fog serve: 127.0.0.1:") or "\x1b" in x or "\x00" in x], lines
    assert len([x for x in lines if "invalid byte range" in x]) == 3, lines


def test_a_stranger_spread_over_many_spaces_gives_way_too(start: Start) -> None:
    """review 7 diff F1: four made-up identities (four spaces, on a node without --user) each holding one idle
    connection kept a real user out for good: no space held two more than the newcomer's. A space holding
    none may now take the longest-idle connection of any space."""
    n = start("--max-connections", "4")
    victim = User()
    connect(n, victim).close()
    held = []
    for _ in range(4):
        hog = User()
        connect(n, hog).close()
        s = _handshake(n, hog.secrets["laptop"], {"proto": 1, "space": hog.space})
        W.send(s, W.OP_EXISTS, {"name": "fog-store"})
        assert W.recv(s, 1 << 20)[0] == W.OK
        held.append(s)
    b = connect(n, victim, roster=False, space=True)  # admitted at once, no retry
    assert b.exists("fog-store") is False
    n.wait_for_log("closed for this one")
    b.close()
    for s in held:
        s.close()


def test_one_connection_per_space_and_never_one_mid_request(tmp_path: Path) -> None:
    """In process: a space holding none takes the longest idle of the spaces holding one; a space already
    holding one does not (else two spaces of one connection would take turns); a request is never cut."""
    from fog.node.server import _Admitted

    n = Node(tmp_path / "n", NodeOptions(max_connections=3), log=lambda _: None)
    a, b, c = _Admitted("a", None, idle_since=3.0), _Admitted("b", None, idle_since=1.0), _Admitted("c", None)
    n._admitted = {a, b, c}
    assert n._evictable("v") is b  # the longest idle (c serves a request)
    assert n._evictable("a") is None  # 1 against 1
    a.idle_since = b.idle_since = None
    assert n._evictable("v") is None  # every one mid-request
