"""The SFTP request/reply level: one channel, pipelined requests, every reply checked.

paramiko's SFTPClient pipelines only whole-file transfers and drops the status
of pipelined writes, so a failed write (a full disk) could go unnoticed. This
speaks the request/reply level of the same client instead: requests go out
without waiting (up to `IN_FLIGHT` at a time), replies come back by request
number, and a failure status becomes `Status`, leaving the channel usable.
Anything else raised (OSError, EOFError, SSHException, SFTPError) means the
channel or its connection is broken.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from typing import Any

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_EXTENDED,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_MKDIR,
    CMD_NAME,
    CMD_OPEN,
    CMD_OPENDIR,
    CMD_READ,
    CMD_READDIR,
    CMD_REALPATH,
    CMD_REMOVE,
    CMD_RENAME,
    CMD_STAT,
    CMD_STATUS,
    CMD_WRITE,
    SFTP_EOF,
    SFTP_FAILURE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_READ,
    SFTP_FLAG_WRITE,
    SFTP_NO_SUCH_FILE,
    SFTP_OK,
    SFTP_OP_UNSUPPORTED,
    SFTP_PERMISSION_DENIED,
)
from paramiko.sftp_attr import SFTPAttributes
from paramiko.sftp_client import int64

__all__ = [
    "Channel",
    "NotAFile",
    "Status",
    "SFTP_FAILURE",
    "SFTP_NO_SUCH_FILE",
    "SFTP_OP_UNSUPPORTED",
    "SFTP_PERMISSION_DENIED",
]

CHUNK = 32768  # bytes per read/write request: every SFTP server must accept this size
IN_FLIGHT = 64  # pipelined requests outstanding on one channel
BROKEN = (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError)  # the channel cannot go on


class Status(Exception):
    """An SFTP status reply other than OK (the request failed; the channel is fine)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{text or 'failure'} (SFTP status {code})")
        self.code = code
        self.text = text or "failure"


class NotAFile(Status):
    """A name that is a directory or something else that is not a regular file."""


class _Replies:
    """Receives the replies paramiko routes to it (by request number) while a pipeline drains."""

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, Message]] = {}

    def _async_response(self, t: int, msg: Message, num: int) -> None:
        self.got[num] = (t, msg)


class Channel:
    """One SFTP session (an SSH channel), used by one thread at a time."""

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self.sftp = sftp

    def close(self) -> None:
        try:
            self.sftp.close()
        except BROKEN:
            pass  # the connection is gone already

    def pipeline(self, requests: Sequence[tuple[Any, ...]]) -> list[tuple[int, Message]]:
        """Send `requests` ((type, *args) each) without waiting, then return their replies in order."""
        sink = _Replies()
        sent: list[int] = []
        for t, *args in requests:
            while len(sent) - len(sink.got) >= IN_FLIGHT:
                self.sftp._read_response()
            sent.append(self.sftp._async_request(sink, t, *args))
        while len(sink.got) < len(sent):
            self.sftp._read_response()
        return [sink.got[n] for n in sent]

    def call(self, t: int, *args: Any) -> tuple[int, Message]:
        """One request; raises Status unless it succeeds."""
        (reply,) = self.pipeline([(t, *args)])
        return _ok(reply)

    def open(self, path: str, flags: int) -> bytes:
        t, msg = self.call(CMD_OPEN, path, flags, SFTPAttributes())
        _expect(t, CMD_HANDLE)
        return msg.get_binary()

    def create(self, path: str) -> bytes:
        """Open a new file for writing; fails if `path` exists."""
        return self.open(path, SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL)

    def mkdir(self, path: str) -> None:
        self.call(CMD_MKDIR, path, SFTPAttributes())

    def remove(self, path: str) -> None:
        self.call(CMD_REMOVE, path)

    def rename(self, old: str, new: str) -> None:
        """Plain SFTP rename: OpenSSH links, so it fails when `new` exists (never replaces)."""
        self.call(CMD_RENAME, old, new)

    def posix_rename(self, old: str, new: str) -> None:
        """rename(2) semantics: atomically replaces `new` (posix-rename@openssh.com)."""
        self.call(CMD_EXTENDED, "posix-rename@openssh.com", old, new)

    def stat(self, path: str) -> SFTPAttributes | None:
        """Attributes of `path` (following links), or None if it does not exist."""
        try:
            t, msg = self.call(CMD_STAT, path)
        except Status as e:
            if e.code == SFTP_NO_SUCH_FILE:
                return None
            raise
        _expect(t, CMD_ATTRS)
        return SFTPAttributes._from_msg(msg)

    def realpath(self, path: str) -> str:
        t, msg = self.call(CMD_REALPATH, path)
        _expect(t, CMD_NAME)
        msg.get_int()
        return msg.get_string().decode("utf-8", "surrogateescape")

    def remove_quietly(self, path: str) -> None:
        """Best-effort removal of a temporary file (a stray one is never listed)."""
        try:
            self.remove(path)
        except (Status, *BROKEN):
            pass

    def write_and_close(self, handle: bytes, data: bytes, *, fsync: bool) -> bool:
        """Write `data` at offset 0, fsync if asked, and close; False if the server cannot fsync.

        Everything goes out in one pipeline; the handle is closed even when a
        write fails, and the first failure is raised.
        """
        requests: list[tuple[Any, ...]] = [
            (CMD_WRITE, handle, int64(off), data[off : off + CHUNK]) for off in range(0, len(data), CHUNK)
        ]
        if fsync:
            requests.append((CMD_EXTENDED, "fsync@openssh.com", handle))
        requests.append((CMD_CLOSE, handle))
        replies = self.pipeline(requests)
        fsynced = True
        failure: Status | None = None
        for i, reply in enumerate(replies):
            try:
                _ok(reply)
            except Status as e:
                if fsync and i == len(replies) - 2 and e.code == SFTP_OP_UNSUPPORTED:
                    fsynced = False
                else:
                    failure = failure or e
        if failure is not None:
            raise failure
        return fsynced

    def read_file(self, path: str, offset: int = 0, length: int | None = None) -> bytes:
        """The content of the regular file at `path`; NotAFile for anything else.

        With `offset` and `length`, at most `length` bytes from byte `offset`
        (fewer where the file ends sooner, b'' from its end on).
        """
        handle = self.open(path, SFTP_FLAG_READ)
        broken = False
        try:
            first = CHUNK if length is None else min(CHUNK, length)
            requests = [(CMD_FSTAT, handle)] + ([_read_request(handle, offset, first)] if first else [])
            attrs_reply, *head = self.pipeline(requests)
            t, msg = _ok(attrs_reply)
            _expect(t, CMD_ATTRS)
            attrs = SFTPAttributes._from_msg(msg)
            if not stat.S_ISREG(attrs.st_mode or 0):
                raise NotAFile(SFTP_NO_SUCH_FILE, "not a regular file")
            size = attrs.st_size or 0
            want = (size if length is None else min(size, offset + length)) - offset  # bytes to read
            if want <= 0:
                return b""  # at or past the end (a server may refuse a read that far out: its answer is not read)
            buf = bytearray(((_data(head[0]) if head else None) or b"")[:want])  # a server may answer more than asked
            while len(buf) < want:
                starts = range(len(buf), want, CHUNK)  # relative to `offset`
                replies = self.pipeline(
                    [_read_request(handle, offset + start, min(CHUNK, want - start)) for start in starts]
                )
                for start, reply in zip(starts, replies, strict=True):
                    chunk = _data(reply)
                    if chunk:
                        chunk = chunk[: min(CHUNK, want - start)]  # never more than was asked for
                    if start != len(buf) or not chunk:
                        break  # a short or missing read: ask again from where the data stops
                    buf += chunk
                else:
                    continue
                if chunk is None:
                    break  # end of file before the size fstat gave: the file shrank
            return bytes(buf)
        except BROKEN:
            broken = True
            raise
        finally:
            if not broken:
                self.close_later([handle])

    def close_later(self, handles: Sequence[bytes]) -> None:
        """Close read handles without waiting: their replies are drained by later requests."""
        try:
            for handle in handles:
                self.sftp._async_request(type(None), CMD_CLOSE, handle)
        except BROKEN:
            pass  # the caller's own failure says the channel is gone

    def listdirs(self, paths: Sequence[str]) -> dict[str, list[tuple[str, SFTPAttributes]]]:
        """List several directories at once; a missing one (or a file) lists as empty."""
        handles: dict[str, bytes] = {}
        for path, reply in zip(paths, self.pipeline([(CMD_OPENDIR, p) for p in paths]), strict=True):
            try:
                t, msg = _ok(reply)
            except Status as e:
                if e.code != SFTP_NO_SUCH_FILE:
                    raise
                continue
            _expect(t, CMD_HANDLE)
            handles[path] = msg.get_binary()
        result: dict[str, list[tuple[str, SFTPAttributes]]] = {p: [] for p in paths}
        broken = False
        try:
            pending = dict(handles)
            while pending:
                replies = self.pipeline([(CMD_READDIR, h) for h in pending.values()])
                for path, reply in zip(list(pending), replies, strict=True):
                    t, msg = reply
                    if t == CMD_STATUS and _status_code(msg) == SFTP_EOF:
                        del pending[path]
                        continue
                    t, msg = _ok(reply)
                    _expect(t, CMD_NAME)
                    for _ in range(msg.get_int()):
                        filename = msg.get_string().decode("utf-8", "surrogateescape")
                        msg.get_string()  # the `ls -l` style long name
                        result[path].append((filename, SFTPAttributes._from_msg(msg)))
        except BROKEN:
            broken = True
            raise
        finally:
            if not broken:
                self.close_later(list(handles.values()))
        return result


def _read_request(handle: bytes, offset: int, size: int = CHUNK) -> tuple[Any, ...]:
    return (CMD_READ, handle, int64(offset), size)


def _data(reply: tuple[int, Message]) -> bytes | None:
    """The bytes of a read reply, or None at end of file."""
    t, msg = reply
    if t == CMD_STATUS and _status_code(msg) == SFTP_EOF:
        return None
    t, msg = _ok(reply)
    _expect(t, CMD_DATA)
    return msg.get_string()


def _status_code(msg: Message) -> int:
    """Peek at a status reply's code without consuming it."""
    pos = msg.packet.tell()
    code = msg.get_int()
    msg.packet.seek(pos)
    return code


def _ok(reply: tuple[int, Message]) -> tuple[int, Message]:
    """Return `reply` unless it is a failure status, which raises Status."""
    t, msg = reply
    if t == CMD_STATUS:
        code = msg.get_int()
        if code != SFTP_OK:
            raise Status(code, msg.get_string().decode("utf-8", "replace"))
    return reply


def _expect(t: int, wanted: int) -> None:
    if t != wanted:
        raise paramiko.SFTPError(f"unexpected SFTP reply type {t} (wanted {wanted})")
