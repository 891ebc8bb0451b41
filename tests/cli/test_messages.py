"""Messages that named the wrong thing (attacker review, minor items)."""

from __future__ import annotations

import os

import pytest
from fogcli import Share


def test_diff_and_cat_name_what_a_version_is(share: Share) -> None:
    share.write("d/a.txt", "a\n")
    share.write("f.txt", "f\n")
    os.symlink("d", share.root / "ln")
    share.push()
    (share.root / "f.txt").unlink()
    share.push()
    line = share.fog("diff", "ln@~0", "d@~0", expect=1).one_line_error()
    assert "ln@" in line and "is a symlink" in line and "d@" in line and "is a directory" in line, line
    assert "ln is a directory" not in line
    line = share.fog("cat", "f.txt", expect=1).one_line_error()
    assert line.startswith("fog: f.txt is deleted at that version (") and "a deleted" not in line, line
    assert "is a directory, not a file" in share.fog("cat", "d", expect=1).one_line_error()
    assert "is a symlink, not a file" in share.fog("cat", "ln", expect=1).one_line_error()
    assert share.fog("cat", "f.txt@~1").out == "f\n"


def test_log_of_a_file_with_a_config_that_is_not_an_object_is_one_line(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path (fog.cli.fast) said "internal error: AttributeError: 'list' object has no attribute 'get'"."""
    share.write("f.txt", "f\n")
    share.push()
    config = share.root / ".fog" / "config.json"
    config.write_text("[]")
    for extra in ((), ("--json",)):
        fast = share.fog("log", "f.txt", *extra, expect=1, sub=True)
        assert "internal error" not in fast.err and "a JSON object was expected" in fast.one_line_error(), fast
        with monkeypatch.context() as m:
            m.setenv("FOG_NO_FAST", "1")
            full = share.fog("log", "f.txt", *extra, expect=1, sub=True)
        assert fast.err == full.err
