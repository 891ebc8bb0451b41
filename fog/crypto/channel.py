"""The node connection: a mutually authenticated handshake, then two secret streams (docs/FORMAT.md, section 17).

    msg1  C -> N   "fognode1" || E_c || u32be len || Box(e_c -> N, C || hello JSON)
    msg2  N -> C   E_s || u32be len || Box(n -> E_c, H(T1)) || N->C stream header
    msg3  C -> N   u32be len || Box(c -> E_s, H(T2)) || C->N stream header
    then  N -> C   the first stream message: the welcome JSON, or {"error": ...}

`crypto_kx` between the ephemeral keys gives the session keys (forward
secrecy); the boxes under the static keys bind both identities to this
transcript. The node says nothing about the client (admitted, refused, its
space) before msg3 proves the client holds its key. Traffic is
`crypto_secretstream_xchacha20poly1305`, one message per frame
`u32be length || ciphertext`.

Everything runs over a `Pipe`: a socket (`SocketPipe`) or a pair of file
descriptors (`FdPipe`, a child's stdin/stdout). No I/O beyond the pipe, no
policy: the node decides whom to admit (`ServerHandshake.admit`).
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import struct
import time
from typing import Any, Protocol

import nacl.bindings as B
from nacl._sodium import ffi, lib  # the secretstream calls on buffers, without the copies nacl.bindings makes

from fog.crypto import seal as S
from fog.errors import IntegrityError

MAGIC = b"fognode1"
TRANSCRIPT_LABEL = b"fog/v1/node-handshake\0"
MAX_HELLO = 512 << 10
MAX_WELCOME = 64 << 10
_BOX_OVERHEAD = S.NONCE_BYTES + S.TAG_BYTES
MAX_PLAIN = (4 << 20) + (64 << 10)  # one stream message's plaintext, at most
ABYTES = B.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
HEADERBYTES = B.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
_TAG_MESSAGE = B.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_STATEBYTES = lib.crypto_secretstream_xchacha20poly1305_statebytes()
_U32 = struct.Struct(">I")
_TIMEVAL = struct.Struct("@ll")  # struct timeval (seconds, microseconds)
ZERO_KEY = bytes(32)


class ChannelError(ConnectionError):
    """The peer broke the protocol (a box that does not open, a frame too long) or the connection ended."""


class Closed(ChannelError):
    """The connection ended (end of file) where the protocol expected more."""


class Refused(Exception):
    """The node answered the handshake with a refusal: its one line, and whether retrying may help."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


class Pipe(Protocol):
    """A reliable byte pipe: a socket or two file descriptors."""

    def send(self, data: bytes | bytearray | memoryview) -> None: ...

    def recv_into(self, buf: memoryview) -> None:
        """Fill `buf` completely; ChannelError at end of file, TimeoutError past the deadline."""
        ...

    def settimeout(self, seconds: float | None) -> None: ...

    def close(self) -> None: ...


class SocketPipe:
    """A Pipe over a connected stream socket (TCP_NODELAY set: one frame is one write).

    The socket is kept in blocking mode with the kernel's own timeouts (SO_RCVTIMEO, SO_SNDTIMEO), so a
    frame comes in with one `recv(MSG_WAITALL)` and goes out with one `send`: no poll, no switch of the
    socket's mode, and one hand-back of the GIL per call instead of one per segment received. Short reads
    (a frame's length) read ahead into a small buffer, so a small frame costs one system call in all.
    """

    READ_AHEAD = 64 << 10  # bytes read at once for a short read (a length, then what follows it)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.timeout: float | None = sock.gettimeout()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._ahead = bytearray(self.READ_AHEAD)
        self._at = self._end = 0  # self._ahead[_at:_end]: bytes read but not yet taken
        self._kernel: dict[int, float | None] = {}  # SO_RCVTIMEO / SO_SNDTIMEO as last set
        try:
            sock.settimeout(None)
            self._kernel_timeout(socket.SO_RCVTIMEO, self.timeout)
            self._kernel_timeout(socket.SO_SNDTIMEO, self.timeout)
            self._blocking = True
        except (OSError, struct.error):  # no kernel timeouts here: Python's own (poll, then recv)
            sock.settimeout(self.timeout)
            self._blocking = False

    def _kernel_timeout(self, which: int, seconds: float | None) -> None:
        if self._kernel.get(which, -1.0) == seconds:
            return
        usec = 0 if seconds is None else max(1, round(seconds * 1e6))  # 0 would mean: wait forever
        self.sock.setsockopt(socket.SOL_SOCKET, which, _TIMEVAL.pack(usec // 1_000_000, usec % 1_000_000))
        self._kernel[which] = seconds

    def send(self, data: bytes | bytearray | memoryview) -> None:
        if not self._blocking:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
            return
        view = memoryview(data).cast("B")
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self._kernel_timeout(socket.SO_SNDTIMEO, self.timeout)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:  # SO_SNDTIMEO ran out with nothing sent
                raise TimeoutError("timed out") from None
            if view and deadline is not None:  # a partial send: the timeout ran out part-way (or a signal)
                self._kernel_timeout(socket.SO_SNDTIMEO, _left(deadline))

    def recv_into(self, buf: memoryview) -> None:
        """Fill `buf` within one timeout in all (a peer dribbling a byte at a time does not stretch it)."""
        buf = memoryview(buf).cast("B")
        if self._end > self._at:  # read ahead already
            n = min(len(buf), self._end - self._at)
            buf[:n] = self._ahead[self._at : self._at + n]
            self._at += n
            buf = buf[n:]
        if not buf:
            return
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        if not self._blocking:
            self._recv_polling(buf, deadline)
            return
        self._kernel_timeout(socket.SO_RCVTIMEO, self.timeout)
        while buf:
            if len(buf) < 1024:  # a length and what follows it, with one call
                n = self._recv(memoryview(self._ahead), 0)
                take = min(n, len(buf))
                buf[:take] = self._ahead[:take]
                self._at, self._end = take, n
            else:
                take = self._recv(buf, socket.MSG_WAITALL)
            buf = buf[take:]
            if buf and deadline is not None:  # cut short (the timeout, or a signal): what time is left
                self._kernel_timeout(socket.SO_RCVTIMEO, _left(deadline))

    def _recv(self, into: memoryview, flags: int) -> int:
        try:
            n = self.sock.recv_into(into, len(into), flags)
        except BlockingIOError:  # SO_RCVTIMEO ran out with nothing received
            raise TimeoutError("timed out") from None
        if not n:
            raise Closed("connection closed by the peer")
        return n

    def _recv_polling(self, buf: memoryview, deadline: float | None) -> None:
        while buf:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out")
                self.sock.settimeout(left)
            n = self.sock.recv_into(buf)
            if not n:
                raise Closed("connection closed by the peer")
            buf = buf[n:]

    def settimeout(self, seconds: float | None) -> None:
        self.timeout = seconds
        if not self._blocking:
            self.sock.settimeout(seconds)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _left(deadline: float) -> float:
    """Seconds left before `deadline`; TimeoutError when none."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


class FdPipe:
    """A Pipe over a readable and a writable file descriptor (stdin/stdout of `fog serve --stdio`)."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.timeout: float | None = None

    def send(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view) :]

    def recv_into(self, buf: memoryview) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while buf:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                    raise TimeoutError("timed out")
            n = os.readv(self.rfd, [buf])
            if not n:
                raise Closed("connection closed by the peer")
            buf = buf[n:]

    def settimeout(self, seconds: float | None) -> None:
        self.timeout = seconds

    def close(self) -> None:
        for fd in {self.rfd, self.wfd}:
            try:
                os.close(fd)
            except OSError:
                pass


def _recv(pipe: Pipe, n: int) -> bytes:
    buf = bytearray(n)
    pipe.recv_into(memoryview(buf))
    return bytes(buf)


def _recv_box(pipe: Pipe, limit: int) -> tuple[bytes, bytes]:
    """(length prefix, box) of one handshake box; ChannelError when longer than `limit`."""
    prefix = _recv(pipe, 4)
    (n,) = _U32.unpack(prefix)
    if n > limit + _BOX_OVERHEAD or n < _BOX_OVERHEAD:
        raise ChannelError(f"handshake message of {n} bytes refused")
    return prefix, _recv(pipe, n)


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Stream:
    """One direction of traffic: a secretstream state and the pipe it rides on.

    `push` sends one message as one frame; `pull` returns the next message's
    plaintext (a bytearray, decrypted in place of no copy). Not thread-safe:
    a connection is used by one thread at a time.
    """

    def __init__(self, key: bytes, header: bytes | None = None) -> None:
        self._state = ffi.new("unsigned char[]", _STATEBYTES)
        if header is None:
            hdr = ffi.new("unsigned char[]", HEADERBYTES)
            lib.crypto_secretstream_xchacha20poly1305_init_push(self._state, hdr, key)
            self.header = bytes(ffi.buffer(hdr, HEADERBYTES))
        else:
            if len(header) != HEADERBYTES:
                raise ValueError("secretstream headers are 24 bytes")
            if lib.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key) != 0:
                raise ChannelError("bad secretstream header")
            self.header = header
        self._tag = ffi.new("unsigned char[]", 1)

    def seal(self, plain: bytes | bytearray | memoryview) -> bytearray:
        """`u32be length || ciphertext` of one message: the frame to send."""
        n = len(plain)
        if n > MAX_PLAIN:
            raise ValueError(f"a stream message is at most {MAX_PLAIN} bytes")
        frame = bytearray(4 + n + ABYTES)
        _U32.pack_into(frame, 0, n + ABYTES)
        out = ffi.from_buffer("unsigned char[]", frame)
        src = ffi.from_buffer("unsigned char[]", plain) if n else ffi.NULL
        lib.crypto_secretstream_xchacha20poly1305_push(
            self._state, out + 4, ffi.NULL, src, n, ffi.NULL, 0, _TAG_MESSAGE
        )
        return frame

    def push(self, pipe: Pipe, plain: bytes | bytearray | memoryview) -> None:
        pipe.send(self.seal(plain))

    def pull(self, pipe: Pipe) -> bytearray:
        n = self._frame(pipe)
        plain = bytearray(n - ABYTES)
        self._open(pipe, n, memoryview(plain))
        return plain

    def pull_into(self, pipe: Pipe, out: memoryview) -> int:
        """Decrypt the next message straight into the start of `out` (no buffer of its own); its length.
        ChannelError when it is longer than `out` (nothing of it read). Authenticated like `pull`: on any
        error `out` holds no message and must be dropped."""
        n = self._frame(pipe)
        if n - ABYTES > len(out):
            raise ChannelError(f"a stream message of {n - ABYTES} bytes where at most {len(out)} fit")
        self._open(pipe, n, out[: n - ABYTES])
        return n - ABYTES

    @staticmethod
    def _frame(pipe: Pipe) -> int:
        head = bytearray(4)
        pipe.recv_into(memoryview(head))
        (n,) = _U32.unpack(head)
        if n < ABYTES or n > MAX_PLAIN + ABYTES:
            raise ChannelError(f"frame of {n} bytes refused (at most {MAX_PLAIN + ABYTES})")
        return n

    def _open(self, pipe: Pipe, n: int, plain: memoryview) -> None:
        cipher = bytearray(n)
        pipe.recv_into(memoryview(cipher))
        if n > ABYTES:
            dst = ffi.from_buffer("unsigned char[]", plain, require_writable=True)
        else:
            dst = ffi.new("unsigned char[]", 1)
        rc = lib.crypto_secretstream_xchacha20poly1305_pull(
            self._state, dst, ffi.NULL, self._tag, ffi.from_buffer("unsigned char[]", cipher), n, ffi.NULL, 0
        )
        if rc != 0:
            raise ChannelError("a stream message does not authenticate (altered, reordered or forged)")


class Session:
    """An authenticated connection: the pipe, both streams, who the peer is and what the handshake said."""

    def __init__(self, pipe: Pipe, tx: Stream, rx: Stream, peer: bytes, hello: dict[str, Any], welcome: dict[str, Any]):
        self.pipe, self.tx, self.rx = pipe, tx, rx
        self.peer = peer  # the other side's static Box public key
        self.hello, self.welcome = hello, welcome

    def send(self, plain: bytes | bytearray | memoryview) -> None:
        self.tx.push(self.pipe, plain)

    def recv(self) -> bytearray:
        return self.rx.pull(self.pipe)

    def recv_into(self, out: memoryview) -> int:
        return self.rx.pull_into(self.pipe, out)

    def close(self) -> None:
        self.pipe.close()


def _kx_keypair() -> tuple[bytes, bytes]:
    public, secret = B.crypto_kx_keypair()
    return secret, public


def probe_node_key(pipe: Pipe) -> bytes:
    """The node's public key, asked for without authenticating (`fognode1` and 32 zero bytes)."""
    pipe.send(MAGIC + ZERO_KEY)
    return _recv(pipe, 32)


def client_handshake(pipe: Pipe, secret: bytes, node_public: bytes, hello: dict[str, Any]) -> Session:
    """Run msg1..msg3 as the client with static key `secret`, then read the node's welcome; the Session.

    Refused when the node says no; ChannelError when msg2 does not come from the holder of `node_public`."""
    e_secret, e_public = _kx_keypair()
    body = json.dumps(hello, separators=(",", ":")).encode()
    if len(body) > MAX_HELLO:
        raise ValueError(f"a hello is at most {MAX_HELLO} bytes")
    box1 = S.seal_box(e_secret, node_public, S.public_of(secret) + body)
    msg1 = MAGIC + e_public + _U32.pack(len(box1)) + box1
    pipe.send(msg1)
    t1 = TRANSCRIPT_LABEL + node_public + msg1
    e_server = _recv(pipe, 32)
    prefix, box2 = _recv_box(pipe, 32)
    try:
        plain = S.open_box(e_secret, node_public, box2, "node handshake")
    except IntegrityError as exc:
        raise ChannelError("the node's answer is not sealed by the node key expected (another node?)") from exc
    if plain != _h(t1):
        raise ChannelError("the node's answer is for another handshake")
    t2 = t1 + e_server + prefix + box2
    rx_key, tx_key = B.crypto_kx_client_session_keys(e_public, e_secret, e_server)
    rx = Stream(rx_key, _recv(pipe, HEADERBYTES))
    tx = Stream(tx_key)
    box3 = S.seal_box(secret, e_server, _h(t2))
    pipe.send(_U32.pack(len(box3)) + box3 + tx.header)
    raw = rx.pull(pipe)
    if len(raw) > MAX_WELCOME:
        raise ChannelError("the welcome is too long")
    welcome = _json(bytes(raw), "welcome")
    if "error" in welcome:
        raise Refused(str(welcome["error"])[:1000], bool(welcome.get("transient")))
    return Session(pipe, tx, rx, node_public, hello, welcome)


def _json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise ChannelError(f"the {what} is not a JSON object")
    return doc


class ServerHandshake:
    """The node's side, in steps so it can decide once the client proved its key:

    hs = ServerHandshake(pipe, node_secret)
    client, hello = hs.read_msg1()          # None for a key probe (answered already)
    session = hs.prove()                    # msg2 out, msg3 checked: the client holds `client`'s secret
    hs.admit(session, welcome)              # the first stream message: the welcome, or {"error": ...}
    """

    def __init__(self, pipe: Pipe, node_secret: bytes) -> None:
        self.pipe = pipe
        self.secret = node_secret
        self.public = S.public_of(node_secret)
        self._msg1 = b""
        self._e_client = b""
        self.client = b""
        self.hello: dict[str, Any] = {}

    def read_msg1(self) -> tuple[bytes, dict[str, Any]] | None:
        head = _recv(self.pipe, 8 + 32)
        if head[:8] != MAGIC:
            raise ChannelError("not a fog node client (bad magic)")
        self._e_client = head[8:]
        if self._e_client == ZERO_KEY:
            self.pipe.send(self.public)
            return None
        prefix, box1 = _recv_box(self.pipe, 32 + MAX_HELLO)
        try:
            plain = S.open_box(self.secret, self._e_client, box1, "node hello")
        except IntegrityError as exc:
            raise ChannelError("the hello is not sealed to this node's key") from exc
        if len(plain) < 32:
            raise ChannelError("the hello is too short")
        self.client, self.hello = plain[:32], _json(plain[32:], "hello")
        self._msg1 = head + prefix + box1
        return self.client, self.hello

    def prove(self) -> Session:
        """Send msg2 (the transcript proof only) and check msg3; ChannelError unless the client proves its key."""
        t1 = TRANSCRIPT_LABEL + self.public + self._msg1
        e_secret, e_public = _kx_keypair()
        box2 = S.seal_box(self.secret, self._e_client, _h(t1))
        msg2 = e_public + _U32.pack(len(box2)) + box2
        rx_key, tx_key = B.crypto_kx_server_session_keys(e_public, e_secret, self._e_client)
        tx = Stream(tx_key)
        self.pipe.send(msg2 + tx.header)
        _, box3 = _recv_box(self.pipe, 32)
        try:
            proof = S.open_box(e_secret, self.client, box3, "node handshake")
        except IntegrityError as exc:
            raise ChannelError("the client did not prove its key (a replayed or forged hello)") from exc
        if proof != _h(t1 + msg2):
            raise ChannelError("the client's proof is for another handshake")
        rx = Stream(rx_key, _recv(self.pipe, HEADERBYTES))
        return Session(self.pipe, tx, rx, self.client, self.hello, {})

    @staticmethod
    def admit(session: Session, welcome: dict[str, Any]) -> bool:
        """Send the welcome (or the refusal: a welcome holding `error`) as the first stream message;
        whether the session goes on."""
        raw = json.dumps(welcome, separators=(",", ":")).encode()
        if len(raw) > MAX_WELCOME:
            raise ValueError(f"a welcome is at most {MAX_WELCOME} bytes")
        session.welcome = welcome
        session.send(raw)
        return "error" not in welcome
