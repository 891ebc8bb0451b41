"""No share inside a share, and no `.fog` entry ever synced (issue 14, item B)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fogcli import Share, run_fog

# -- init and clone refuse to nest ------------------------------------------------------------


def test_init_inside_a_share_is_refused(share: Share) -> None:
    (share.root / "sub" / "deeper").mkdir(parents=True)
    for target in (share.root / "sub", share.root / "sub" / "deeper", share.root / "new"):
        r = run_fog(["init", target, "--remote", share.tmp / "r2"], share.tmp, expect=2)
        line = r.one_line_error()
        assert "inside the fog share" in line and str(share.root) in line, line
        assert not (target / ".fog").exists()


def test_init_above_a_share_is_refused(share: Share) -> None:
    r = run_fog(["init", share.tmp, "--remote", share.tmp.parent / "elsewhere"], share.tmp, expect=2)
    line = r.one_line_error()
    assert "holds the fog share" in line and str(share.root) in line, line
    assert not (share.tmp / ".fog").exists()


def test_clone_inside_a_share_is_refused(share: Share) -> None:
    r = run_fog(["clone", share.remote, share.root / "copy", "--master-key-file", share.key_file], share.tmp, expect=2)
    assert "inside the fog share" in r.one_line_error()
    assert not (share.root / "copy").exists()


def test_a_remote_inside_another_share_is_refused(share: Share) -> None:
    """`init b -r a/rr` with `a` a share: exit 0, and share a then pushed share b's store (new-user review).
    A local remote anywhere inside a share (a directory with .fog/ above it) is refused by init, clone,
    remote add and remote set-url."""
    share.write("x", "x\n")
    share.push()
    for remote in (share.root / "rr", share.root, share.root / "sub" / "deeper", share.root / ".fog" / "r"):
        r = run_fog(["init", share.tmp / "b", "--remote", remote], share.tmp, expect=2)
        line = r.one_line_error()
        assert "inside the fog share" in line and str(share.root) in line, line
        assert not (share.tmp / "b").exists() and not (share.root / "rr").exists()
    link = share.tmp / "link"
    link.symlink_to(share.root)
    r = run_fog(["init", share.tmp / "b", "--remote", f"file://{link}/rr"], share.tmp, expect=2)
    assert "inside the fog share" in r.one_line_error()
    # clone from a store someone keeps inside a share: refused too
    (share.root / "kept").mkdir()
    os.rename(share.remote, share.root / "kept" / "remote")
    r = run_fog(
        ["clone", share.root / "kept" / "remote", share.tmp / "c", "--master-key-file", share.key_file],
        share.tmp,
        expect=2,
    )
    assert "inside the fog share" in r.one_line_error()
    assert not (share.tmp / "c").exists()
    os.rename(share.root / "kept" / "remote", share.remote)
    (share.root / "kept").rmdir()
    # a second share of this user: its remotes must not go inside the first share either
    run_fog(["init", share.tmp / "b", "--remote", share.tmp / "rb"], share.tmp)
    b = share.tmp / "b"
    for args in (
        ["remote", "add", "usb", share.root / "usb"],
        ["remote", "set-url", "origin", share.root / "moved"],
        ["remote", "set-url", "origin", "--local", share.root / "moved"],
    ):
        line = run_fog(args, b, expect=2).one_line_error()
        assert "inside the fog share" in line and str(share.root) in line, line
    assert not (share.root / "usb").exists() and not (share.root / "moved").exists()
    run_fog(["remote", "add", "usb", share.tmp / "usb"], b)  # outside every share: fine
    assert "Nothing to push" in share.fog("push").out


# -- push never uploads another share's .fog ---------------------------------------------------


def _nested_by_hand(share: Share) -> Path:
    """A nested share as an older fog (or a user) made it: DIR/inner/.fog/ with its database."""
    inner = share.root / "inner"
    (inner / ".fog" / "db").mkdir(parents=True)
    (inner / ".fog" / "config.json").write_text("{}")
    (inner / ".fog" / "lock").write_bytes(b"")
    (inner / "file.txt").write_text("inner file\n")
    return inner


def test_push_skips_a_nested_share_and_says_so(share: Share) -> None:
    share.write("top.txt", "top\n")
    _nested_by_hand(share)
    share.write("plain/.fog", "a file named .fog\n")  # any `.fog` entry is never synced
    share.write("plain/keep.txt", "kept\n")
    status = share.fog("status", "--json").json()
    assert status["added"] == ["plain", "plain/keep.txt", "top.txt"], status
    assert any(s.startswith("inner: nested fog share") for s in status["skipped"]), status
    r = share.fog("push")
    assert "fog: skipped inner: nested fog share: not synced" in r.err, r.err
    doc = share.push()  # a second push: nothing new, still skipped
    assert doc["added"] == [] and any("nested fog share" in s for s in doc["skipped"])
    logged = {e["path"] for e in share.fog("log", "--json").json()}
    assert logged == {"plain", "plain/keep.txt", "top.txt"}, logged


def test_a_directory_that_becomes_a_share_keeps_its_history(share: Share) -> None:
    share.write("inner/file.txt", "before\n")
    share.push()
    _nested_by_hand(share)
    doc = share.push()
    assert doc["deleted"] == [] and doc["added"] == [], doc  # neither deleted nor uploaded


# -- pull never writes into a .fog directory -----------------------------------------------------


def _publish_fog_paths(share: Share) -> None:
    """Publish versions whose paths have a `.fog` component, as a buggy or older fog could."""
    from fog import api
    from fog.format.version import Version
    from fog.sync.push import publish

    home = Path(__import__("os").environ["FOG_HOME"])
    with api.context(home, share.root) as ctx:
        now = time.time_ns()
        device = ctx.ident.device_id
        versions = [
            ctx.seal_version(Version("sub", "dir", 0, 0o755, 0, now, device)),
            ctx.seal_version(Version("sub/.fog", "dir", 0, 0o755, 0, now, device)),
            ctx.seal_version(Version("sub/.fog/config.json", "file", 0, 0o644, now, now, device)),
            ctx.seal_version(Version(".fog/evil", "file", 0, 0o644, now, now, device)),
        ]
        db = ctx.share.db
        with db.write() as txn:
            db.add_unknown_versions(txn, versions)
            db.add_pending(txn, [ctx.remote_name], [v.id for v in versions])
        assert publish(ctx, [ctx]) is not None


def test_pull_never_writes_into_a_fog_directory(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("a.txt", "a\n")
    share.push()
    _publish_fog_paths(share)
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home-b"))
    r = run_fog(["clone", share.remote, tmp_path / "b", "--master-key-file", share.key_file], tmp_path)
    b = tmp_path / "b"
    assert (b / "a.txt").read_text() == "a\n" and (b / "sub").is_dir()
    assert not (b / "sub" / ".fog").exists() and not (b / ".fog" / "evil").exists()
    assert "sub/.fog/config.json: not written: a path inside a .fog directory is never synced" in r.err, r.err
    doc = run_fog(["pull", "--json"], b).json()
    assert doc["skipped"] == []  # reported once, by the pull that met them
    r = run_fog(["restore", "sub/.fog/config.json"], b, expect=2)
    assert ".fog" in r.one_line_error()
    assert not (b / "sub" / ".fog").exists()
