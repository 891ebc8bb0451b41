"""Round trips through the real CLI: init, push, log, restore (issue 2, "Must hold" 1)."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fogcli import Share, leftovers


def _versions(share: Share, path: str) -> list[dict]:
    entries = share.log(path)
    for e in entries:
        assert {"version", "time", "device", "size", "deleted"} <= set(e), e
        assert len(e["version"]) == 64 and int(e["version"], 16) >= 0
        assert isinstance(e["size"], int) and isinstance(e["deleted"], bool)
        datetime.fromisoformat(e["time"])  # ISO 8601
        assert e["time"].endswith(("Z", "+00:00")), e["time"]  # UTC
    return entries


def test_push_edit_push_log_and_restore_every_rev_form(share: Share) -> None:
    old, new = b"first version\n", b"second version, longer\n"
    share.write("notes.txt", old)
    first = share.push()
    assert first["added"] == ["notes.txt"] and first["batch"] == 1
    time.sleep(1.1)
    between = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.1)
    share.write("notes.txt", new)
    second = share.push()
    assert second["modified"] == ["notes.txt"] and second["batch"] == 2

    log = _versions(share, "notes.txt")
    assert [e["size"] for e in log] == [len(new), len(old)]  # newest first
    assert [e["deleted"] for e in log] == [False, False]
    assert log[0]["version"] != log[1]["version"]
    assert log[0]["device"] == log[1]["device"] != ""
    assert log[0]["time"] >= log[1]["time"]
    old_id = log[1]["version"]

    revs = {
        "tilde": "~1",
        "prefix": old_id[:8],
        "utc": between.isoformat().replace("+00:00", "Z"),
        "local-offset": between.astimezone().isoformat(),
    }
    for label, rev in revs.items():
        out = share.tmp / f"out-{label}"
        share.fog("restore", f"notes.txt@{rev}", "-o", out)
        assert out.read_bytes() == old, label
    # ~0, no REV and a time after the second push all name the newest version
    for label, spec in {
        "~0": "notes.txt@~0",
        "none": "notes.txt",
        "now": f"notes.txt@{datetime.now(UTC).isoformat()}",
    }.items():
        out = share.tmp / f"new-{label}"
        share.fog("restore", spec, "-o", out)
        assert out.read_bytes() == new, label
    # to stdout
    assert share.fog("restore", "notes.txt@~1", "-o", "-").raw == old
    # an existing output is not overwritten without --force
    r = share.fog("restore", "notes.txt@~0", "-o", share.tmp / "out-tilde", expect=1)
    r.one_line_error()
    assert (share.tmp / "out-tilde").read_bytes() == old
    share.fog("restore", "notes.txt@~0", "-o", share.tmp / "out-tilde", "--force")
    assert (share.tmp / "out-tilde").read_bytes() == new

    # in place: the working file holds the pushed newest version, so no --force is needed
    share.fog("restore", "notes.txt@~1")
    assert (share.root / "notes.txt").read_bytes() == old
    assert leftovers(share.root) == []
    # restoring the newest again brings back the new bytes (the old ones were never pushed twice)
    share.fog("restore", "notes.txt@~0", "--force")
    assert (share.root / "notes.txt").read_bytes() == new


def test_deleted_file_restores_in_place(share: Share) -> None:
    share.write("gone/soon.txt", b"keep me\n")
    share.push()
    (share.root / "gone/soon.txt").unlink()
    (share.root / "gone").rmdir()
    doc = share.push()
    assert sorted(doc["deleted"]) == ["gone", "gone/soon.txt"]
    log = _versions(share, "gone/soon.txt")
    assert [e["deleted"] for e in log] == [True, False]
    assert log[0]["size"] == 0
    # the newest version is the deletion: restoring it is refused with one line
    share.fog("restore", "gone/soon.txt@~0", expect=1).one_line_error()
    share.fog("restore", "gone/soon.txt@~1")
    assert (share.root / "gone/soon.txt").read_bytes() == b"keep me\n"
    # pushing it back makes it a live file again
    doc = share.push()
    assert "gone/soon.txt" in doc["added"]
    assert [e["deleted"] for e in _versions(share, "gone/soon.txt")] == [False, True, False]


def test_binary_and_non_ascii_names_round_trip(share: Share) -> None:
    small = os.urandom(3000) + b"\x00" * 100 + os.urandom(10)
    big = os.urandom(700 * 1024).replace(b"\x01", b"\x00")  # several blocks, many NULs
    files = {
        "dïr/fïlé ✓.txt": "naïve café ✓ — 日本語\n".encode(),
        "dïr/sub ðir/bïn.dat": small,
        "bïg ✓.bin": big,
        "日本/テスト.bin": b"\x00\xff" * 5000,
        "with@at.txt": b"at sign in the name\n",
    }
    for rel, data in files.items():
        share.write(rel, data)
    doc = share.push()
    assert set(files) <= set(doc["added"])
    for n, (rel, data) in enumerate(files.items()):
        out = share.tmp / f"out{n}"
        share.fog("restore", f"{rel}@~0", "-o", out)
        assert out.read_bytes() == data, rel
        assert share.fog("restore", rel, "-o", "-").raw == data, rel
        (share.root / rel).unlink()
    share.push()
    for rel, data in files.items():
        share.fog("restore", f"{rel}@~1")
        assert (share.root / rel).read_bytes() == data, rel
    # a path relative to a (non-ASCII) subdirectory
    sub = share.root / "dïr"
    out = share.tmp / "rel"
    share.fog("restore", "fïlé ✓.txt@~1", "-o", out, cwd=sub)
    assert out.read_bytes() == files["dïr/fïlé ✓.txt"]
    log = share.log("dïr/fïlé ✓.txt")
    assert log[0]["path"] == "dïr/fïlé ✓.txt"


def test_empty_file_and_empty_directory(share: Share) -> None:
    share.write("empty.txt", b"")
    (share.root / "hollow/inner").mkdir(parents=True)
    doc = share.push()
    assert {"empty.txt", "hollow", "hollow/inner"} <= set(doc["added"])
    out = share.tmp / "e"
    share.fog("restore", "empty.txt", "-o", out)
    assert out.is_file() and out.read_bytes() == b""
    assert share.log("empty.txt")[0]["size"] == 0

    (share.root / "empty.txt").unlink()
    (share.root / "hollow/inner").rmdir()
    (share.root / "hollow").rmdir()
    doc = share.push()
    assert {"empty.txt", "hollow", "hollow/inner"} <= set(doc["deleted"])
    share.fog("restore", "empty.txt@~1")
    assert (share.root / "empty.txt").read_bytes() == b""
    share.fog("restore", "hollow/inner@~1")
    assert (share.root / "hollow/inner").is_dir()
    assert list((share.root / "hollow/inner").iterdir()) == []


def test_file_mode_survives_restore(share: Share) -> None:
    script = share.write("bin/run.sh", b"#!/bin/sh\necho hi\n", mode=0o755)
    share.write("private.txt", b"secret-ish\n", mode=0o600)
    share.push()
    assert share.log("bin/run.sh")[0].get("mode", "0755") == "0755"
    out = share.tmp / "run.sh"
    share.fog("restore", "bin/run.sh", "-o", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    script.unlink()
    (share.root / "private.txt").unlink()
    share.push()
    share.fog("restore", "bin/run.sh@~1")
    share.fog("restore", "private.txt@~1")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE((share.root / "private.txt").stat().st_mode) == 0o600
    doc = share.push()
    assert sorted(doc["added"]) == ["bin/run.sh", "private.txt"]  # back from deletion
    # a mode change alone is a new version
    os.chmod(script, 0o700)
    doc = share.push()
    assert doc["modified"] == ["bin/run.sh"]
    share.fog("restore", "bin/run.sh@~1", "-o", share.tmp / "run2.sh")
    assert stat.S_IMODE((share.tmp / "run2.sh").stat().st_mode) == 0o755


def test_symlinks_are_stored_as_links_and_never_followed(share: Share) -> None:
    outside = share.tmp / "outside"
    outside.mkdir()
    marker = b"OUTSIDE-THE-SHARE-CONTENT-7f3a9c " * 64
    (outside / "target.txt").write_bytes(marker)
    share.write("inside.txt", b"inside\n")
    os.symlink("inside.txt", share.root / "rel-link")
    os.symlink(outside / "target.txt", share.root / "abs-link")
    os.symlink(outside, share.root / "dir-link")
    os.symlink("does/not/exist", share.root / "dangling")
    doc = share.push()
    assert {"rel-link", "abs-link", "dir-link", "dangling"} <= set(doc["added"])
    assert not any(p.startswith("dir-link/") for p in doc["added"])  # not descended into
    assert doc["files_read"] == 1  # only inside.txt was read
    for name in ("rel-link", "abs-link", "dir-link", "dangling"):
        assert share.log(name)[0].get("kind", "link") == "link"
    # the outside file's content is nowhere on the remote
    for p in share.remote.rglob("*"):
        if p.is_file():
            assert b"OUTSIDE-THE-SHARE" not in p.read_bytes(), p

    targets = {n: os.readlink(share.root / n) for n in ("rel-link", "abs-link", "dir-link", "dangling")}
    for n in targets:
        (share.root / n).unlink()
    share.push()
    for n, target in targets.items():
        share.fog("restore", f"{n}@~1")
        p = share.root / n
        assert p.is_symlink() and os.readlink(p) == target, n
    assert (share.root / "rel-link").read_bytes() == b"inside\n"
    # restoring a link elsewhere makes a link there, never a copy of its target
    out = share.tmp / "link-out"
    share.fog("restore", "abs-link@~1", "-o", out)
    assert out.is_symlink() and os.readlink(out) == targets["abs-link"]
    assert (outside / "target.txt").read_bytes() == marker


def test_symlink_replacing_a_file_is_not_followed(share: Share) -> None:
    """A file turned into a symlink to outside data is pushed as a link."""
    outside = share.tmp / "private.txt"
    outside.write_bytes(b"PRIVATE-OUTSIDE-DATA-1b2c " * 100)
    share.write("doc.txt", b"a document\n")
    share.push()
    (share.root / "doc.txt").unlink()
    os.symlink(outside, share.root / "doc.txt")
    doc = share.push()
    assert doc["modified"] == ["doc.txt"] and doc["files_read"] == 0
    for p in share.remote.rglob("*"):
        if p.is_file():
            assert b"PRIVATE-OUTSIDE-DATA" not in p.read_bytes(), p
    # restoring the old file version in place replaces the link, not its target
    share.fog("restore", "doc.txt@~1")
    assert not (share.root / "doc.txt").is_symlink()
    assert (share.root / "doc.txt").read_bytes() == b"a document\n"
    assert outside.read_bytes() == b"PRIVATE-OUTSIDE-DATA-1b2c " * 100


def test_status_reflects_pushes(share: Share) -> None:
    share.write("a.txt", b"a\n")
    st = share.fog("status", "--json").json()
    assert st["added"] == ["a.txt"] and not st["clean"]
    share.push()
    assert share.fog("status", "--json").json()["clean"] is True
    share.write("a.txt", b"changed\n")
    share.write("b.txt", b"b\n")
    st = share.fog("status", "--json").json()
    assert st["modified"] == ["a.txt"] and st["added"] == ["b.txt"]
    # dry run changes nothing
    doc = share.fog("push", "--dry-run", "--json").json()
    assert doc["dry_run"] is True and doc["modified"] == ["a.txt"]
    assert share.fog("status", "--json").json()["modified"] == ["a.txt"]
    assert len(share.log("a.txt")) == 1
    # a touch without a content change is not a change
    share.push()
    os.utime(share.root / "a.txt", (time.time() - 3600, time.time() - 3600))
    assert share.fog("status", "--json").json()["clean"] is True
    assert share.push()["modified"] == []


def test_log_without_path_lists_all_files(share: Share) -> None:
    share.write("x.txt", b"x")
    share.write("y/z.txt", b"z")
    share.push()
    entries = share.fog("log", "--json").json()
    assert {"x.txt", "y", "y/z.txt"} <= {e["path"] for e in entries}
    text = share.fog("log").out
    assert "x.txt" in text and "y/z.txt" in text
    assert share.fog("log", "x.txt").out.count("\n") == 1
    assert Path(share.root).is_dir()


def test_odd_names_round_trip(share: Share) -> None:
    """Names that are not UTF-8, hold a newline, start with a dash or contain '@'."""
    raw = {
        b"latin1-\xe9t\xe9.txt": b"not UTF-8 in the name\n",
        b"new\nline.txt": b"newline in the name\n",
        b"-dash.txt": b"leading dash\n",
        b"user@host.txt": b"an at sign\n",
        b"sp ace  .txt": b"spaces\n",
    }
    for name, data in raw.items():
        (share.root / os.fsdecode(name)).write_bytes(data)
    share.fog("status")  # human output must not fail on a stdout that is strict UTF-8
    doc = share.push()
    assert sorted(doc["added"]) == sorted(os.fsdecode(n) for n in raw)  # JSON escapes, lossless
    share.fog("log")
    for name in raw:
        (share.root / os.fsdecode(name)).unlink()
    share.push()
    for n, (name, data) in enumerate(raw.items()):
        rel = os.fsdecode(name)
        out = share.tmp / f"odd{n}"
        share.fog("restore", "-o", out, "--", f"{rel}@~1")
        assert out.read_bytes() == data, name
        share.fog("restore", "--", f"{rel}@~1")
        assert os.path.exists(os.path.join(os.fsencode(share.root), name)), name
    assert share.fog("status", "--json").json()["added"] == sorted(os.fsdecode(n) for n in raw)


def test_long_paths_beyond_the_lmdb_key_limit(share: Share) -> None:
    parts = [f"{i}-" + "d" * 200 for i in range(4)]  # each component is legal, the path is ~830 bytes
    rel = "/".join([*parts, "f" * 200 + ".txt"])
    assert len(rel.encode()) > 1000
    share.write(rel, b"deep\n")
    share.write("/".join([*parts, "g" * 200 + ".txt"]), b"sibling\n")
    doc = share.push()
    assert rel in doc["added"]
    assert share.log(rel)[0]["size"] == 5
    (share.root / rel).unlink()
    assert share.push()["deleted"] == [rel]
    share.fog("restore", f"{rel}@~1")
    assert (share.root / rel).read_bytes() == b"deep\n"
    assert share.fog("status", "--json").json()["added"] == [rel]


def test_a_file_dated_after_2262_is_synced(share: Share) -> None:
    """Its mtime in ns does not fit an int64 (the scan crashed with OverflowError, exit 1): it is
    recorded at the limit, pushed once, and not read again while unchanged."""
    p = share.write("future.txt", "from the future\n")
    far = 30 * 10**9 + 1_577_836_800  # seconds: beyond what ns in 64 bits reach
    try:
        os.utime(p, (far, far))
    except (OverflowError, OSError):
        pytest.skip("this filesystem cannot store such a date")
    first = share.push()
    assert first["added"] == ["future.txt"]
    assert share.push()["batch"] is None  # unchanged: not read again
    p.write_text("changed in the future\n")
    os.utime(p, (far, far))
    assert share.push()["modified"] == ["future.txt"]


def test_restore_then_restore_another_version_needs_no_force(share: Share) -> None:
    """The working file holds a pushed version (restored, never edited): nothing to lose, no --force."""
    for text in ("one\n", "two, longer\n", "three, longest of all\n"):
        share.write("notes.txt", text)
        share.push()
    share.fog("restore", "notes.txt@~2")
    assert (share.root / "notes.txt").read_text() == "one\n"
    share.fog("restore", "notes.txt@~1")  # the file is byte for byte version ~2: saved
    assert (share.root / "notes.txt").read_text() == "two, longer\n"
    share.fog("restore", "notes.txt@~0")
    assert (share.root / "notes.txt").read_text() == "three, longest of all\n"
    share.fog("restore", "notes.txt@~2")
    share.write("notes.txt", "one, edited and never pushed\n")  # now there is something to lose
    share.fog("restore", "notes.txt@~1", expect=1).one_line_error()
    assert (share.root / "notes.txt").read_text() == "one, edited and never pushed\n"
    # a deleted file put back by a restore is a pushed version too
    share.fog("restore", "notes.txt@~1", "--force")
    (share.root / "notes.txt").unlink()
    share.push()
    share.fog("restore", "notes.txt@~1")
    share.fog("restore", "notes.txt@~3")
    assert (share.root / "notes.txt").read_text() == "one\n"
