"""One checkout per share and device (fog.repo.checkouts): `init` registers its own, and a refused
clone leaves nothing behind (new-user review)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fogcli import Share, run_fog


def test_init_registers_its_checkout_so_a_clone_under_the_same_home_is_refused(share: Share) -> None:
    """`init` then `clone` with one FOG_HOME: the clone took the share, and the original share was locked
    out of every command ("this device already has this share at .../notes2")."""
    recorded = json.loads((Path(os.environ["FOG_HOME"]) / "checkouts.json").read_text())
    assert list(recorded.values()) == [str(share.root.resolve())]
    second = share.tmp / "second"
    r = run_fog(["clone", share.remote, second, "--master-key-file", share.key_file], share.tmp, expect=1)
    line = r.one_line_error()
    assert "already has this share at" in line and str(share.root) in line, line
    assert not second.exists()  # nothing made: as for a wrong key or a missing remote
    share.write("todo.txt", "todo\n")
    share.fog("status")
    share.push()


def test_a_refused_clone_leaves_no_directory(share: Share) -> None:
    share.fog("status")  # (the checkout is in use)
    for target in (share.tmp / "d2", share.tmp / "deeper" / "d3"):
        r = run_fog(["clone", share.remote, target, "--master-key-file", share.key_file], share.tmp, expect=1)
        assert "already has this share" in r.one_line_error()
        assert not target.exists() and not (share.tmp / "deeper").exists()
    empty = share.tmp / "empty"
    empty.mkdir()  # an empty directory the user made stays as it was
    run_fog(["clone", share.remote, empty, "--master-key-file", share.key_file], share.tmp, expect=1)
    assert empty.is_dir() and not any(empty.iterdir())


def test_init_again_where_fog_was_lost_names_clone_into_existing(share: Share) -> None:
    """review 7 newuser 9: `.fog/` lost or moved aside, `fog init DIR` again said "give this one another name
    with --name", and following it made a second share of the same files. The way back is said instead."""
    share.write("a.txt", "a\n")
    share.push()
    (share.root / ".fog").rename(share.tmp / "fog-damaged")
    r = run_fog(["init", share.root, "--remote", share.remote], share.tmp, expect=2)
    line = r.one_line_error()
    assert "--into-existing" in line and "--name" not in line and str(share.root) in line, line
    assert not (share.root / ".fog").exists()
    elsewhere = share.tmp / "other"  # another directory: a second share of that name is still the question
    r = run_fog(["init", elsewhere, "--remote", share.remote, "--name", share.root.name], share.tmp, expect=2)
    assert "--name" in r.one_line_error()


def test_clone_again_with_the_same_fog_home_writes_this_devices_own_files(share: Share) -> None:
    """The checkout deleted, then cloned again under the same FOG_HOME: the clone adopted this device's own
    batches as a push killed after publishing is adopted (recorded as current, never written): an empty
    directory, and status said "Nothing to push" (found while fixing review 7's copied FOG_HOME)."""
    share.write("a.txt", "a\n")
    share.write("sub/b.txt", "b\n")
    share.push()
    share.write("a.txt", "a2\n")
    share.push()
    import shutil

    shutil.rmtree(share.root)
    again = share.tmp / "again"
    run_fog(["clone", share.remote, again, "--master-key-file", share.key_file], share.tmp)
    assert (again / "a.txt").read_text() == "a2\n" and (again / "sub" / "b.txt").read_text() == "b\n"
    assert run_fog(["-C", again, "status", "--json"], share.tmp).json()["clean"]
    log = run_fog(["-C", again, "log", "a.txt", "--json"], share.tmp).json()
    assert len(log) == 2 and log[0]["current"]
    (again / "a.txt").write_text("a3\n")
    assert run_fog(["-C", again, "push", "--json"], share.tmp).json()["modified"] == ["a.txt"]
