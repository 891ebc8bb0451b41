"""A share reached through a symlinked directory (~/notes -> /data/notes, review 7): a path in it is in the
share under either spelling, whichever one the shell's $PWD, a pasted path or `-C` gave."""

from __future__ import annotations

import os
from pathlib import Path

from fogcli import Share, run_fog


def _linked(share: Share) -> Path:
    share.write("todo.txt", "one\n")
    share.push()
    share.write("todo.txt", "two\n")
    share.push()
    link = share.tmp / "notes"
    link.symlink_to(share.root, target_is_directory=True)
    return link


def test_paths_spelled_through_the_link_are_in_the_share(share: Share) -> None:
    link = _linked(share)
    for cwd, path in ((share.root, link / "todo.txt"), (link, link / "todo.txt"), (link, "todo.txt")):
        assert [e["size"] for e in run_fog(["log", "--json", path], cwd).json()] == [4, 4], (cwd, path)
        assert run_fog(["log", "--json", path], cwd, subprocess_=True).json()[0]["size"] == 4  # (the fast path)
        assert run_fog(["cat", f"{path}@~1"], cwd).out == "one\n"
    run_fog(["restore", f"{link / 'todo.txt'}@~1", "-o", share.tmp / "out.txt"], share.root)
    assert (share.tmp / "out.txt").read_text() == "one\n"
    # the root itself, named through the link: the whole share (`forget` takes it as everything)
    assert run_fog(["log", link], share.root).rc == 0
    r = run_fog(["forget", link / "todo.txt", "--dry-run"], share.root, expect=None)
    assert "outside the share" not in r.err, r


def test_C_through_the_link_takes_physical_paths(share: Share) -> None:
    link = _linked(share)
    real = share.root / "todo.txt"
    assert [e["size"] for e in run_fog(["-C", link, "log", "--json", real], share.tmp).json()] == [4, 4]
    assert run_fog(["-C", link, "cat", f"{real}@~1"], share.tmp).out == "one\n"
    assert run_fog(["-C", link, "log", "--json", link / "todo.txt"], share.tmp).json()[0]["size"] == 4
    # outside the share under both spellings: still refused
    (share.tmp / "elsewhere.txt").write_text("x\n")
    r = run_fog(["-C", link, "log", share.tmp / "elsewhere.txt"], share.tmp, expect=2)
    assert "outside the share" in r.one_line_error()


def test_a_symlink_in_the_share_is_named_not_followed(share: Share) -> None:
    share.write("real/f.txt", "f\n")
    os.symlink("real", share.root / "alias")
    share.push()
    link = _linked(share)
    for spelled in (share.root / "alias", link / "alias", Path("alias")):
        doc = run_fog(["log", "--json", spelled], share.root).json()
        assert {e["path"] for e in doc} == {"alias"} and doc[0]["kind"] == "link", (spelled, doc)
