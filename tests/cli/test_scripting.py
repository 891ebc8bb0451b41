"""The scripting contract (issue 6): --json everywhere, cron-quiet runs, colour
rules, diff/cat, REV ages, log filters, --max-delete, secrets, --version.

Most commands run in this process (fogcli.run_fog); the cron and terminal
tests start real `python -m fog` processes, since there the process boundary
(stdio that is a file or a pty, the environment) is the point.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fogcli import FOG, Result, Share, env, run_fog

import fog.sync.push

# -- what the README documents ---------------------------------------------------------

PUSH_FIELDS = {
    "remote",
    "dry_run",
    "added",
    "modified",
    "deleted",
    "skipped",
    "conflict_copies",
    "files_read",
    "bytes_read",
    "objects_uploaded",
    "bytes_uploaded",
    "bytes_deduped",
    "batch",
    "batches",
    "remote_errors",
    "seconds",
}
PULL_FIELDS = {"batches", "versions", "updated", "deleted", "conflicts", "kept", "problems", "remote_errors"}
LOG_FIELDS = {
    "version",
    "path",
    "time",
    "time_ns",
    "device",
    "device_id",
    "kind",
    "size",
    "mode",
    "mtime",
    "deleted",
    "conflict",
    "current",
    "parent",
}
FIELDS: dict[str, set[str]] = {
    "init": {"root", "share_id", "name", "remote", "device", "new_identity", "master_key_file", "master_key"},
    "status": {"root", "clean", "added", "modified", "deleted", "skipped", "conflicts"},
    "push": PUSH_FIELDS,
    "pull": PULL_FIELDS,
    "sync": {"pull", "push"},
    "restore": {"path", "version", "kind", "size", "output"},
    "check": {
        "remote",
        "read_data",
        "versions",
        "batches",
        "objects_referenced",
        "objects_on_remote",
        "objects_read",
        "problems",
        "ok",
    },
    "diff": {"path", "identical", "text", "old", "new", "diff"},
    "diff side": {"label", "kind", "size", "sha256"},
    "clone": {"root", "share_id", "name", "remote", "device", "pull"},
    "device": {"id", "name", "trusted", "revoked", "this_device", "last_batch"},
    "remote": {"name", "url", "pending"},
    "key show": {"device_id", "device_name", "device_public", "user_public"},
}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ANSI = b"\x1b"


def doc(r: Result, fields: set[str]) -> Any:
    """stdout is exactly one JSON object (nothing before or after it) with these fields."""
    d = json.loads(r.out)
    assert isinstance(d, dict), r
    assert fields <= set(d), f"missing {fields - set(d)} in {sorted(d)}"
    return d


def doc_list(r: Result, fields: set[str]) -> list[Any]:
    """stdout is exactly one JSON list of objects, each with these fields."""
    d = json.loads(r.out)
    assert isinstance(d, list), r
    for item in d:
        assert fields <= set(item), f"missing {fields - set(item)} in {sorted(item)}"
    return d


def json_error(r: Result, code: int, kind: str | None = None) -> dict[str, Any]:
    """Under --json, a failure is one JSON object on one line of stderr, nothing on stdout."""
    assert r.rc == code, r
    assert r.out == "", r
    line = r.one_line_error()
    err = json.loads(line)
    assert {"code", "kind", "message"} <= set(err), err
    assert err["code"] == code and err["message"], err
    if kind is not None:
        assert err["kind"] == kind, err
    return err


def check_log_entry(e: dict[str, Any]) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", e["version"]), e
    assert ISO_UTC.match(e["time"]) and ISO_UTC.match(e["mtime"]), e
    assert isinstance(e["time_ns"], int) and isinstance(e["size"], int), e
    assert re.fullmatch(r"0[0-7]{3}", e["mode"]), e
    assert all(isinstance(e[k], bool) for k in ("deleted", "conflict", "current")), e
    assert e["parent"] is None or re.fullmatch(r"[0-9a-f]{64}", e["parent"]), e


# -- 1. --json on every reporting command ------------------------------------------------


def test_init_json(tmp_path: Path) -> None:
    d = doc(run_fog(["init", "s", "--remote", "r", "--json"], tmp_path), FIELDS["init"])
    assert d["new_identity"] is True and d["master_key_file"] is None
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){7}", d["master_key"]), d["master_key"]
    assert d["root"] == str(tmp_path / "s") and d["remote"] == str(tmp_path / "r") and d["name"] == "s"
    # a second share with the same identity: no new key to show
    d = doc(run_fog(["init", "t", "--remote", "r", "--json"], tmp_path), FIELDS["init"])
    assert d["new_identity"] is False and d["master_key"] is None
    # already a share: the error is JSON on stderr
    json_error(run_fog(["init", "t", "--remote", "r", "--json"], tmp_path, expect=1), 1)


def test_every_reporting_command_json(share: Share) -> None:
    share.write("a.txt", "one\n")
    share.write("bin.dat", bytes(range(256)) * 4)
    fog = share.fog

    d = doc(fog("status", "--json"), FIELDS["status"])
    assert d["clean"] is False and d["added"] == ["a.txt", "bin.dat"] and d["root"] == str(share.root)
    d = doc(fog("push", "--json", "--dry-run"), FIELDS["push"])
    assert d["dry_run"] is True and d["batch"] is None
    d = doc(fog("push", "--json"), FIELDS["push"])
    assert d["added"] == ["a.txt", "bin.dat"] and d["batches"] == {"origin": 1} and d["batch"] == 1
    assert d["files_read"] == 2 and d["bytes_read"] == 4 + 1024 and d["objects_uploaded"] >= 2
    assert doc(fog("status", "--json"), FIELDS["status"])["clean"] is True

    share.write("a.txt", "two\n")
    d = doc(fog("sync", "--json"), FIELDS["sync"])
    assert PULL_FIELDS <= set(d["pull"]) and PUSH_FIELDS <= set(d["push"])
    assert d["push"]["modified"] == ["a.txt"] and d["pull"]["versions"] == 0
    d = doc(fog("pull", "--json"), FIELDS["pull"])
    assert d["versions"] == 0 and d["remote_errors"] == {}

    entries = doc_list(fog("log", "--json"), LOG_FIELDS)
    assert (entries[0]["path"], entries[0]["current"]) == ("a.txt", True)  # newest first
    assert sorted((e["path"], e["current"]) for e in entries[1:]) == [("a.txt", False), ("bin.dat", True)]
    for e in entries:
        check_log_entry(e)
    assert entries[0]["parent"] == next(e["version"] for e in entries[1:] if e["path"] == "a.txt")
    history = doc_list(fog("log", "a.txt", "--json"), LOG_FIELDS)
    assert [e["size"] for e in history] == [4, 4]

    out = share.tmp / "old.txt"
    d = doc(fog("restore", "a.txt@~1", "-o", out, "--json"), FIELDS["restore"])
    assert d["version"] == history[1]["version"] and d["output"] == str(out) and d["size"] == 4
    assert out.read_text() == "one\n"

    d = doc(fog("check", "--json", "--read-data"), FIELDS["check"])
    assert d["ok"] is True and d["problems"] == [] and d["read_data"] is True
    assert d["versions"] == 3 and d["objects_read"] >= d["objects_referenced"] >= 3

    d = doc(fog("diff", "a.txt@~1", "a.txt@~0", "--json"), FIELDS["diff"])
    assert d["identical"] is False and d["text"] is True and "-one\n+two\n" in d["diff"]
    for side in (d["old"], d["new"]):
        assert FIELDS["diff side"] <= set(side)
    assert d["old"]["sha256"] == hashlib.sha256(b"one\n").hexdigest()

    (remote,) = doc_list(fog("remote", "list", "--json"), FIELDS["remote"])
    assert remote == {
        "name": "origin",
        "url": str(share.remote),
        "pending": 0,
        "shared_url": "",
        "skipped": False,
        "reachable": True,
        "error": "",
        "kind": "file",
        "node": False,
        "forgets": 0,
        "refused": "",
        "undelivered": "",
        "stranded": 0,
        "stranded_at": "",
        "replaced": "",
    }
    d = doc(fog("remote", "add", "usb", share.tmp / "usb", "--json"), FIELDS["remote"])
    assert d["name"] == "usb" and d["pending"] == 3 and d["kind"] == "file"  # (was "": list said "file")
    d = doc(fog("remote", "remove", "usb", "--json"), FIELDS["remote"])
    assert d["name"] == "usb" and d["kind"] == "file"

    (me,) = doc_list(fog("device", "list", "--json"), FIELDS["device"])
    assert me["this_device"] is True and me["trusted"] is True and me["last_batch"] == 2
    d = doc(fog("device", "rename", me["name"], "laptop", "--json"), FIELDS["device"])
    assert d["name"] == "laptop" and d["id"] == me["id"]

    d = doc(fog("key", "show", "--json"), FIELDS["key show"])
    assert d["device_id"] == me["id"] and d["device_name"] == "laptop" and d.get("master_key") is None
    # clone and device revoke need a second device: tests/integration/test_cron.py


def test_json_errors_outside_a_share(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (
        ["status"],
        ["push"],
        ["pull"],
        ["sync"],
        ["log"],
        ["restore", "a.txt@~1"],
        ["check"],
        ["diff", "a.txt@~1"],
        ["remote", "list"],
        ["remote", "add", "usb", str(tmp_path / "usb")],
        ["remote", "remove", "origin"],
        ["device", "list"],
        ["device", "rename", "a", "b"],
        ["device", "revoke", "a"],
    ):
        r = run_fog([*args, "--json"], elsewhere, expect=None)
        json_error(r, 1, "not-a-share")
        # the same failure without --json: the same exit code, one plain line
        plain = run_fog(args, elsewhere, expect=1)
        assert plain.one_line_error().startswith("fog: ") and plain.out == ""
    json_error(run_fog(["key", "show", "--json"], elsewhere, expect=None), 1, "identity")
    r = run_fog(["clone", tmp_path / "nowhere", tmp_path / "c", "--json"], elsewhere, expect=None)
    json_error(r, 2, "usage")  # no master key from anywhere (stdin is not a terminal)


def test_json_errors_inside_a_share(share: Share) -> None:
    share.write("a.txt", "one\n")
    share.push()
    json_error(share.fog("restore", "a.txt@zzzz", "--json", expect=None), 1, "revision")
    json_error(share.fog("restore", "a.txt@~5", "-o", share.tmp / "x", "--json", expect=None), 1, "revision")
    json_error(share.fog("diff", "a.txt@ffffffff", "--json", expect=None), 1, "revision")
    json_error(share.fog("diff", "a.txt@~0", "~9", "--json", expect=None), 1, "revision")
    json_error(share.fog("log", "nothere.txt", "--json", expect=None), 1)
    json_error(share.fog("log", "--since", "someday", "--json", expect=None), 2, "usage")
    json_error(share.fog("log", "/etc/passwd", "--json", expect=None), 2, "usage")
    json_error(share.fog("push", "--max-delete", "abc", "--json", expect=None), 2, "usage")
    # the lock held by someone else: 75
    fd = os.open(share.root / ".fog" / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        json_error(share.fog("status", "--json", expect=None), 75, "locked")
        json_error(share.fog("push", "--json", expect=None), 75, "locked")
    finally:
        os.close(fd)
    # plain: a REV error is `fog: ...` on stderr, nothing on stdout
    r = share.fog("cat", "a.txt@zzzz", expect=1)
    assert r.one_line_error().startswith("fog: ") and r.raw == b""


# -- 2. cron: no terminal, output to files -----------------------------------------------


def cron(args: list[str], cwd: Path, tmp: Path) -> tuple[int, bytes, bytes]:
    """`fog ARGS` as cron runs it: a minimal environment, no terminal at all, stdout and stderr to files."""
    e = {
        "HOME": os.environ.get("HOME", "/"),
        "LOGNAME": "fogtest",
        "SHELL": "/bin/sh",
        "PATH": "/usr/bin:/bin",
        "TERM": "dumb",
        "FOG_HOME": os.environ["FOG_HOME"],
    }  # no FORCE_COLOR, NO_COLOR, COLUMNS, LANG
    out, err = tmp / "cron.out", tmp / "cron.err"
    with open(out, "wb") as o, open(err, "wb") as er:
        proc = subprocess.run(
            [*FOG, *args],
            cwd=cwd,
            env=e,
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=er,
            start_new_session=True,  # no controlling terminal either
            timeout=120,
        )
    return proc.returncode, out.read_bytes(), err.read_bytes()


def test_sync_quiet_under_cron(share: Share) -> None:
    share.write("notes.txt", "first\n")
    share.push()
    tmp = share.tmp
    # something to push: pushed, and not a byte of output
    share.write("notes.txt", "second\n")
    share.write("new.txt", "new\n")
    assert cron(["sync", "--quiet"], share.root, tmp) == (0, b"", b"")
    assert sorted(e["path"] for e in share.fog("log", "--json").json()[:2]) == ["new.txt", "notes.txt"]
    assert share.fog("status", "--json").json()["clean"] is True
    # nothing to do: still nothing
    assert cron(["-C", str(share.root), "sync", "--quiet"], tmp, tmp) == (0, b"", b"")
    # the remote's disk is gone: exactly the error, one line, on stderr
    share.write("notes.txt", "third\n")
    away = share.remote.with_name("remote-unmounted")
    share.remote.rename(away)
    try:
        rc, out, err = cron(["sync", "--quiet"], share.root, tmp)
    finally:
        away.rename(share.remote)
    assert (rc, out) == (1, b""), err
    assert err.count(b"\n") == 1 and err.endswith(b"\n"), err
    assert err.startswith(b"fog: ") and str(share.remote).encode() in err and b"does not exist" in err, err
    assert ANSI not in err
    # once the disk is back, the next run catches up, silently
    assert cron(["sync", "--quiet"], share.root, tmp) == (0, b"", b"")
    assert share.fog("log", "notes.txt", "--json").json()[0]["size"] == len("third\n")


def test_no_escapes_without_a_terminal(share: Share) -> None:
    share.write("a.txt", "one\ntwo\n")
    share.push()
    share.write("a.txt", "one\nTWO\n")
    share.push()
    (share.root / "a.txt").unlink()
    share.write("b.txt", "b\n")
    for args in (["log"], ["status"], ["diff", "a.txt@~1", "~0"]):
        rc, out, err = cron(args, share.root, share.tmp)
        assert rc == 0, (args, out, err)
        assert ANSI not in out and ANSI not in err, (args, out, err)
        assert {"log": b"(current)", "status": b"D a.txt", "diff": b"-two\n+TWO\n"}[args[0]] in out, out


# -- 3. colour on a terminal, never with NO_COLOR ------------------------------------------


def on_terminal(args: list[str], cwd: Path, no_color: str | None, term: str = "xterm-256color") -> bytes:
    """Run fog with stdout on a pseudo-terminal; return what it wrote there."""
    e = env()
    for var in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE"):
        e.pop(var, None)
    e["TERM"] = term
    if no_color is not None:
        e["NO_COLOR"] = no_color
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([*FOG, *args], cwd=cwd, env=e, stdin=subprocess.DEVNULL, stdout=slave)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        assert proc.wait(timeout=120) == 0, args
    return b"".join(chunks)


def test_colour_only_on_a_terminal_and_never_with_no_color(share: Share) -> None:
    share.write("a.txt", "one\ntwo\n")
    share.push()
    share.write("a.txt", "one\nTWO\n")
    share.push()
    for args in (["log", "a.txt"], ["diff", "a.txt@~1", "~0"]):
        coloured = on_terminal(args, share.root, None)
        assert ANSI + b"[" in coloured, (args, coloured)
        # every escape is closed on its own line (no colour bleeding into the next)
        for line in coloured.split(b"\r\n"):
            if ANSI in line:
                assert line.count(b"\x1b[0m") == line.count(ANSI) // 2 and b"\x1b[0m" in line, line
        plain = on_terminal(args, share.root, "1")
        assert ANSI not in plain, (args, plain)
        assert ANSI not in on_terminal(args, share.root, None, "dumb"), args  # (review 6 cli: as git does)
        stripped = re.sub(rb"\x1b\[[0-9;]*m", b"", coloured)
        if args[0] == "diff":
            assert stripped == plain and b"-two\r\n+TWO\r\n" in plain
        else:  # the same table, but for the ages, which may have moved on
            assert [line.split()[:3] for line in stripped.splitlines()] == [
                line.split()[:3] for line in plain.splitlines()
            ]


# -- 4. diff and cat -----------------------------------------------------------------------


def test_diff_text_binary_working_copy_and_identical(share: Share) -> None:
    share.write("t.txt", "alpha\nbeta\ngamma\n")
    old_bin = os.urandom(3000)
    share.write("b.bin", old_bin)
    share.push()
    share.write("t.txt", "alpha\nBETA\ngamma\n")
    new_bin = old_bin[:1000] + b"\x00\xff" + old_bin[1000:]
    share.write("b.bin", new_bin)
    share.push()

    r = share.fog("diff", "t.txt@~1", "t.txt@~0")
    ids = [e["version"][:12] for e in share.log("t.txt")]
    lines = r.out.splitlines()
    assert lines[0] == f"--- t.txt@{ids[1]}" and lines[1] == f"+++ t.txt@{ids[0]}", r.out
    assert lines[2].startswith("@@ ") and "-beta" in lines and "+BETA" in lines and " alpha" in lines, r.out
    assert share.fog("diff", "t.txt@~1", "~0").out == r.out  # a bare REV of the same path

    # against the working copy
    share.write("t.txt", "alpha\nBETA\ngamma\ndelta")
    r = share.fog("diff", "t.txt@~0")
    assert r.out.splitlines()[:2] == [f"--- t.txt@{ids[0]}", "+++ t.txt (working copy)"], r.out
    assert "+delta" in r.out.splitlines() and "\\ No newline at end of file" in r.out
    assert "-alpha" not in r.out

    # binary: sizes and hashes, no content
    r = share.fog("diff", "b.bin@~1", "b.bin@~0")
    assert hashlib.sha256(old_bin).hexdigest() in r.out and hashlib.sha256(new_bin).hexdigest() in r.out
    bin_ids = [e["version"][:12] for e in share.log("b.bin")]
    assert r.out.splitlines() == [
        f"- b.bin@{bin_ids[1]}: file, 2.9 KiB sha256 {hashlib.sha256(old_bin).hexdigest()}",
        f"+ b.bin@{bin_ids[0]}: file, 2.9 KiB sha256 {hashlib.sha256(new_bin).hexdigest()}",
        "binary contents differ",
    ], r.out
    d = share.fog("diff", "b.bin@~1", "--json").json()
    assert (d["text"], d["old"]["size"], d["new"]["size"], d["diff"]) == (False, 3000, 3002, "")

    # identical: a note on stderr, nothing on stdout, exit 0
    r = share.fog("diff", "b.bin@~0")
    assert r.out == "" and "identical" in r.err
    r = share.fog("diff", "t.txt@~0", "~0")
    assert r.out == "" and "identical" in r.err
    assert share.fog("diff", "t.txt@~0", "~0", "--json").json()["identical"] is True


def test_cat_gives_the_exact_old_bytes(share: Share) -> None:
    old_bin = os.urandom(200_000) + b"\r\n\x00" + os.urandom(5)  # several blocks
    share.write("b.bin", old_bin)
    share.write("t.txt", "old\r\nlines\n")
    share.push()
    share.write("b.bin", b"new")
    share.write("t.txt", "new\n")
    share.push()
    assert share.fog("cat", "b.bin@~1").raw == old_bin
    assert share.fog("cat", "t.txt@~1").raw == b"old\r\nlines\n"
    assert share.fog("cat", "t.txt").raw == b"new\n"
    assert share.fog("cat", "b.bin@~0").raw == b"new"


# -- 5. REV forms: ages, yesterday, times copied from the log ---------------------------------


@pytest.fixture
def odd_timezone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time 3:30 behind UTC (a POSIX TZ: no tzdata needed), so local and UTC differ."""
    monkeypatch.setenv("TZ", "FOG+03:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def push_at(share: Share, monkeypatch: pytest.MonkeyPatch, ns: int) -> None:
    """Push with the clock at `ns` (versions are stamped with the push's time)."""
    with monkeypatch.context() as m:
        m.setattr(fog.sync.push, "time", SimpleNamespace(time_ns=lambda: ns, monotonic=time.monotonic))
        share.push()


def cat(share: Share, spec: str, expect: int = 0) -> str:
    return share.fog("cat", spec, expect=expect).out


def test_rev_ages_and_yesterday(share: Share, monkeypatch: pytest.MonkeyPatch, odd_timezone: None) -> None:
    now = time.time_ns()
    hour = 3600 * 10**9
    share.write("f.txt", "three days ago\n")
    push_at(share, monkeypatch, now - 72 * hour)
    share.write("f.txt", "five hours ago\n")
    push_at(share, monkeypatch, now - 5 * hour)
    share.write("f.txt", "ten seconds ago\n")
    push_at(share, monkeypatch, now - 10 * 10**9)
    share.write("f.txt", "now\n")
    share.push()

    assert cat(share, "f.txt@5s") == "ten seconds ago\n"  # the newest is less than 5 s old
    assert cat(share, "f.txt@9s") == "ten seconds ago\n"
    assert cat(share, "f.txt") == "now\n"
    assert cat(share, "f.txt@1min") == "five hours ago\n"
    assert cat(share, "f.txt@4h") == "five hours ago\n"
    assert cat(share, "f.txt@5h") == "five hours ago\n"  # (5 h and a few ms old by now)
    assert cat(share, "f.txt@6h") == "three days ago\n"
    assert cat(share, "f.txt@2d") == "three days ago\n"
    assert cat(share, "f.txt@72h") == "three days ago\n"
    assert cat(share, "f.txt@3d") == "three days ago\n"
    share.fog("cat", "f.txt@4d", expect=1).one_line_error()  # nothing that old
    share.fog("cat", "f.txt@1w", expect=1).one_line_error()
    # yesterday: the newest version from before today's local midnight
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    expected = "five hours ago\n" if now - 5 * hour < midnight.timestamp() * 1e9 else "three days ago\n"
    assert cat(share, "f.txt@yesterday") == expected
    # restore takes the same forms
    out = share.tmp / "aged"
    share.fog("restore", "f.txt@2d", "-o", out)
    assert out.read_text() == "three days ago\n"


def test_rev_time_copied_from_log_picks_that_version(
    share: Share, monkeypatch: pytest.MonkeyPatch, odd_timezone: None
) -> None:
    # two versions 20 s apart within one minute, an hour ago; then a newer one
    minute = (time.time_ns() - 3600 * 10**9) // (60 * 10**9) * (60 * 10**9)
    share.write("f.txt", "first\n")
    push_at(share, monkeypatch, minute + 10 * 10**9 + 123_456_789)
    share.write("f.txt", "second\n")
    push_at(share, monkeypatch, minute + 30 * 10**9 + 987_654_321)
    share.write("f.txt", "third\n")
    share.push()

    newest, second, first = share.log("f.txt")
    assert first["time"][:16] == second["time"][:16] and first["time"] != second["time"]
    # the ISO UTC time from `log --json`, to the second
    assert cat(share, f"f.txt@{first['time']}") == "first\n"
    assert cat(share, f"f.txt@{second['time']}") == "second\n"
    # the local time from `fog log`'s table (what a person copies)
    table = share.fog("log", "f.txt").out.splitlines()
    stamps = [re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line).group(0) for line in table]  # type: ignore[union-attr]
    assert len(stamps) == 3
    assert cat(share, f"f.txt@{stamps[2]}") == "first\n"
    assert cat(share, f"f.txt@{stamps[1]}") == "second\n"
    assert cat(share, f"f.txt@{stamps[1].replace(' ', 'T')}") == "second\n"
    # a minute names the whole minute: the newest version in it
    assert cat(share, f"f.txt@{stamps[2][:16]}") == "second\n"
    # one second before the first version: nothing that old
    before = datetime.fromisoformat(first["time"]).timestamp() - 1
    stamp = datetime.fromtimestamp(before).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    share.fog("cat", f"f.txt@{stamp}", expect=1).one_line_error()
    assert newest["current"] and cat(share, f"f.txt@{newest['version'][:8]}") == "third\n"


# -- 6. log filters ---------------------------------------------------------------------------


def test_log_since_until_and_count(share: Share, monkeypatch: pytest.MonkeyPatch, odd_timezone: None) -> None:
    now = time.time_ns()
    hour = 3600 * 10**9
    share.write("old.txt", "old\n")
    push_at(share, monkeypatch, now - 72 * hour)
    share.write("mid.txt", "mid\n")
    push_at(share, monkeypatch, now - 5 * hour)
    share.write("new.txt", "new\n")
    share.push()

    def paths(*args: str) -> list[str]:
        return [e["path"] for e in share.fog("log", "--json", *args).json()]

    assert paths() == ["new.txt", "mid.txt", "old.txt"]
    assert paths("--since", "1d") == ["new.txt", "mid.txt"]
    assert paths("--until", "1d") == ["old.txt"]
    assert paths("--since", "6h", "--until", "1h") == ["mid.txt"]
    assert paths("--since", "1h", "--until", "6h") == []
    assert paths("-n", "1") == ["new.txt"]
    assert paths("-n", "2", "--since", "1w") == ["new.txt", "mid.txt"]
    # an ISO time: --since and --until both include the version at that very time
    mid = share.log("mid.txt")[0]
    assert paths("--since", mid["time"]) == ["new.txt", "mid.txt"]
    assert paths("--until", mid["time"]) == ["mid.txt", "old.txt"]
    assert paths("--since", mid["time"], "--until", mid["time"]) == ["mid.txt"]
    # a date (local): --since that day includes the day itself, --until includes it whole
    day = datetime.fromtimestamp(now / 1e9).astimezone().date().isoformat()
    assert paths("--since", day)[0] == "new.txt"
    assert paths("--until", day)[0] == "new.txt"
    three_days_ago = datetime.fromtimestamp((now - 72 * hour) / 1e9).astimezone().date().isoformat()
    assert paths("--since", three_days_ago, "--until", three_days_ago) == ["old.txt"]
    assert "old.txt" not in paths("--since", "yesterday")
    # the table takes the same filters
    r = share.fog("log", "--since", "6h", "--until", "1h")
    versions = [line for line in r.out.splitlines() if line.startswith("    ")]  # (under their push's line)
    assert len(versions) == 1 and "mid.txt" in r.out and r.out.startswith("push ")
    r = share.fog("log", "--since", "1s", "--until", "1s")
    assert r.out == "" and "No versions match" in r.err
    # a bad WHEN is a usage error: exit 2, one line
    for flag in ("--since", "--until"):
        r = share.fog("log", flag, "last tuesday", expect=2)
        assert flag in r.one_line_error() and r.out == ""
    r = share.fog("log", "-n", "many", expect=2)
    assert r.out == ""


def test_log_n_0_shows_nothing(share: Share) -> None:
    share.write("a.txt", "a\n")
    share.push()
    assert share.fog("log", "-n", "0", "--json").json() == []


# -- 7. --max-delete -------------------------------------------------------------------------


def test_max_delete_on_push(share: Share) -> None:
    for i in range(20):
        share.write(f"f{i:02}.txt", f"file {i}\n")
    share.push()
    log_before = share.fog("log", "--json").json()
    batches_before = share.log_files()

    for i in range(15):
        (share.root / f"f{i:02}.txt").unlink()
    r = share.fog("push", expect=1)  # default: 50% of 20, at least 10
    line = r.one_line_error()
    assert "15" in line and "--max-delete" in line, line
    assert r.out == ""
    for args in (["push", "--max-delete", "14"], ["push", "--max-delete", "74%"], ["sync"], ["push", "--quiet"]):
        share.fog(*args, expect=1).one_line_error()
    json_error(share.fog("push", "--json", expect=None), 1)
    # nothing was published: history and the remote's logs are as they were
    assert share.fog("log", "--json").json() == log_before
    assert share.log_files() == batches_before
    assert len(share.fog("status", "--json").json()["deleted"]) == 15

    d = share.push("--max-delete", "100%")
    assert len(d["deleted"]) == 15
    assert len(share.log_files()) == len(batches_before) + 1

    # an explicit count: 4 deletions of 5 files are refused by 3
    for i in range(15, 19):
        (share.root / f"f{i:02}.txt").unlink()
    before = share.log_files()
    share.fog("push", "--max-delete", "3", expect=1).one_line_error()
    assert share.log_files() == before
    d = share.push()  # the default never refuses 10 or fewer
    assert len(d["deleted"]) == 4

    for bad in ("abc", "-1", "150%", "5x", "%"):
        r = share.fog("push", "--max-delete", bad, expect=2)
        assert "--max-delete" in r.one_line_error() and r.out == ""
    share.fog("sync", "--max-delete", "abc", expect=2).one_line_error()
    share.fog("pull", "--max-delete", "abc", expect=2).one_line_error()


def test_a_dry_run_push_says_the_max_delete_refusal(share: Share) -> None:
    """`push -n` said "would push 30 change(s)", exit 0, while the push itself refused (new-user review)."""
    for i in range(30):
        share.write(f"f{i:02}.txt", f"file {i}\n")
    share.push()
    for i in range(30):
        (share.root / f"f{i:02}.txt").unlink()
    real = share.fog("push", expect=None)
    for args in (["push", "-n"], ["push", "--dry-run", "--quiet"], ["push", "-n", "--max-delete", "29"]):
        r = share.fog(*args, expect=real.rc)
        line = r.one_line_error()
        assert "would refuse to publish 30 deletions" in line and "--max-delete" in line, line
        assert r.out == ""
    assert real.rc == 1 and "refusing to publish 30 deletions" in real.one_line_error()
    json_error(share.fog("push", "-n", "--json", expect=None), 1)
    r = share.fog("push", "-n", "--max-delete", "100%")
    assert "would push 30 change(s)" in r.out
    assert len(share.fog("status", "--json").json()["deleted"]) == 30  # a dry run changes nothing


# -- 8. the master key ------------------------------------------------------------------------


def test_master_key_only_when_asked(share: Share) -> None:
    key = share.key_file.read_text().strip()
    variants = (key, key.replace("-", ""), key.lower())
    for args in (["key", "show"], ["key", "show", "--json"]):
        r = share.fog(*args)
        assert not any(k in r.out or k in r.err for k in variants), r
    assert share.fog("key", "show", "--json").json()["master_key"] is None
    r = share.fog("key", "show", "--master")
    assert key in r.out and "WARNING" in r.err and key not in r.err
    assert "the master key below gives access" in r.err
    r = share.fog("key", "show", "--master", "--json")
    assert r.json()["master_key"] == key and "WARNING" in r.err
    # (no key "below" a JSON document: it is in it)
    assert "the master key in the JSON on stdout (`master_key`) gives access" in r.one_line_error()
    # no command takes the key as a value
    for args in (["clone", str(share.remote), str(share.tmp / "c")], ["init", str(share.tmp / "i"), "-r", "x"]):
        r = share.fog(*args, "--master-key", key, expect=2)
        assert "--master-key" in r.err and r.out == ""
        assert not (share.tmp / "c").exists() and not (share.tmp / "i").exists()


# -- 9. --version and bare `fog` --------------------------------------------------------------


def test_version_and_bare_fog(tmp_path: Path) -> None:
    r = run_fog(["--version"], tmp_path)
    assert re.fullmatch(r"fog \d+\.\d+\.\d+\S*\n", r.out), r.out
    r = run_fog([], tmp_path, expect=None)
    assert r.rc in (0, 2), r
    text = r.out + r.err
    assert "Usage: " in text and " [OPTIONS] COMMAND [ARGS]..." in text and "Commands:" in text
    for command in ("init", "push", "pull", "sync", "log", "restore", "diff", "cat", "check", "clone", "key"):
        assert re.search(rf"^\s+{command}\s", text, re.M), command
