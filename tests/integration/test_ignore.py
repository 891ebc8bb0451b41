"""Ignore rules: .fogignore files (gitignore syntax, in any directory) and built-in defaults (issue 19)."""

from __future__ import annotations

import os
from pathlib import Path

from fogcli import Share, run_fog
from test_multidevice import World, make_pair

from fog.repo.db import RepoDB
from fog.sync.ignore import Ignore
from fog.sync.scan import scan


def test_defaults_leave_editor_and_desktop_litter_out(share: Share) -> None:
    for rel in ("notes.txt", "notes.txt~", ".notes.txt.swp", ".DS_Store", "sub/.#notes.txt", "sub/#notes.txt#"):
        share.write(rel, "x\n")
    doc = share.push()
    assert sorted(doc["added"]) == ["notes.txt", "sub"]
    status = share.fog("status", "--json", "--ignored").json()
    assert status["clean"]
    assert status["ignored"] == [".DS_Store", ".notes.txt.swp", "notes.txt~", "sub/#notes.txt#", "sub/.#notes.txt"]
    assert "ignored" not in share.fog("status", "--json").json()
    text = share.fog("status", "--ignored").out
    assert "  ! notes.txt~" in text and "  ! .DS_Store" in text
    assert "notes.txt~" not in share.fog("status").out
    # a .fogignore re-includes a default
    share.write(".fogignore", "!*~\n")
    assert sorted(share.push()["added"]) == [".fogignore", "notes.txt~"]


def test_fogignore_in_any_directory_is_relative_to_it(share: Share) -> None:
    share.write(".fogignore", "*.log\n!keep.log\nbuild/\n/top-only.txt\n")
    share.write("sub/.fogignore", "*.tmp\n!again.log\n")
    files = [
        "a.log", "keep.log", "build/out.o", "build/deep/x", "top-only.txt", "sub/top-only.txt", "sub/b.log",
        "sub/again.log", "sub/c.tmp", "c.tmp", "other/build/y", "src/build.txt",
    ]  # fmt: skip
    for rel in files:
        share.write(rel, rel)
    doc = share.push()
    pushed = {p for p in doc["added"] if not (share.root / p).is_dir()}
    assert pushed == {
        ".fogignore", "sub/.fogignore", "keep.log", "sub/top-only.txt", "sub/again.log", "c.tmp", "src/build.txt"
    }  # fmt: skip
    ignored = share.fog("status", "--json", "--ignored").json()["ignored"]
    assert ignored == ["a.log", "build/", "other/build/", "sub/b.log", "sub/c.tmp", "top-only.txt"]  # dirs not entered


def test_an_ignored_path_keeps_its_history_and_is_no_longer_pushed(share: Share) -> None:
    share.write("app.log", "first\n")
    share.write("notes.txt", "n\n")
    share.push()
    share.write(".fogignore", "*.log\n")
    assert share.push()["added"] == [".fogignore"]
    share.write("app.log", "second, never pushed\n")
    assert share.fog("status", "--json").json()["clean"]
    (share.root / "app.log").unlink()  # nor its deletion
    doc = share.push()
    assert doc["modified"] == doc["deleted"] == [] and doc["batch"] is None
    assert [e["deleted"] for e in share.log("app.log")] == [False]
    share.fog("restore", "app.log")
    assert (share.root / "app.log").read_text() == "first\n"
    # the rule goes: the file is synced again
    (share.root / ".fogignore").unlink()
    share.write("app.log", "third\n")
    assert share.push()["modified"] == ["app.log"]


def test_pull_records_but_does_not_write_an_ignored_path(tmp_path: Path) -> None:
    world = World(tmp_path, tmp_path / "remote", tmp_path / "master.key")
    a = world.init("laptop")
    a.write("data.csv", "v1\n")
    a.write("notes.txt", "n\n")
    a.push()
    b = world.clone("desktop")
    b.write(".fogignore", "*.csv\n")  # this device's rule, not pushed yet
    a.write("data.csv", "v2 from the laptop\n")
    a.push()
    r = b.pull()
    assert "data.csv: ignored here" in r.err
    assert b.read("data.csv") == "v1\n"  # left alone
    assert [e["size"] for e in b.fog("log", "data.csv", "--json").json()][0] == len("v2 from the laptop\n")
    assert "ignored here" not in b.pull().err  # said once
    (b.root / ".fogignore").unlink()
    b.pull()  # the rule is gone: the version is applied
    assert b.read("data.csv") == "v2 from the laptop\n"
    assert b.fog("status", "--json").json()["clean"]


def test_scan_prunes_ignored_directories_and_reads_each_fogignore_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "tree"
    for d in range(20):
        for f in range(20):
            p = root / f"d{d}" / f"f{f}.txt"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("x")
        (root / f"d{d}" / ".fogignore").write_text("f1*.txt\n")
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "node_modules" / "pkg" / "index.js").write_text("x")
    (root / ".fogignore").write_text("node_modules/\n")
    opened: list[str] = []
    real_read = Ignore._read

    def counting(self, rel_dir):  # type: ignore[no-untyped-def]
        opened.append(rel_dir)
        return real_read(self, rel_dir)

    monkeypatch.setattr(Ignore, "_read", counting)
    db = RepoDB(tmp_path / "db")
    with db.stat_view() as index:
        d = scan(root, index)
    assert sorted(opened) == sorted(["", *(f"d{i}" for i in range(20))])  # only where a .fogignore is
    assert "node_modules/" in d.ignored and not any(p.startswith("node_modules/pkg") for p in d.ignored)
    names = {e.path for e in d.candidates}
    assert "d3/f2.txt" in names and "d3/f12.txt" not in names and "d3/f1.txt" not in names
    db.close()


def status(share: Share) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    """`fog status --json --ignored` in its own process (one that hangs fails the test): its document
    and what it skipped."""
    doc = run_fog(["status", "--json", "--ignored"], share.root, subprocess_=True, timeout=60).json()
    return doc, doc["skipped"]


def test_a_fogignore_that_is_not_a_regular_file_is_not_read(share: Share, tmp_path: Path) -> None:
    """Another device can plant `.fogignore -> /dev/zero` (links are synced): it was read to the end
    (memory without bound), and a FIFO hung every status and push."""
    share.write("a.txt", "a\n")
    share.write("b.log", "b\n")
    os.mkfifo(share.root / ".fogignore")
    doc, err = status(share)  # (the old code blocked on the FIFO: TimeoutExpired)
    assert ".fogignore: not a regular file: its rules are not used" in err
    assert sorted(doc["added"]) == ["a.txt", "b.log"]
    (share.root / ".fogignore").unlink()
    outside = tmp_path / "elsewhere"
    outside.write_text("*.txt\n")
    (share.root / ".fogignore").symlink_to(outside)  # (to /dev/zero it is the same: never opened)
    doc, err = status(share)
    assert err == [".fogignore: a symbolic link, not a regular file: its rules are not used"]
    assert "a.txt" in doc["added"] and doc["ignored"] == []
    said = share.fog("status", sub=True).err.splitlines()
    assert said == ["fog: skipped .fogignore: a symbolic link, not a regular file: its rules are not used"]
    (share.root / ".fogignore").unlink()
    (share.root / "sub").mkdir()
    (share.root / "sub" / ".fogignore").symlink_to("/dev/zero")
    share.write(".fogignore", "*.log\n" + "#" * (1 << 20))  # larger than 1 MiB: not used either
    doc, err = status(share)
    assert sorted(err) == [
        ".fogignore: larger than 1 MiB: its rules are not used",
        "sub/.fogignore: a symbolic link, not a regular file: its rules are not used",
    ]
    assert "b.log" in doc["added"]
    share.write(".fogignore", "*.log\n")
    share.push()
    assert share.fog("status", "--json", "--ignored").json()["ignored"] == ["b.log"]


def test_a_pattern_cannot_make_matching_hang(share: Share) -> None:
    """`*a*a*...*b` against a long name backtracked exponentially (pathspec's `[^/]*` per star), and
    `a/**/a/**/...` against a deep path polynomially with the number of `**`: status never ended."""
    share.write(".fogignore", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/c\n*.log\n")
    share.write("a" * 60, "x\n")
    deep = "/".join(["a"] * 60)
    share.write(f"{deep}/f", "x\n")
    share.write("x.log", "x\n")
    share.write("a" * 20 + "b", "x\n")
    share.write("a/a/a/a/a/a/a/a/c", "x\n")
    doc, err = status(share)
    assert not err
    assert doc["ignored"] == ["a/a/a/a/a/a/a/a/c", "a" * 20 + "b", "x.log"]
    assert "a" * 60 in doc["added"] and f"{deep}/f" in doc["added"]
    r = run_fog(["push", "--json"], share.root, subprocess_=True, timeout=60)
    assert f"{deep}/f" in r.json()["added"]


def test_a_bad_line_is_left_out_with_one_notice_and_the_others_apply(tmp_path: Path) -> None:
    """`!`, a trailing backslash and `[z-a]` made every status, push and pull fail ("internal error")."""
    world = World(tmp_path, tmp_path / "remote", tmp_path / "master.key")
    a = world.init("laptop")
    a.write(".fogignore", "!\n*.log\n\\\n[z-a]\n")
    for i in range(5):
        a.write(f"f{i}.log", "x\n")
        a.write(f"f{i}.txt", "x\n")
    doc = a.fog("status", "--json", "--ignored").json()
    assert doc["ignored"] == [f"f{i}.log" for i in range(5)]
    assert a.fog("status").err.splitlines() == [
        "fog: skipped .fogignore line 1: '!': not a valid pattern (an empty pattern)",
        "fog: skipped .fogignore line 3: '\\\\': not a valid pattern (a trailing backslash escapes nothing)",
        "fog: skipped .fogignore line 4: '[z-a]': not a valid pattern (bad character range z-a in [z-a])",
    ]  # once each, not once a path
    a.push()
    b = world.clone("desktop")
    assert sorted(p.name for p in b.root.iterdir() if p.name != ".fog") == [
        ".fogignore", *(f"f{i}.txt" for i in range(5))
    ]  # fmt: skip
    a.write("f9.txt", "x\n")
    a.write("f9.log", "x\n")
    a.push()
    r = b.pull()
    assert ".fogignore line 4: '[z-a]': not a valid pattern" in r.err
    assert b.read("f9.txt") == "x\n" and not (b.root / "f9.log").exists()


def test_a_rule_that_matches_fogignore_itself_does_not_stop_the_rules_from_syncing(tmp_path: Path) -> None:
    """`.*` ("no dotfiles") matched `.fogignore` too: the new rules were never pushed, and the other device
    went on pushing its dotfiles (review 5, semantics S11). The rules themselves are never ignored."""
    a, b = make_pair(World(tmp_path, tmp_path / "remote", tmp_path / "master.key"))
    a.write(".fogignore", "*.tmp\n")
    a.push()
    b.pull()
    a.write(".fogignore", "*.tmp\n.*\n")
    a.fog("push")
    b.pull()
    assert b.read(".fogignore") == "*.tmp\n.*\n"
    b.write(".secret-env", "TOKEN=1\n")
    b.write("sub/.fogignore", "x\n")
    doc = b.fog("status", "--json", "--ignored").json()
    assert ".secret-env" in doc["ignored"] and "sub/.fogignore" in doc["added"], doc


def test_a_deletion_made_while_ignored_is_not_published_when_the_rule_goes(tmp_path: Path) -> None:
    """README: while a path is ignored "its edits and even its deletion stay on this device". A directory
    deleted while ignored was published as deleted, and deleted on every device, once the rule was
    lifted (review 5, semantics S10)."""
    a, b = make_pair(World(tmp_path, tmp_path / "remote", tmp_path / "master.key"))
    for i in range(5):
        a.write(f"data/d{i}", f"data {i}\n")
    a.push()
    b.pull()
    a.write(".fogignore", "data/\n")
    a.push()
    b.pull()
    import shutil

    shutil.rmtree(a.root / "data")
    assert a.fog("status", "--json").json()["clean"]
    a.fog("push")
    (a.root / ".fogignore").unlink()
    doc = a.fog("status", "--json").json()
    assert doc["deleted"] == [".fogignore"], doc
    a.fog("push")
    b.pull()
    assert sorted(p.name for p in (b.root / "data").iterdir()) == [f"d{i}" for i in range(5)]
    b.write("data/d0", "edited on b\n")
    b.fog("push")
    a.pull()
    assert a.read("data/d0") == "edited on b\n"
