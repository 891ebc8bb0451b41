"""Bad input, exit codes and one-line errors (issue 2, point 8 and "Must hold" 7)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fogcli import FOG, Share, env, leftovers, run_fog, run_wrapped

# -- a missing or broken remote -----------------------------------------------------


def test_missing_remote_is_one_clear_line(share: Share) -> None:
    share.write("a.txt", b"a\n")
    shutil.rmtree(share.remote)
    r = share.fog("push", expect=1, sub=True)
    line = r.one_line_error()
    assert str(share.remote) in line and "does not exist" in line, line
    assert r.out == ""
    r = share.fog("push", "--json", expect=1, sub=True)
    doc = json.loads(r.one_line_error())
    assert doc["code"] == 1 and str(share.remote) in doc["message"]
    assert r.out == ""
    share.fog("check", expect=1).one_line_error()
    share.fog("restore", "a.txt", "-o", share.tmp / "x", expect=1).one_line_error()
    # the local file and history are untouched; once the disk is back, push works
    assert (share.root / "a.txt").read_bytes() == b"a\n"
    share.remote.mkdir()
    r = share.fog("push", expect=1)  # an empty directory is not a fog store
    assert "fog store" in r.one_line_error()


def test_remote_replaced_by_a_file(share: Share) -> None:
    shutil.rmtree(share.remote)
    share.remote.write_bytes(b"not a directory")
    share.fog("push", expect=1).one_line_error()


def test_init_errors(tmp_path: Path, share: Share) -> None:
    r = run_fog(["init", share.root, "--remote", tmp_path / "r2"], tmp_path, expect=1, subprocess_=True)
    assert "already" in r.one_line_error()
    (tmp_path / "s3").mkdir()
    r = run_fog(["init", tmp_path / "s3", "--remote", tmp_path / "s3" / "inside"], tmp_path, expect=2)
    r.one_line_error()
    r = run_fog(["init", tmp_path / "s4", "--remote", tmp_path / "nope" / "deeper"], tmp_path, expect=1)
    r.one_line_error()


def test_init_device_name_of_a_device_that_has_one_already(tmp_path: Path, share: Share) -> None:
    """A second `init --device-name OTHER` under one FOG_HOME said "Initialized" and kept the old name."""
    name = share.fog("device", "list", "--json").json()[0]["name"]
    r = run_fog(["init", tmp_path / "s6", "--remote", tmp_path / "r6", "--device-name", "OTHER"], tmp_path, expect=2)
    assert "already named" in r.one_line_error() and "fog device rename" in r.one_line_error()
    assert not (tmp_path / "s6" / ".fog").exists()
    run_fog(["init", tmp_path / "s7", "--remote", tmp_path / "r7", "--device-name", name], tmp_path)


def test_a_remote_that_holds_something_else_is_refused(tmp_path: Path, share: Share) -> None:
    """`init` and `remote add` took any non-empty directory as a store and wrote fog's tree among its files
    (a mistyped path: `~` for `~/fog`). Refused in one line, nothing written there; an empty one is fine."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "img1.jpg").write_bytes(b"precious")
    r = run_fog(["init", tmp_path / "s5", "--remote", photos], tmp_path, expect=1)
    assert "not empty and holds no fog store" in r.one_line_error()
    line = share.fog("remote", "add", "usb", photos, expect=1).one_line_error()
    assert "not empty and holds no fog store" in line and "img1.jpg" in line, line
    assert sorted(p.name for p in photos.iterdir()) == ["img1.jpg"]
    (tmp_path / "empty").mkdir()
    share.fog("remote", "add", "usb", tmp_path / "empty")


# -- bad revisions -------------------------------------------------------------------


@pytest.mark.parametrize(
    "rev", ["@zzzz", "@~99", "@2000-01-01", "@2000-01-01T00:00:00Z", "@ab", "@abc", "@~-1", "@ffffffff", "@~x"]
)
def test_bad_rev_is_exit_1_one_line(share: Share, rev: str) -> None:
    share.write("a.txt", b"one\n")
    share.push()
    r = share.fog("restore", f"a.txt{rev}", "-o", share.tmp / "out", expect=1, sub=rev == "@zzzz")
    line = r.one_line_error()
    assert "a.txt" in line or rev[1:] in line, line
    assert not (share.tmp / "out").exists()
    assert (share.root / "a.txt").read_bytes() == b"one\n"


def test_unknown_path_is_exit_1(share: Share) -> None:
    share.write("a.txt", b"one\n")
    share.push()
    share.fog("restore", "nothere.txt@~0", expect=1).one_line_error()
    share.fog("log", "nothere.txt", expect=1).one_line_error()


@pytest.mark.parametrize(
    "args",
    [
        ["log", "nosuch"],
        ["ls", "nosuch"],
        ["restore", "nosuch"],
        ["diff", "nosuch"],
        ["cat", "nosuch"],
        ["forget", "nosuch"],
        ["log", "--pushes", "nosuch"],
        ["find", "x", "nosuch"],
    ],
)
def test_a_path_with_no_history_is_exit_1_and_the_same_line_everywhere(share: Share, args: list[str]) -> None:
    """review6 C6: the same condition was exit 1 in five commands, 2 in `forget` (a usage error) and 0 in
    `log --pushes` ("No pushes match.") and `find x DIR` ("no path matches"): a script could not tell a
    typo in a path from a bad command line."""
    share.write("a.txt", b"one\n")
    share.push()
    line = share.fog(*args, expect=1).one_line_error()
    assert line == "fog: nosuch: no history (not in the share, or never pushed or pulled)"
    if args[0] != "cat":  # (cat takes no --json)
        r = share.fog(*args, "--json", expect=1)
        assert json.loads(r.one_line_error()) == {"code": 1, "kind": "revision", "message": line[len("fog: ") :]}


@pytest.mark.parametrize("command", ["cat", "log", "ls", "restore", "diff", "forget", "find x", "log --pushes"])
def test_an_empty_path_is_refused_and_named_as_such(
    share: Share, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fog cat ''` blamed the argument on .fog ("does not name a file in the share (nothing in a .fog
    directory is synced)"), and `log ''`, `ls ''`, `restore ''`, `diff ''`, `forget ''` took it as the
    current directory (`"$DIR"` unset in a script restored or forgot the whole share)."""
    share.write("a.txt", b"one\n")
    share.push()
    r = share.fog(*command.split(), "", expect=2)
    assert r.one_line_error() == "fog: '' (an empty argument) names no path: give a file or directory in the share"
    assert ".fog" not in r.err
    monkeypatch.setenv("FOG_NO_FAST", "1")  # (`log` has a fast path)
    r = share.fog(*command.split(), "", expect=2)
    assert "an empty argument" in r.one_line_error()


def test_the_share_root_and_dot_fog_are_named_for_what_they_are(share: Share) -> None:
    """`fog cat .@~1` said ". does not name a file in the share (nothing in a .fog directory is synced)";
    `fog diff` run inside .fog said the same of a "." the user never typed."""
    share.write("a.txt", b"one\n")
    share.push()
    share.write("a.txt", b"two\n")
    share.push()
    for spec in (".", ".@~1", "@~1"):  # (a bare @REV: the current directory's)
        line = share.fog("cat", spec, expect=1).one_line_error()
        assert line == "fog: . is the share's root, a directory, not a file"
    line = share.fog("diff", cwd=share.root / ".fog", expect=2).one_line_error()
    assert line == "fog: the current directory is in a .fog directory: nothing there is synced, so it has no history"
    line = share.fog("log", ".fog/config.json", expect=2).one_line_error()
    assert line.startswith("fog: .fog/config.json is in a .fog directory")
    share.fog("restore", ".@~1", "-n")  # (the root as a tree still works)


# -- files that vanish or change during a push ------------------------------------------

VANISH = """
import os
from fog.sync import content
_read = content.FileReader.read

def read(self, path, before, stats):
    if "vanish" in os.path.basename(path):
        os.unlink(path)
    return _read(self, path, before, stats)

content.FileReader.read = read
"""


def test_file_vanishing_during_the_scan(share: Share) -> None:
    share.write("keep.txt", b"keep\n")
    share.write("old-vanish.txt", b"pushed once\n")
    share.push()
    share.write("old-vanish.txt", b"modified, then gone before it is read\n")
    share.write("new-vanish.txt", b"new, gone before it is read\n")
    share.write("other.txt", b"other\n")
    r = run_wrapped(VANISH, ["push", "--json"], share.root)
    doc = r.json()
    assert doc["added"] == ["other.txt"] and doc["modified"] == []
    assert not (share.root / "old-vanish.txt").exists()
    # the next push records the deletion; the vanished new file never existed for fog
    doc = share.push()
    assert doc["deleted"] == ["old-vanish.txt"] and doc["added"] == []
    share.fog("log", "new-vanish.txt", expect=1)
    assert [e["deleted"] for e in share.log("old-vanish.txt")] == [True, False]
    share.fog("check", "--read-data")


CHANGING = """
import os
import threading
from fog.sync import content
_local = threading.local()
_read = content.FileReader.read
_put = content.FileReader._put

def read(self, path, before, stats):
    _local.path = path
    return _read(self, path, before, stats)

def put(self, stats):
    inner = _put(self, stats)
    path = getattr(_local, "path", None)

    def wrapped(data):
        if path is not None and os.path.basename(path) == "busy.log":  # the file grows while it is read
            with open(path, "ab") as f:
                f.write(b"appended while fog read it\\n")
        return inner(data)

    return wrapped

content.FileReader.read = read
content.FileReader._put = put
"""


def test_file_changing_during_the_read_is_recorded_from_a_copy_not_half_pushed(share: Share) -> None:
    share.write("busy.log", b"line\n" * 1000)
    r = run_wrapped(CHANGING, ["push", "--json"], share.root)
    doc = r.json()
    assert doc["added"] == ["busy.log"] and doc["snapshots"] == ["busy.log"] and doc["unread"] == []
    out = share.tmp / "busy"
    share.fog("restore", "busy.log", "-o", out)
    recorded = out.read_bytes()
    body = recorded[len(b"line\n" * 1000) :]
    assert recorded.startswith(b"line\n" * 1000) and body == b"appended while fog read it\n" * (body.count(b"\n"))
    doc = share.push()  # the copy was taken after the last append here: the same state, nothing new
    assert doc["modified"] == [] and doc["unread"] == []
    assert out.read_bytes() == (share.root / "busy.log").read_bytes()


FIFO_SWAP = """
import os
from fog.sync import content
_read = content.FileReader.read

def read(self, path, before, stats):
    if os.path.basename(path) == "swap.txt":  # replaced by a FIFO between the scan and the read
        os.unlink(path)
        os.mkfifo(path)
    return _read(self, path, before, stats)

content.FileReader.read = read
"""


def test_special_files_are_skipped_and_never_block(share: Share) -> None:
    os.mkfifo(share.root / "pipe")
    share.write("swap.txt", b"soon a FIFO\n")
    share.write("fine.txt", b"fine\n")
    r = run_wrapped(FIFO_SWAP, ["push", "--json"], share.root, timeout=60)
    doc = r.json()
    assert doc["added"] == ["fine.txt"]
    assert any(s.startswith("pipe") for s in doc["skipped"]), doc["skipped"]
    assert any(s.startswith("swap.txt") for s in doc["skipped"]), doc["skipped"]
    doc = share.push()
    assert doc["added"] == [] and any(s.startswith("swap.txt") for s in doc["skipped"])


# -- the share lock -------------------------------------------------------------------


def _hold_lock(share: Share) -> int:
    fd = os.open(share.root / ".fog" / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_lock_held_is_exit_75(share: Share) -> None:
    share.write("a.txt", b"a\n")
    share.push()
    fd = _hold_lock(share)
    try:
        share.write("b.txt", b"b\n")
        r = share.fog("push", expect=75, sub=True)
        assert "lock" in r.one_line_error()
        r = share.fog("push", "--json", expect=75)
        assert json.loads(r.one_line_error())["code"] == 75
        share.fog("restore", "a.txt", "-o", share.tmp / "x", expect=75)
        share.fog("check", expect=75)
        assert not (share.tmp / "x").exists()
    finally:
        os.close(fd)
    assert share.push()["added"] == ["b.txt"]


def test_wait_for_the_lock(share: Share) -> None:
    share.write("a.txt", b"a\n")
    fd = _hold_lock(share)
    released = threading.Event()

    def release() -> None:
        time.sleep(1.0)
        released.set()
        os.close(fd)

    t0 = time.monotonic()
    threading.Thread(target=release, daemon=True).start()
    proc = subprocess.run(
        [*FOG, "push", "--wait", "--json"], cwd=share.root, env=env(), capture_output=True, timeout=60
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr.decode()
    assert released.is_set() and elapsed >= 0.9
    assert json.loads(proc.stdout)["added"] == ["a.txt"]


# -- unsaved changes -------------------------------------------------------------------


def test_restore_refuses_to_overwrite_unsaved_changes(share: Share) -> None:
    share.write("a.txt", b"version one\n")
    share.push()
    share.write("a.txt", b"version two\n")
    share.push()
    share.write("a.txt", b"local edit, never pushed\n")
    r = share.fog("restore", "a.txt@~1", expect=1, sub=True)
    assert "--force" in r.one_line_error()
    assert (share.root / "a.txt").read_bytes() == b"local edit, never pushed\n"
    share.fog("restore", "a.txt@~1", "--force")
    assert (share.root / "a.txt").read_bytes() == b"version one\n"
    assert leftovers(share.root) == []


def test_restore_refuses_to_overwrite_a_new_unpushed_file(share: Share) -> None:
    share.write("a.txt", b"pushed\n")
    share.push()
    (share.root / "a.txt").unlink()
    share.push()
    share.write("a.txt", b"a new file with the same name\n")
    share.fog("restore", "a.txt@~1", expect=1).one_line_error()
    assert (share.root / "a.txt").read_bytes() == b"a new file with the same name\n"


def test_restore_over_a_touched_but_unchanged_file_needs_no_force(share: Share) -> None:
    share.write("a.txt", b"one\n")
    share.push()
    share.write("a.txt", b"two\n")
    share.push()
    os.utime(share.root / "a.txt", (1_000_000, 1_000_000))
    share.fog("restore", "a.txt@~1")
    assert (share.root / "a.txt").read_bytes() == b"one\n"


# -- where fog runs ---------------------------------------------------------------------


def test_commands_work_from_a_subdirectory_and_with_C(share: Share, tmp_path: Path) -> None:
    sub = share.root / "deep" / "er"
    sub.mkdir(parents=True)
    (sub / "f.txt").write_bytes(b"one\n")
    doc = run_fog(["push", "--json"], sub).json()
    assert doc["added"] == ["deep", "deep/er", "deep/er/f.txt"]
    (sub / "f.txt").write_bytes(b"two\n")
    assert run_fog(["status", "--json"], sub).json()["modified"] == ["deep/er/f.txt"]
    run_fog(["push"], sub, subprocess_=True)
    assert [e["size"] for e in run_fog(["log", "--json", "f.txt"], sub).json()] == [4, 4]
    run_fog(["restore", "f.txt@~1", "-o", "old.txt"], sub)
    assert (sub / "old.txt").read_bytes() == b"one\n"
    (sub / "old.txt").unlink()
    # -C, from outside the share, with paths relative to DIR
    r = run_fog(["-C", sub, "log", "--json", "f.txt"], tmp_path, subprocess_=True)
    assert len(r.json()) == 2
    run_fog(["-C", sub, "restore", "f.txt@~1", "-o", tmp_path / "c.txt"], tmp_path)
    assert (tmp_path / "c.txt").read_bytes() == b"one\n"
    run_fog(["-C", share.root, "restore", "deep/er/f.txt@~1", "--force"], tmp_path)
    assert (sub / "f.txt").read_bytes() == b"one\n"
    assert run_fog(["-C", share.root, "status", "--json"], tmp_path).json()["modified"] == ["deep/er/f.txt"]
    # a path that leaves the share is refused
    run_fog(["log", "../../../elsewhere.txt"], sub, expect=2).one_line_error()


def test_outside_a_share_is_one_line(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    for args in (["push"], ["status"], ["log"], ["check"], ["restore", "a.txt@~1"]):
        r = run_fog(args, outside, expect=1, subprocess_=args == ["push"])
        assert "not inside a fog share" in r.one_line_error(), args
    r = run_fog(["-C", outside, "push"], tmp_path, expect=1)
    r.one_line_error()


def test_no_identity_is_one_line(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "other-home"
    empty.mkdir()
    monkeypatch.setenv("FOG_HOME", str(empty))
    share.fog("push", expect=1, sub=True).one_line_error()


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["push", "--no-such-flag"],
        ["restore"],
        ["log", "-n", "-1"],
        ["log", "-n", "many"],
        ["-C", "/nonexistent/dir/for/fog", "status"],
        ["init", "somewhere"],
        ["restore", "a.txt@~0", "-o", "-", "--json"],
    ],
)
def test_usage_errors_exit_2(share: Share, args: list[str]) -> None:
    r = share.fog(*args, expect=2, sub=args == ["frobnicate"])
    assert r.out == ""
    assert "Usage" in r.err or "Error" in r.err or "fog:" in r.err, r.err


def test_help_and_version(share: Share) -> None:
    r = run_fog(["--help"], share.root, subprocess_=True)
    for cmd in ("init", "push", "status", "log", "restore", "check"):
        assert cmd in r.out
    assert run_fog(["--version"], share.root).out.startswith("fog ")
    assert Path(sys.executable).exists()


def test_a_master_key_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    """`--master-key-file /dev/zero` (or a wrong big file) is refused after 64 KiB, in one line: it was read
    whole (24 GB of memory, then SIGKILL)."""
    big = tmp_path / "big.key"
    big.write_bytes(b"0" * (65 << 10))
    for source in ("/dev/zero", big):
        r = run_fog(["clone", tmp_path / "nowhere", tmp_path / "c", "--master-key-file", source], tmp_path, expect=1)
        line = r.one_line_error()
        assert "over 64 KiB" in line and str(source) in line, line
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["log", "--since", "0001-01-01"], 2),
        (["log", "--until", "0001-01-01"], 2),
        (["cat", "a.txt@0001-01-01"], 1),
        (["ls", ".@0001-01-01"], 1),
        (["cat", "a.txt@~" + "9" * 5000], 1),
        (["ls", ".@~" + "9" * 5000], 1),
        (["restore", ".@push:x:" + "9" * 5000, "-n"], 1),
        (["log", "-n", "9" * 5000], 2),
        (["log", "-n", "²"], 2),
        (["log", "--since", "9" * 5000 + "d"], 2),
        (["forget", "-n", "--keep-last", "9" * 5000], 2),
        (["policy", "set", "--keep-last", "²"], 2),
    ],
)
def test_dates_and_numbers_out_of_range_are_usage_errors(share: Share, args: list[str], code: int) -> None:
    """Year 1, or a number of 5,000 digits, gave "internal error: ValueError" (exit 1)."""
    share.write("a.txt", b"a\n")
    share.push()
    for sub in (False, True):
        r = share.fog(*args, expect=code, sub=sub)
        line = r.one_line_error()
        assert "internal error" not in line and "Traceback" not in r.err, line


def test_every_command_that_can_say_locked_takes_wait(share: Share) -> None:
    """Replication review: `cat`, `diff` and `device list` exited 75 with "...or pass --wait", and
    rejected `--wait` (exit 2): a cron job could not wait for the lock."""
    share.write("a.txt", b"a\n")
    share.push()
    share.write("a.txt", b"b\n")
    commands = [
        ["cat", "a.txt"],
        ["diff", "a.txt"],
        ["diff", ".@~0"],
        ["device", "list"],
        ["share", "members"],
    ]
    fd = _hold_lock(share)
    try:
        for argv in commands:
            assert share.fog(*argv, expect=None).rc == 75, argv
        procs = [
            subprocess.Popen(
                [*FOG, *argv, "--wait"], cwd=share.root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for argv in commands
        ]
        time.sleep(1.0)
        assert [p.poll() for p in procs] == [None] * len(procs)  # waiting, not refused
    finally:
        os.close(fd)
    for argv, p in zip(commands, procs, strict=True):
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, (argv, err.decode())


def test_master_key_files_follow_dash_c_and_stay_out_of_shares(
    tmp_path: Path, share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-C DIR` is "as if fog was started in DIR": init and key rotate took --master-key-file from there,
    clone and key adopt from the real working directory. And a new key file written inside a share was
    published by its next push (to every device, and to a shared share's other users)."""
    line = share.fog("key", "rotate", "--master-key-file", share.root / "rot.key", expect=2).one_line_error()
    assert "inside the share" in line and not (share.root / "rot.key").exists()
    work = tmp_path / "w"
    work.mkdir()
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "h2"))
    run_fog(["-C", work, "init", "s", "--remote", "r", "--master-key-file", "mk"], tmp_path)
    assert (work / "mk").exists()
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "h3"))
    run_fog(["-C", work, "clone", "r", "c", "--master-key-file", "mk"], tmp_path)
    assert (work / "c" / ".fog").is_dir()
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "h4"))
    argv = ["init", tmp_path / "s8", "--remote", tmp_path / "r8", "--master-key-file", tmp_path / "s8" / "k"]
    assert "inside the share" in run_fog(argv, tmp_path, expect=2).one_line_error()


def test_a_master_key_file_is_kept_out_of_shares_reached_through_a_symlink(
    tmp_path: Path, share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "inside a share" test looked at the path as spelled: `key rotate --master-key-file ~/keys/k`, with
    ~/keys a link to a directory of the share, wrote the new master key into the share, and the next push
    published it (review 6, diff F2). The same for init, the link leading into the share it makes, or the
    share's directory spelled through a link and the key file by its real path."""
    (share.root / "docs").mkdir()
    links = tmp_path / "elsewhere"
    links.mkdir()
    (links / "keys").symlink_to(share.root / "docs")
    line = share.fog("key", "rotate", "--master-key-file", links / "keys" / "new.key", expect=2).one_line_error()
    assert "inside the share" in line and not (share.root / "docs" / "new.key").exists(), line
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "h5"))
    (links / "s5").symlink_to(tmp_path / "s5")  # (init makes s5)
    argv = ["init", tmp_path / "s5", "--remote", tmp_path / "r5", "--master-key-file", links / "s5" / "k"]
    assert "inside the share" in run_fog(argv, tmp_path, expect=2).one_line_error()
    assert not (tmp_path / "s5" / "k").exists()
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "h6"))
    (tmp_path / "real6").mkdir()
    (links / "six").symlink_to(tmp_path / "real6")
    key = tmp_path / "real6" / "s" / "k"
    argv = ["init", links / "six" / "s", "--remote", tmp_path / "r6", "--master-key-file", key]
    assert "inside the share" in run_fog(argv, tmp_path, expect=2).one_line_error()
    assert not key.exists()


def test_a_master_key_file_is_never_written_into_a_store(
    tmp_path: Path, share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key beside the ciphertext it opens: `init --remote R --master-key-file R/k` (R made by this very
    init) and `key rotate --master-key-file R/config/k` wrote it there (review 5, keys 6)."""
    remote = Path(share.fog("remote", "list", "--json").json()[0]["url"])
    inside = remote / "config" / "rot.key"
    line = share.fog("key", "rotate", "--master-key-file", inside, expect=2).one_line_error()
    assert "inside the fog store" in line and not inside.exists()
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "h9"))
    store = tmp_path / "usb" / "fog"
    argv = ["init", tmp_path / "s9", "--remote", store, "--master-key-file", store / "mk.txt"]
    assert "inside the fog store" in run_fog(argv, tmp_path, expect=2).one_line_error()
    assert not (store / "mk.txt").exists()


def test_init_checks_the_master_key_file_can_be_written_before_it_makes_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 6, cli C1: `init --master-key-file DIR/missing/mk` made the identity, published the share and
    claimed the checkout, then failed on the key's temp file: the key was never shown, and the rerun said
    "already a fog share"."""
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home"))
    argv = ["init", tmp_path / "s", "--remote", tmp_path / "r", "--master-key-file", tmp_path / "no" / "mk"]
    line = run_fog(argv, tmp_path, expect=1).one_line_error()
    assert "cannot write the master key to" in line and "nothing was made" in line, line
    assert not (tmp_path / "home").exists() and not (tmp_path / "s" / ".fog").exists()
    argv[-1] = tmp_path / "mk"  # the same command with a file that can be written: works
    run_fog(argv, tmp_path)
    assert (tmp_path / "mk").read_text().strip()


@pytest.mark.parametrize("where", ["fog.api._new_share", "fog.repo.checkouts.claim"], ids=["before", "after"])
def test_an_init_killed_midway_still_leaves_the_master_key_file_and_the_same_command_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Review 6, crash C5: F was written last, so an init killed before (or after publishing the share) left
    no backup of the new master key, and the same command again refused (--master-key-file "only applies when
    init creates a new identity", or F exists)."""
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home"))
    module, _, name = where.rpartition(".")
    kill = f"import os, {module} as _m\ndef _die(*a, **k):\n    os._exit(9)\n_m.{name} = _die\n"
    argv = ["init", tmp_path / "s", "--remote", tmp_path / "r", "--master-key-file", tmp_path / "mk"]
    run_wrapped(kill, argv, tmp_path, expect=9)
    key = (tmp_path / "mk").read_text()
    assert key.strip()
    r = run_fog(argv, tmp_path, expect=0 if where.endswith("_new_share") else 1)
    assert r.rc == 0 or "is already a fog share" in r.one_line_error()  # (after: it is, and F holds its key)
    assert (tmp_path / "mk").read_text() == key
    assert run_fog(["key", "show", "--master", "--json"], tmp_path / "s").json()["master_key"] == key.strip()
    (tmp_path / "s" / "a.txt").write_text("a\n")
    run_fog(["push"], tmp_path / "s")


# -- a clone or init stopped between making .fog/ and writing its config.json ----------------------


def _unfinished_fog(root: Path) -> None:
    """What `Share.create` leaves when killed before config.json is in place."""
    (root / ".fog" / "tmp").mkdir(parents=True)
    (root / ".fog" / ".config.json.tmp-4933").write_bytes(b"")


@pytest.mark.parametrize("into_existing", [False, True])
def test_a_clone_stopped_before_config_json_is_finished_by_the_same_command(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, into_existing: bool
) -> None:
    """Every way forward refused, each naming another that refused (clone: not empty; --into-existing:
    .fog exists, 'fog pull' finishes; pull: "no .fog/")."""
    share.write("a.txt", "a\n")
    share.push()
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home-c"))
    c = tmp_path / "C"
    _unfinished_fog(c)
    if into_existing:
        (c / "a.txt").write_text("edited here\n")
    line = run_fog(["pull"], c, expect=1).one_line_error()
    assert "has no config.json" in line and "run the same command again" in line, line
    extra = ["--into-existing"] if into_existing else []
    run_fog(["clone", share.remote, c, "--master-key-file", share.key_file, *extra], tmp_path)
    assert (c / ".fog" / "config.json").is_file()
    assert (c / "a.txt").read_text() == ("edited here\n" if into_existing else "a\n")
    run_fog(["status"], c)


def test_an_unfinished_fog_dir_with_more_in_it_is_left_alone(share: Share, tmp_path: Path) -> None:
    c = tmp_path / "C"
    _unfinished_fog(c)
    (c / ".fog" / "db").mkdir()  # not what Share.create makes before config.json: not fog's to remove
    run_fog(["clone", share.remote, c, "--master-key-file", share.key_file, "--into-existing"], tmp_path, expect=1)
    assert (c / ".fog" / "db").is_dir()


def test_an_init_stopped_after_publishing_its_share_is_finished_by_running_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after it wrote the share into the SyncConfig, init left a ghost share name: the re-run said
    "you have a share named 'I' already", and every later clone asked to pick between I and I2."""
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home"))
    root, remote = tmp_path / "I", tmp_path / "r"
    root.mkdir()
    (root / "x.txt").write_text("x\n")
    killed = """
        import os
        from fog.repo import share
        def create(*a, **k):
            os.makedirs(os.path.join(a[1], ".fog", "tmp"), exist_ok=True)
            os._exit(9)
        share.Share.create = classmethod(lambda cls, *a, **k: create(cls, *a, **k))
    """
    r = run_wrapped(killed, ["init", root, "-r", remote], tmp_path, expect=None)
    assert r.rc == 9, str(r)
    assert [p.name for p in (tmp_path / "home").glob("init-*")], "the stopped init recorded no share"
    r = run_fog(["init", root, "-r", remote], tmp_path)
    assert not list((tmp_path / "home").glob("init-*")), "a finished init left its record"
    assert "fogmk" in r.out or "master key" in r.out.lower(), r.out  # never shown by the stopped init
    run_fog(["push", "-q"], root)
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    key = tmp_path / "key"
    key.write_text((tmp_path / "home" / "master-key").read_text())
    run_fog(["clone", remote, tmp_path / "J", "--master-key-file", key], tmp_path)  # one share: no --share asked
    assert (tmp_path / "J" / "x.txt").read_text() == "x\n"


@pytest.mark.parametrize("pulled", [False, True])
def test_init_never_takes_another_devices_new_share_for_a_stopped_one(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pulled: bool
) -> None:
    """A new share of another device (same user and remote, nothing pushed to it yet) passed for this
    device's stopped init: `fog init --name docs` on B checked out A's share, merged the two directories,
    and showed the master key again (review 6, diff F4). The name is taken, as for any other share."""
    home_a = Path(os.environ["FOG_HOME"])
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home-b"))
    run_fog(["clone", share.remote, tmp_path / "b", "--master-key-file", share.key_file], tmp_path)
    monkeypatch.setenv("FOG_HOME", str(home_a))
    run_fog(["init", tmp_path / "adocs", "--name", "docs", "-r", share.remote], tmp_path)
    assert not list(home_a.glob("init-*")), "a finished init left its record"
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home-b"))
    if pulled:  # B's cached SyncConfig has docs (else only the remote's says the name is taken)
        run_fog(["pull"], tmp_path / "b")
    bdocs = tmp_path / "bdocs"
    bdocs.mkdir()
    (bdocs / "files-B.txt").write_text("B\n")
    line = run_fog(["init", bdocs, "--name", "docs", "-r", share.remote], tmp_path, expect=2).one_line_error()
    assert "you have a share named 'docs' already" in line, line
    assert not (bdocs / ".fog").exists() and [p.name for p in bdocs.iterdir()] == ["files-B.txt"]
